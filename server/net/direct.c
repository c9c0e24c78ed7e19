/* direct.c: the base-mode sink. A complete message from a protocol runs
 * the plugin's callback at once, in this process; what the plugin sends
 * back goes to the connection without any IPC. Replies made inside a
 * callback wait until the loop has control again: the protocol that
 * submitted the message is still in the middle of its step, and must see
 * the reply afterwards, as it would from a worker in process mode. */
#include "net/direct.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core/log.h"
#include "net/workers.h"

/* A reply waiting in direct_t.pending, followed by its len bytes. */
typedef struct direct_rec {
    uint64_t session;
    int32_t type;
    uint32_t len;
} direct_rec_t;

static direct_t *direct_of(const conn_engine_t *e)
{
    return e->sink_ctx;
}

static void direct_run(direct_t *d, int type, int listener,
                       uint64_t session, const void *data, size_t len)
{
    ipc_msg_t m = {.type = type, .listener = listener, .session = session,
                   .data = data, .len = len};
    d->depth++;
    d->handle(&m);
    d->depth--;
}

/* Every event of a connection runs in the worker that accepted it. */
static int direct_route(conn_t *c)
{
    atomic_fetch_add_explicit(&c->eng->shm->dispatch_count, 1,
                              memory_order_relaxed);
    return c->eng->id;
}

static void direct_submit(conn_t *c, int target, int type, const void *data,
                          size_t len, int input)
{
    (void)target;
    (void)input;
    direct_run(direct_of(c->eng), type, c->listener, c->session, data, len);
}

/* One worker sees all of a connection: on_connect and on_close always. */
static int direct_fixed(const conn_engine_t *e)
{
    (void)e;
    return 1;
}

static void direct_opened(conn_t *c, const swx_conninfo_t *ci)
{
    direct_submit(c, c->eng->id, IPC_CONNECT, ci, sizeof(*ci), 0);
}

static void direct_closed(conn_t *c)
{
    if (!c->eng->stopping)
        direct_submit(c, c->eng->id, IPC_CLOSE, NULL, 0, 0);
}

const conn_sink_t direct_sink = {
    .name = "direct",
    .route = direct_route,
    .submit = direct_submit,
    .fixed = direct_fixed,
    .opened = direct_opened,
    .closed = direct_closed,
};

void direct_packet(direct_t *d, swx_peer_t *p, size_t len)
{
    atomic_fetch_add_explicit(&d->eng->shm->dispatch_count, 1,
                              memory_order_relaxed);
    direct_run(d, IPC_PACKET, p->listener, 0, p, sizeof(*p) + len);
}

/* ---- replies ---- */

static void direct_deliver(direct_t *d, uint64_t session, int type,
                           const char *data, size_t len)
{
    conn_msg_t cm = {type, data, len};
    conn_engine_deliver(d->eng, session, workers_delivery(type), &cm);
}

/* The replies made during the callbacks before, in order. Those that the
 * deliveries cause wait for the next pass. */
static void direct_flush(void *arg)
{
    direct_t *d = arg;
    d->deferred = 0;
    buf_t batch = d->pending;
    d->pending = d->running;
    d->running = batch;
    buf_t *b = &d->running;
    while (buf_pending(b) >= sizeof(direct_rec_t)) {
        direct_rec_t r;
        memcpy(&r, buf_head(b), sizeof(r));
        buf_consume(b, sizeof(r));
        direct_deliver(d, r.session, r.type, buf_head(b), r.len);
        buf_consume(b, r.len);
    }
    buf_reset(b);
    buf_trim(b, CONN_IN_KEEP);
}

static int direct_queue(direct_t *d, uint64_t session, int type,
                        const struct iovec *iov, int n)
{
    direct_rec_t r = {session, type, 0};
    size_t at = buf_pending(&d->pending);
    for (int i = 0; i < n; i++)
        r.len += (uint32_t)iov[i].iov_len;
    if (buf_append(&d->pending, &r, sizeof(r)) < 0)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        if (buf_append(&d->pending, iov[i].iov_base, iov[i].iov_len) < 0) {
            d->pending.len = d->pending.off + at; /* none of it */
            return -ENOMEM;
        }
    }
    if (!d->deferred && loop_defer(d->eng->loop, direct_flush, d) == 0)
        d->deferred = 1;
    return d->deferred ? 0 : -ENOMEM;
}

int direct_reply(direct_t *d, uint64_t session, int type,
                 const struct iovec *iov, int n)
{
    if (d->depth > 0 || buf_pending(&d->pending) > 0)
        return direct_queue(d, session, type, iov, n);
    if (n == 1) {
        direct_deliver(d, session, type, iov[0].iov_base, iov[0].iov_len);
        return 0;
    }
    buf_reset(&d->flat);
    for (int i = 0; i < n; i++)
        if (buf_append(&d->flat, iov[i].iov_base, iov[i].iov_len) < 0)
            return -ENOMEM;
    direct_deliver(d, session, type, buf_head(&d->flat),
                   buf_pending(&d->flat));
    buf_trim(&d->flat, CONN_IN_KEEP);
    return 0;
}

void direct_init(direct_t *d, conn_engine_t *e, direct_handle_cb *handle)
{
    memset(d, 0, sizeof(*d));
    d->eng = e;
    d->handle = handle;
}

void direct_free(direct_t *d)
{
    buf_free(&d->pending);
    buf_free(&d->running);
    buf_free(&d->flat);
}
