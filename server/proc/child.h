/* child.h: what every process the manager forks (worker, task worker, user
 * process) sets up and shares: its loop, signals, mailbox and plugins, and
 * the standby, retiring and draining states of the reload protocol. */
#ifndef SWX_CHILD_H
#define SWX_CHILD_H

#include "event/loop.h"
#include "ipc/ipc.h"
#include "plugin/plugin.h"
#include "proc/server.h"

typedef struct child {
    int id;              /* process id: workers, task workers, processes */
    int kind;            /* enum proc_kind */
    server_t *srv;
    loop_t *loop;
    plugin_t *plugins;   /* [config plugin] */
    ipc_t inbox;         /* messages and results for this process */
    int notify_fd;       /* to the manager: worker_notice_t */
    int sigfd;
    int standby;         /* loaded, waiting for SIGUSR2 to serve */
    int retiring;        /* SIGUSR1: stop taking work, finish, exit */
    int released;        /* retiring and no longer taking work */
    int draining;        /* SIGTERM: finish what was sent, then stop */
    long long drain_deadline; /* ms */
    long handled;        /* messages handled, of every kind */
    int stopping;
    /* The role re-reads these states (SIGUSR1, SIGUSR2, SIGTERM). */
    void (*update)(void);
    /* Send what the role has gathered to send (a worker's batched
     * replies) before this process waits outside its loop; or NULL. */
    void (*flush)(void);
} child_t;

/* This process. */
extern child_t child;

/*
 * Set up a forked process for its role: title and log role, fds of other
 * processes closed, the loop, the signals, the mailbox. 0 or -1 (logged).
 */
int child_init(server_t *srv, int id, int standby, int notify_fd);
/* Load the plugins afresh and run on_worker_start (workers and task
 * workers); -1 when one failed (logged). */
int child_load_plugins(int call_start);
/* Tell the manager (WORKER_READY, WORKER_RELEASED, WORKER_STARTED). */
void child_notify(int event);
/* Count an event taken from a channel, the mailbox or the task queue; the
 * first one is reported to the manager (WORKER_SERVING). */
void child_count_event(void);
/* Whether the role may take new work now. */
/* The server is stopping or draining (shutdown_delay), or this process is
 * on its way out (a reload, max_request): HTTP responses ask their clients
 * to close. */
int child_winding_down(void);
int child_taking_work(void);
/* on_worker_stop, unload, free, exit. */
void child_exit(int status, int call_stop) __attribute__((noreturn));

#endif
