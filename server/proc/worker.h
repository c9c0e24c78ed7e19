/* worker.h: a worker's own send path, for the server code that runs in it
 * (HTTP responses, WebSocket pushes): messages about a session go straight
 * to the channel of the reactor that owns it. Plugins use swx_send. */
#ifndef SWX_WORKER_H
#define SWX_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ipc/ipc.h"
#include "plugin/api.h"
#include "proc/server.h"

/* Send a message of type (ipc/ipc.h, http/http_msg.h) made of the bytes of
 * iov[0..n), without copying them into one buffer first. 0, -ENOTCONN for
 * a session of no reactor, -ENOTSUP outside a worker, or -errno. */
int worker_sendv(uint64_t session, int type, const struct iovec *iov, int n);
/* The same for one buffer. */
int worker_send_msg(uint64_t session, int type, const void *data,
                    size_t len);
/* buffer_output_size: the largest message a reactor takes; 0 outside a
 * worker. */
size_t worker_output_max(void);

/* What worker.c shares with the base-mode worker (worker_base.c). */
/* Run the plugin for one message from a reactor or, in base mode, from a
 * connection of this worker's. */
void worker_handle(const ipc_msg_t *m);
/* Before the first coroutine (both modes): the variables of a message's
 * dispatch that each coroutine keeps its own copy of. */
void worker_coro_setup(void);
/* Messages counted towards max_request. */
long worker_requests(void);
/* The retiring worker's plugins wind down their timers and fds
 * (on_worker_exit), up to max_wait_time. */
void worker_wind_down(void);
extern const api_ops_t worker_ops;

/* worker_full.c: send_yield on the connection's output (process mode). In
 * a coroutine, a message of type with len bytes for session's client
 * waits while its reactor reports the output full: 0, -ETIMEDOUT
 * (timeout_secs, 0 none), -ECANCELED (stop, reload), -ENOTCONN (the
 * connection closed). 0 at once outside a coroutine. */
int worker_full_wait(uint64_t session, int type, size_t len,
                     int timeout_secs);
/* IPC_OUTPUT_FULL or IPC_OUTPUT_DRAINED from a reactor. */
void worker_full_notice(const ipc_msg_t *m);
/* The loop read a channel: a notice would have been seen. */
void worker_full_looked(void);
/* The session closed (IPC_CLOSE): its waiting senders get -ENOTCONN. */
void worker_full_gone(uint64_t session);

/* worker_base.c: a worker in base mode; never returns. */
void worker_base_run(server_t *srv, int id, int standby, int notify_fd)
    __attribute__((noreturn));
/* worker_sendv in base mode: to a connection of this worker's, or through
 * the mailbox of the worker that owns the session. */
int worker_base_sendv(uint64_t session, int type, const struct iovec *iov,
                      int n);
/* Base mode: this worker stops accepting at once, serves its open
 * connections to the end (HTTP with Connection: close) up to
 * max_wait_time, then exits and the manager starts another: what
 * max_request does, for any reason to recycle a worker; why is logged. */
void worker_base_leave(const char *why);
/* Leave for good (max_request, reload_on_rss): worker_base_leave, and the
 * slot goes to a new worker at once while this one serves what it has
 * open, as an old worker after a reload. */
void worker_base_recycle(const char *why);
/* Whether this process is a base-mode worker. */
int worker_base_running(void);

#endif
