/* direct.h: the base-mode sink: a connection's messages go straight to
 * the plugin in this process, and its replies straight to the connection
 * (direct.c). */
#ifndef SWX_DIRECT_H
#define SWX_DIRECT_H

#include <stdint.h>
#include <sys/uio.h>

#include "core/buf.h"
#include "coro/chan.h"
#include "ipc/ipc.h"
#include "net/conn.h"

/* Runs the plugin for one message, as a worker does for one that came
 * over a channel (proc/worker.c). */
typedef void direct_handle_cb(const ipc_msg_t *m);

typedef struct direct {
    conn_engine_t *eng;
    direct_handle_cb *handle;
    int depth;         /* inside handle: replies wait for the loop */
    buf_t pending;     /* replies waiting: direct_rec_t, then the bytes */
    buf_t running;     /* the batch being delivered */
    buf_t flat;        /* a reply of several pieces, made one */
    int deferred;      /* direct_flush is due */
    coro_waitq_t drained; /* send_yield: coroutines waiting for output */
    int wake_deferred; /* direct_wake is due */
} direct_t;

extern const conn_sink_t direct_sink;

/* d is e's sink (e was set up with &direct_sink and d); handle runs the
 * plugin. */
void direct_init(direct_t *d, conn_engine_t *e, direct_handle_cb *handle);
void direct_free(direct_t *d);
/* A reply of type (IPC_SEND, IPC_CLOSE_REQ, a protocol's) about session,
 * one of e's, made of iov[0..n): delivered now, or, when a callback of
 * this engine is running (its protocol may be in the middle of a step),
 * from the loop right after it, in order. 0 or -ENOMEM. */
int direct_reply(direct_t *d, uint64_t session, int type,
                 const struct iovec *iov, int n);
/* A datagram (p, then len bytes) for the plugin of p->listener. */
void direct_packet(direct_t *d, swx_peer_t *p, size_t len);

#endif
