/* server.h: what the master sets up before forking, handed to each role. */
#ifndef SWX_SERVER_H
#define SWX_SERVER_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "shm.h"
#include "swx_plugin.h"

/* A worker's exit status when a plugin refused to start (back-off applies). */
#define WORKER_EXIT_START_FAILED 3

typedef struct server {
    config_t cfg;
    int *listen_fds;    /* one per config listener */
    int (*chan_fds)[2]; /* [worker * reactor_num + reactor]: 0 reactor end,
                           1 worker end */
    shm_t *shm;
    int admin_fd;       /* -1 when there is no admin endpoint */
    uid_t uid;          /* workers drop to these; -1 = stay */
    gid_t gid;
    pid_t master_pid;
    pid_t manager_pid;
} server_t;

/* Signals the master passes on to the manager, and it to every worker. */
#define SIGNAL_REOPEN (SIGRTMIN)

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

#endif
