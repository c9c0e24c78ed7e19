/* direct.c: the base-mode sink. A complete message from a protocol runs
 * the plugin's callback at once, in this process; what the plugin sends
 * back goes to the connection without any IPC. Replies made inside a
 * callback wait until the loop has control again: the protocol that
 * submitted the message is still in the middle of its step, and must see
 * the reply afterwards, as it would from a worker in process mode. */
#include "net/direct.h"

#include <errno.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "core/log.h"
#include "coro/coro.h"
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

/* One message as its callback runs it (enable_coroutine): the data is a
 * copy of its own, freed when the callback ends. A callback that waits
 * goes on after the engine has consumed or reused its buffers, which
 * are the protocol's, not a channel's message to take over. */
typedef struct direct_job {
    direct_handle_cb *handle;
    ipc_msg_t msg;
    void *copy;
} direct_job_t;

/* A message up to this long is copied onto its coroutine's stack, not
 * the heap: the copy lives as long as the callback's frame. */
#define DIRECT_STACK_COPY 1024

static void direct_job_run(void *arg)
{
    direct_job_t j = *(const direct_job_t *)arg; /* before any wait */
    /* Small messages, copied here while the engine's buffer still holds
     * them (the coroutine runs at once, before its first wait). */
    char small[j.copy == NULL && j.msg.len > 0 ? j.msg.len : 1];
    if (j.copy == NULL && j.msg.len > 0)
        j.msg.data = memcpy(small, j.msg.data, j.msg.len);
    j.handle(&j.msg);
    free(j.copy);
}

static void direct_run(direct_t *d, int type, int listener,
                       uint64_t session, const void *data, size_t len)
{
    direct_job_t j = {d->handle, {.type = type, .listener = listener,
                      .session = session, .data = data, .len = len}, NULL};
    int wrap = coro_callbacks_on();
    if (wrap && len > DIRECT_STACK_COPY) {
        j.copy = malloc(len);
        if (j.copy == NULL) { /* a plain call: its waits fail, nothing lost */
            log_error("coroutines: out of memory copying a message of %zu "
                      "bytes; its callback cannot wait", len);
            wrap = 0;
        } else {
            j.msg.data = memcpy(j.copy, data, len);
        }
    }
    d->depth++;
    coro_t *co = NULL;
    if (wrap)
        co = coro_callback(direct_job_run, &j);
    else
        d->handle(&j.msg);
    d->depth--;
    /* A callback that waits leaves the worker idle until it runs again,
     * as in process mode (proc/worker.c). */
    if (co != NULL)
        atomic_store_explicit(&d->eng->shm->workers[d->eng->id].busy, 0,
                              memory_order_relaxed);
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

/* The waiting senders look again, from the loop: the engine calls this
 * inside its own services, where a coroutine must not run. */
static void direct_wake(void *arg)
{
    direct_t *d = arg;
    d->wake_deferred = 0;
    coro_waitq_wake_all(&d->drained, 0);
}

/* send_yield: a connection's output is back at buffer_low_watermark, or
 * it is closing. */
static void direct_output(conn_t *c, int level)
{
    direct_t *d = direct_of(c->eng);
    if (level > 0 || d->wake_deferred || coro_waitq_empty(&d->drained))
        return;
    if (loop_defer(d->eng->loop, direct_wake, d) == 0)
        d->wake_deferred = 1;
    else
        log_error("send_yield: cannot wake the senders of session %llu; "
                  "they wait for send_timeout",
                  (unsigned long long)c->session);
}

static void direct_settle(conn_engine_t *e);

const conn_sink_t direct_sink = {
    .name = "direct",
    .route = direct_route,
    .submit = direct_submit,
    .fixed = direct_fixed,
    .opened = direct_opened,
    .closed = direct_closed,
    .output = direct_output,
    .settle = direct_settle,
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
static void direct_deliver_pending(direct_t *d)
{
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
    /* Senders that waited for these replies to leave look again. */
    coro_waitq_wake_all(&d->drained, 0);
}

/* At the end of the loop run: what is left. */
static void direct_flush(void *arg)
{
    direct_t *d = arg;
    d->deferred = 0;
    direct_deliver_pending(d);
}

/* After each event of a connection: its callbacks' replies go out before
 * the loop reads the next connection, as from a worker that answers at
 * once, not all at the end of the run. A client then has its response
 * while the others of the batch are read, parsed and answered, instead
 * of waiting for the whole batch (measured under wrk: every read of a
 * batch, then every send, and one CPU idle meanwhile). */
static void direct_settle(conn_engine_t *e)
{
    direct_t *d = direct_of(e);
    if (buf_pending(&d->pending) > 0)
        direct_deliver_pending(d);
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

/* Swoole's send_yield in base mode: a coroutine's reply waits while its
 * connection's output is full (over buffer_high_watermark until it is
 * back at buffer_low_watermark: the engine's out_full), or while it and
 * the replies waiting for the loop hold more than the high mark. Woken
 * by the engine (direct_output) and by direct_flush. 0, -ETIMEDOUT
 * (send_timeout), -ECANCELED (stopping), -ENOTCONN (it closed). */
static int direct_send_yield(direct_t *d, uint64_t session)
{
    if (coro_self() == NULL)
        return 0;
    int secs = d->eng->cfg->send_timeout;
    size_t high = d->eng->cfg->buffer_high_watermark;
    for (int waited = 0;; waited = 1) {
        conn_t *c = session_get(&d->eng->sessions, session);
        if (c == NULL)
            return waited ? -ENOTCONN : 0;
        if (!c->out_full && buf_pending(&d->pending) + c->out.bytes <= high)
            return 0;
        int rc = coro_waitq_wait(&d->drained, secs > 0 ? secs * 1000L : -1);
        if (rc < 0)
            return rc;
    }
}

int direct_reply(direct_t *d, uint64_t session, int type,
                 const struct iovec *iov, int n)
{
    int rc = type == IPC_CLOSE_REQ || type == IPC_BIND
                 ? 0 : direct_send_yield(d, session);
    if (rc < 0)
        return rc;
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
