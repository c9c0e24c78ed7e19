/* server.h: what the master sets up before forking, handed to each role. */
#ifndef SWX_SERVER_H
#define SWX_SERVER_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "plugin/atomics.h"
#include "core/config.h"
#include "ipc/ipc.h"
#include "ipc/shm.h"
#include "core/session.h"
#include "plugin/table.h"
#include "swx_plugin.h"

/* A worker's exit status when a plugin refused to start (back-off applies). */
#define WORKER_EXIT_START_FAILED 3

typedef struct server {
    config_t cfg;
    int *listen_fds;    /* one per config listener */
    int (*chan_fds)[2]; /* [worker * reactor_num + reactor]: 0 reactor end,
                           1 worker end */
    ipc_shared_t *chan_shared; /* [the same]: the worker ends' batches,
                           shared memory (ipc_share) */
    shm_t *shm;
    int admin_fd;       /* -1 when there is no admin endpoint */
    uid_t uid;          /* workers drop to these; -1 = stay */
    gid_t gid;
    pid_t master_pid;
    pid_t manager_pid;

    int nprocs;           /* workers, then task workers, then "processes" */
    int (*mbox_fds)[2];   /* [process id]: 0 read by it, 1 by the others */
    int taskq_fds[2];     /* task_ipc_mode 3: the shared task queue */
    int lanes;            /* base mode: lanes per worker slot, else 0 */
    int (*lane_fds)[2];   /* base mode: [slot + worker_num * k]: the inbox
                             of the worker process on lane k of the slot
                             for messages routed to its sessions, which it
                             reads until it exits (a retiring one too):
                             0 read by it, 1 by the others */
    int lane;             /* base mode: the lane of the worker the manager
                             forks next (set before each fork) */
    table_t **tables;     /* [config table], in shared memory */
    atomics_t *atomics;
} server_t;

/* Base mode: a worker's sessions name its lane (session_reactor), not
 * only its slot, so that a worker that retired after a reload or
 * max_request still gets what is sent to its connections while its
 * successor in the slot serves the new ones: up to this many processes of
 * one slot at once, within the 256 ids a session can name. */
#define SERVER_LANES_MAX 4

static inline int server_lanes(const config_t *c)
{
    if (c->mode != SERVER_MODE_BASE || c->worker_num <= 0)
        return 0;
    int k = SESSION_MAX_REACTORS / c->worker_num;
    return k > SERVER_LANES_MAX ? SERVER_LANES_MAX : k < 1 ? 1 : k;
}

/* The lane id (a session's reactor byte) of lane k of worker slot id. */
static inline int server_lane_id(const server_t *s, int id, int k)
{
    return id + s->cfg.worker_num * k;
}

/* The room for named counters (swx_atomic). */
#define SERVER_ATOMICS 1024

enum proc_kind {
    PROC_WORKER,
    PROC_TASK,
    PROC_USER,
};

static inline int server_kind(const server_t *s, int id)
{
    if (id < s->cfg.worker_num)
        return PROC_WORKER;
    return id < s->cfg.worker_num + s->cfg.task_worker_num ? PROC_TASK
                                                           : PROC_USER;
}

/* The config "processes" entry of user process id, and its index among
 * that entry's count. */
static inline int server_user_process(const server_t *s, int id, int *index)
{
    int n = id - s->cfg.worker_num - s->cfg.task_worker_num;
    for (int i = 0; i < s->cfg.nprocesses; i++) {
        if (n < s->cfg.processes[i].count) {
            *index = n;
            return i;
        }
        n -= s->cfg.processes[i].count;
    }
    return -1;
}

/* A config table's columns as table_create takes them (ncolumns <= 64). */
static inline void server_table_columns(const config_table_t *t,
                                        table_column_t *cols)
{
    for (int j = 0; j < t->ncolumns; j++)
        cols[j] = (table_column_t){t->columns[j].name,
                                   (table_type_t)(t->columns[j].type + 1),
                                   (uint32_t)t->columns[j].size};
}

static inline int server_count_procs(const config_t *c)
{
    int n = c->worker_num + c->task_worker_num;
    for (int i = 0; i < c->nprocesses; i++)
        n += c->processes[i].count;
    return n;
}

/* Signals the master passes on to the manager, and it to every worker. */
#define SIGNAL_REOPEN (SIGRTMIN)

/* The manager tells the master of its state (sigqueue with the event as
 * the value), for the notifications to systemd (sdmaster.c). */
#define SIGNAL_MANAGER (SIGRTMIN + 1)

enum manager_event {
    MANAGER_READY = 1, /* every process has finished starting once */
    MANAGER_RELOADING, /* a reload began */
    MANAGER_RELOADED,  /* it ended: done */
    MANAGER_RELOAD_FAILED, /* it was called off: the old workers serve */
};

static inline int server_chan(const server_t *s, int worker, int reactor)
{
    return worker * s->cfg.reactor_num + reactor;
}

/* master.c: run the server until it stops; the process exit status. */
int master_run(server_t *srv);

/* manager.c: the manager process; never returns. */
void manager_run(server_t *srv) __attribute__((noreturn));

/* What a worker tells the manager through its notify pipe. */
enum worker_event {
    WORKER_READY = 1, /* a standby worker started its plugins */
    WORKER_RELEASED,  /* a retiring worker stopped reading its channels */
    WORKER_STARTED,   /* a serving process finished starting: every
                         on_worker_start returned (a user process: its
                         plugins are loaded, on_process_start is next) */
    WORKER_SERVING,   /* it took its first event (the crash back-off spares
                         a process that served) */
};

typedef struct worker_notice {
    int32_t id;
    int32_t event;
    int32_t pid;
} worker_notice_t;

/*
 * worker.c: a worker process; never returns. A standby worker loads its
 * plugins, reports WORKER_READY on notify_fd and waits for SIGUSR2 before it
 * reads its channels. SIGUSR1 makes a worker retire: it stops reading,
 * reports WORKER_RELEASED, finishes what it holds and exits.
 */
void worker_run(server_t *srv, int id, int standby, int notify_fd)
    __attribute__((noreturn));

/* taskworker.c: a task worker (same standby/retire protocol). */
void taskworker_run(server_t *srv, int id, int standby, int notify_fd)
    __attribute__((noreturn));

/* process.c: a plugin's own process ("processes" in the config). */
void process_run(server_t *srv, int id, int notify_fd)
    __attribute__((noreturn));

#endif
