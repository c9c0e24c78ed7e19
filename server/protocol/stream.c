/* stream.c: the plain stream protocol: each read goes to a worker as
 * it is, or is cut into messages by the listener's framer (open_eof_split,
 * open_length_check). */
#include <errno.h>

#include "ipc/ipc.h"
#include "net/conn.h"
#include "core/log.h"
#include "protocol/framer.h"

static void stream_dispatch(conn_t *c, const char *data, size_t len)
{
    conn_submit(c, conn_route(c), IPC_RECEIVE, data, len, 1);
}

/* The log line for a message the framer refused, then the close. */
static void stream_refuse(conn_t *c, const framer_cfg_t *f, ssize_t why)
{
    uint64_t size;
    if (why == -EMSGSIZE &&
        framer_announced(f, buf_head(&c->in), buf_pending(&c->in), &size) == 0)
        log_warn("session %llu (peer %s): a message of %llu bytes is over "
                 "package_max_length %zu; closing",
                 (unsigned long long)c->session, c->peer,
                 (unsigned long long)size, f->package_max_length);
    else if (why == -EMSGSIZE)
        log_warn("session %llu (peer %s): no package_eof in %zu bytes, over "
                 "package_max_length %zu; closing",
                 (unsigned long long)c->session, c->peer,
                 buf_pending(&c->in), f->package_max_length);
    else
        log_warn("session %llu (peer %s): invalid length field (%zu bytes "
                 "buffered); closing", (unsigned long long)c->session,
                 c->peer, buf_pending(&c->in));
    conn_close(c, NULL);
}

/* Cut whole messages out of what the connection sent. */
static void stream_frame(conn_t *c, const char *data, size_t len)
{
    const framer_cfg_t *f = &conn_listener(c)->framer;
    conn_in_ready(c);
    if (buf_append(&c->in, data, len) < 0) {
        conn_close(c, "out of memory for the input buffer");
        return;
    }
    for (;;) {
        ssize_t n = framer_next(f, buf_head(&c->in), buf_pending(&c->in),
                                &c->scan);
        if (n == 0) {
            /* The framer's scan offset counts from the head, which
             * buf_trim keeps in place relative to the data. */
            buf_trim(&c->in, CONN_IN_KEEP);
            conn_in_idle(c);
            return;
        }
        if (n < 0) {
            stream_refuse(c, f, n);
            return;
        }
        stream_dispatch(c, buf_head(&c->in), (size_t)n);
        buf_consume(&c->in, (size_t)n);
    }
}

static void stream_input(conn_t *c, const char *data, size_t len)
{
    if (conn_listener(c)->framer.kind == FRAMER_RAW)
        stream_dispatch(c, data, len);
    else
        stream_frame(c, data, len);
}

static void stream_deliver(conn_t *c, const conn_msg_t *m)
{
    log_warn("session %llu: message type %d is not for a stream "
             "connection; dropped", (unsigned long long)c->session, m->type);
}

/* Its worker is backing off: what the client sends would wait for the
 * replacement, or be dropped, so the connection is closed. */
static void stream_worker_backoff(conn_t *c, const conn_backoff_t *b)
{
    if (!b->refused && (!conn_fixed(c) || c->worker != b->worker))
        return;
    log_warn("session %llu (peer %s): worker %d is backing off after "
             "failures (next start in %d s); closing",
             (unsigned long long)c->session, c->peer, b->worker,
             b->retry_after);
    conn_end(c, 1);
}

/* Its worker was killed past max_execution_time while it ran this
 * connection's callback, or the connection is bound to it: the plugin's
 * state for it died with the process, so it is closed. */
static void stream_worker_lost(conn_t *c, const conn_lost_t *l)
{
    if (!l->timeout || (c->session != l->session &&
                        (!conn_fixed(c) || c->worker != l->worker)))
        return;
    log_warn("session %llu (peer %s): worker %d was killed past "
             "max_execution_time; closing", (unsigned long long)c->session,
             c->peer, l->worker);
    conn_count_stuck(c);
    conn_end(c, 1);
}

const conn_proto_t stream_proto = {
    .name = "stream",
    .input = stream_input,
    .deliver = stream_deliver,
    .worker_lost = stream_worker_lost,
    .worker_backoff = stream_worker_backoff,
};
