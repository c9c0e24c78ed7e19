/* workers.c: the process-mode sink: a connection's messages go to a worker
 * over the channel between this reactor and that worker, chosen by the
 * dispatch mode, and the workers' replies come back on those channels to
 * the connection engine. It also carries datagrams, pauses readers while a
 * worker is backed up, and answers for workers that died or back off. */
#include "net/workers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Stop reading a client while its worker's channel holds this much. */
#define WORKERS_CHAN_HIGH (4 * 1024 * 1024)
#define WORKERS_BATCH 64

typedef struct workers_refusal {
    uint64_t session;
    int worker;
} workers_refusal_t;

static workers_t *workers_of(const conn_engine_t *e)
{
    return e->sink_ctx;
}

static void workers_want_write(workers_t *ws, ipc_t *ch)
{
    loop_mod(ws->eng->loop, ch->fd,
             LOOP_READ | (ipc_queued(ch) ? LOOP_WRITE : 0));
}

/* Connect and close events only make sense when one worker sees them all:
 * the fixed modes 2 (fd), 4 (client IP) and 5 (uid). */
static int workers_fixed(const conn_engine_t *e)
{
    int mode = e->cfg->dispatch_mode;
    return mode == 2 || mode == 4 || mode == 5;
}

/* Seconds until worker w's replacement starts (at least 1), or 0 when w
 * is not backing off. */
static int workers_backoff_secs(const workers_t *ws, int w)
{
    int64_t until = atomic_load_explicit(&ws->shm->workers[w].backoff_until,
                                         memory_order_relaxed);
    if (until == 0)
        return 0;
    int64_t left = until - loop_now();
    return left > 1000 ? (int)((left + 999) / 1000) : 1;
}

/* dispatch_mode 1 (the next worker) or 3 (an idle one); one that is
 * backing off only when all are. */
static int workers_pick_free(workers_t *ws)
{
    int n = ws->nworkers;
    if (ws->eng->cfg->dispatch_mode == 3) {
        for (int i = 0; i < n; i++) {
            int w = (int)((ws->rr + (unsigned)i) % (unsigned)n);
            if (!atomic_load_explicit(&ws->shm->workers[w].busy,
                                      memory_order_relaxed) &&
                ipc_pending(&ws->chans[w]) == 0 &&
                workers_backoff_secs(ws, w) == 0) {
                ws->rr = (unsigned)w + 1;
                return w;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        int w = (int)(ws->rr++ % (unsigned)n);
        if (workers_backoff_secs(ws, w) == 0)
            return w;
    }
    return (int)(ws->rr++ % (unsigned)n);
}

/* dispatch_mode 4: the same client address always reaches one worker.
 * As Swoole: an IPv4 address's s_addr (as it lies in memory) modulo
 * worker_num; for IPv6 its last 32 bits; for a Unix socket path a hash. */
static int workers_by_addr(const workers_t *ws, const char *addr)
{
    unsigned char bin[sizeof(struct in6_addr)];
    uint32_t key;
    if (inet_pton(AF_INET, addr, bin) == 1) {
        memcpy(&key, bin, sizeof(key));
    } else if (inet_pton(AF_INET6, addr, bin) == 1) {
        memcpy(&key, bin + sizeof(bin) - sizeof(key), sizeof(key));
    } else {
        key = 2166136261u; /* FNV-1a */
        for (const char *p = addr; *p != '\0'; p++)
            key = (key ^ (uint8_t)*p) * 16777619u;
    }
    return (int)(key % (uint32_t)ws->nworkers);
}

static int workers_route(conn_t *c)
{
    workers_t *ws = workers_of(c->eng);
    atomic_fetch_add_explicit(&ws->shm->dispatch_count, 1,
                              memory_order_relaxed);
    return workers_fixed(c->eng) ? c->worker : workers_pick_free(ws);
}

/* ---- workers backing off ---- */

/* The messages refused since the last pass, each to its protocol. */
static void workers_run_refused(void *arg)
{
    workers_t *ws = arg;
    workers_refusal_t f;
    ws->refused_deferred = 0;
    while (buf_pending(&ws->refused) >= sizeof(f)) {
        memcpy(&f, buf_head(&ws->refused), sizeof(f));
        buf_consume(&ws->refused, sizeof(f));
        conn_t *c = session_get(&ws->eng->sessions, f.session);
        if (c == NULL || c->closing || c->proto->worker_backoff == NULL)
            continue;
        int secs = workers_backoff_secs(ws, f.worker);
        conn_backoff_t b = {f.worker, secs > 0 ? secs : 1, 1, 0};
        c->proto->worker_backoff(c, &b);
    }
    buf_reset(&ws->refused);
    buf_trim(&ws->refused, 4096);
}

/* A message that carries client input, or opens a session, is not sent to
 * a worker that is backing off; its protocol hears of it from the loop. 1
 * when refused. */
static int workers_refuse(workers_t *ws, const conn_t *c, int w, int type,
                          int input)
{
    if ((!input && type != IPC_CONNECT) || workers_backoff_secs(ws, w) == 0)
        return 0;
    workers_refusal_t f = {c->session, w};
    if (buf_append(&ws->refused, &f, sizeof(f)) < 0) {
        log_error("session %llu: out of memory; a message for worker %d, "
                  "which is backing off, is dropped",
                  (unsigned long long)c->session, w);
        return 1;
    }
    if (!ws->refused_deferred &&
        loop_defer(ws->eng->loop, workers_run_refused, ws) == 0)
        ws->refused_deferred = 1;
    return 1;
}

static void workers_submit(conn_t *c, int w, int type, const void *data,
                           size_t len, int input)
{
    workers_t *ws = workers_of(c->eng);
    if (workers_refuse(ws, c, w, type, input))
        return;
    ipc_t *ch = &ws->chans[w];
    int rc = ipc_send(ch, type, c->listener, c->session, data, len);
    /* While stopping, the workers are gone on purpose. */
    if (rc < 0)
        log_msg(rc == -EPIPE && atomic_load(&ws->shm->stopping)
                    ? SWX_LOG_DEBUG
                    : SWX_LOG_ERROR,
                "session %llu: cannot send to worker %d: %s",
                (unsigned long long)c->session, w, strerror(-rc));
    if (ipc_queued(ch) > 0)
        workers_want_write(ws, ch);
    if (ipc_pending(ch) > WORKERS_CHAN_HIGH && !c->paused && input) {
        ws->npaused++;
        conn_pause(c, 1);
    }
}

static void workers_opened(conn_t *c, const swx_conninfo_t *ci)
{
    workers_t *ws = workers_of(c->eng);
    if (c->eng->cfg->dispatch_mode == 4)
        c->worker = workers_by_addr(ws, ci->peer_addr);
    if (workers_fixed(c->eng))
        workers_submit(c, c->worker, IPC_CONNECT, ci, sizeof(*ci), 0);
}

static void workers_closed(conn_t *c)
{
    workers_t *ws = workers_of(c->eng);
    if (c->paused)
        ws->npaused--;
    if (workers_fixed(c->eng) && !c->eng->stopping)
        workers_submit(c, c->worker, IPC_CLOSE, NULL, 0, 0);
}

/* send_yield: the worker whose reply filled c's output waits for it to
 * drain (proc/worker.c); a full output outside a reply tells no one. */
static void workers_output(conn_t *c, int level)
{
    workers_t *ws = workers_of(c->eng);
    int full = level > 0;
    if (full)
        c->out_target = ws->delivering;
    int w = c->out_target;
    if (w < 0 || w >= ws->nworkers)
        return;
    uint8_t closed = level < 0 ? IPC_DRAINED_CLOSED : 0;
    int type = full ? IPC_OUTPUT_FULL : IPC_OUTPUT_DRAINED;
    ipc_t *ch = &ws->chans[w];
    int rc = ipc_send(ch, type, c->listener, c->session, &closed,
                      full ? 0 : 1);
    /* Full: at once, not when the loop waits, which may be after many
     * more of the worker's replies were read (WORKERS_BATCH). */
    if (rc == 0 && full)
        rc = ipc_flush(ch);
    if (rc < 0 && rc != -EPIPE && rc != -EAGAIN)
        log_error("session %llu: cannot tell worker %d of its output: %s",
                  (unsigned long long)c->session, w, strerror(-rc));
    if (ipc_queued(ch) > 0)
        workers_want_write(ws, ch);
}

const conn_sink_t workers_sink = {
    .name = "workers",
    .route = workers_route,
    .submit = workers_submit,
    .fixed = workers_fixed,
    .opened = workers_opened,
    .closed = workers_closed,
    .output = workers_output,
};

/* ---- replies ---- */

static void workers_resume_paused(workers_t *ws)
{
    conn_engine_t *e = ws->eng;
    for (size_t i = 0; i < e->sessions.cap && ws->npaused > 0; i++) {
        conn_t *c = e->sessions.keys[i] ? e->sessions.vals[i] : NULL;
        if (c == NULL || !c->paused)
            continue;
        if (e->cfg->dispatch_mode == 2 &&
            ipc_pending(&ws->chans[c->worker]) > WORKERS_CHAN_HIGH / 2)
            continue;
        ws->npaused--;
        conn_pause(c, 0);
    }
}

/* Each connection's protocol that has the hook hears that a worker's
 * process was replaced (lost), or that it backs off (b). */
static void workers_tell(workers_t *ws, const conn_lost_t *lost,
                         const conn_backoff_t *b)
{
    size_t n;
    conn_t **list = conn_engine_list(ws->eng, &n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        conn_t *c = list[i];
        if (c->closing)
            continue;
        if (lost != NULL && c->proto->worker_lost != NULL)
            c->proto->worker_lost(c, lost);
        else if (b != NULL && c->proto->worker_backoff != NULL)
            c->proto->worker_backoff(c, b);
    }
    free(list);
}

/* The manager says worker w is backing off: what was queued for it is
 * dropped (the manager drops what reached its channel), and what waits on
 * it is answered now rather than after the back-off. */
static void workers_backoff(workers_t *ws, int w, const ipc_msg_t *m)
{
    if (m->len != 1) {
        log_warn("channel: IPC_WORKER_BACKOFF of %zu bytes dropped", m->len);
        return;
    }
    int secs = workers_backoff_secs(ws, w);
    if (secs == 0)
        return; /* late: its replacement runs already */
    size_t dropped = ipc_drop_queued(&ws->chans[w]);
    workers_want_write(ws, &ws->chans[w]);
    int64_t left = atomic_load(&ws->shm->workers[w].backoff_until) -
                   loop_now();
    log_info("worker %d is backing off after failures; its replacement "
             "starts in %lld ms: its HTTP requests get 503, its stream and "
             "WebSocket connections are closed%s", w,
             (long long)(left > 0 ? left : 0),
             dropped > 0 ? "; what was queued for it is dropped" : "");
    conn_backoff_t b = {w, secs, 0, (m->data[0] & IPC_BACKOFF_LOST) != 0};
    workers_tell(ws, NULL, &b);
    if (ws->npaused > 0)
        workers_resume_paused(ws);
}

/* Worker w's new process says the one before died (IPC_WORKER_LOST):
 * every connection that waits on it, or is bound to it, hears of it. */
static void workers_lost(workers_t *ws, int w, const ipc_msg_t *m)
{
    conn_lost_t lost = {w, 0, 0};
    ipc_lost_t l;
    if (m->len == sizeof(l)) {
        memcpy(&l, m->data, sizeof(l));
        lost.timeout = l.timeout != 0;
        lost.session = l.session;
    } else if (m->len != 0) {
        log_warn("channel: IPC_WORKER_LOST of %zu bytes dropped", m->len);
        return;
    }
    if (lost.timeout)
        log_info("worker %d was replaced after it was killed past "
                 "max_execution_time: its HTTP requests get 504, its stream "
                 "and WebSocket clients are closed", w);
    else
        log_info("worker %d was replaced after a crash: checking the "
                 "requests it had", w);
    workers_tell(ws, &lost, NULL);
}

int workers_delivery(int type)
{
    return type == IPC_SEND        ? CONN_DELIVER_SEND
           : type == IPC_CLOSE_REQ ? CONN_DELIVER_CLOSE
           : type == IPC_BIND      ? CONN_DELIVER_BIND
                                   : CONN_DELIVER_PROTOCOL;
}

/* A worker's message about a session: to the engine. */
static void workers_deliver(workers_t *ws, const ipc_msg_t *m)
{
    conn_msg_t cm = {m->type, m->data, m->len};
    conn_engine_deliver(ws->eng, m->session, workers_delivery(m->type), &cm);
}

static void workers_deliver_from(workers_t *ws, int w, const ipc_msg_t *m)
{
    ws->delivering = w;
    workers_deliver(ws, m);
    ws->delivering = -1;
}

static void workers_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)fd;
    workers_slot_t *slot = arg;
    workers_t *ws = slot->ws;
    ipc_t *ch = &ws->chans[slot->worker];
    if (events & LOOP_WRITE) {
        ipc_flush(ch);
        workers_want_write(ws, ch);
        if (ws->npaused > 0)
            workers_resume_paused(ws);
    }
    if (!(events & LOOP_READ))
        return;
    ipc_msg_t m;
    int w = slot->worker;
    ipc_wake(ch);
    /* A batch's records already read are taken whatever the count: no
     * fd event would come back for them. */
    for (int i = 0; i < WORKERS_BATCH || ipc_buffered(ch); i++) {
        int rc = ipc_recv(ch, &m);
        if (rc <= 0) {
            if (rc < 0) {
                /* Every worker end closes when the manager stops. */
                log_msg(atomic_load(&ws->shm->stopping) ? SWX_LOG_DEBUG
                                                        : SWX_LOG_ERROR,
                        "channel fd %d: %s; no longer read", ch->fd,
                        strerror(-rc));
                loop_del(loop, ch->fd);
            }
            break;
        }
        if (m.type == IPC_WORKER_LOST) {
            workers_lost(ws, w, &m);
        } else if (m.type == IPC_WORKER_BACKOFF) {
            workers_backoff(ws, w, &m);
        } else {
            workers_deliver_from(ws, w, &m);
        }
    }
}

/* ---- datagrams ---- */

void workers_packet(workers_t *ws, swx_peer_t *p, size_t len)
{
    int w = workers_fixed(ws->eng) ? workers_by_addr(ws, p->addr)
                                   : workers_pick_free(ws);
    ipc_t *ch = &ws->chans[w];
    atomic_fetch_add_explicit(&ws->shm->dispatch_count, 1,
                              memory_order_relaxed);
    if (ipc_pending(ch) > WORKERS_CHAN_HIGH) {
        log_warn("worker %d is not keeping up; datagram from %s dropped", w,
                 p->addr);
        return;
    }
    if (ipc_send(ch, IPC_PACKET, p->listener, 0, p, sizeof(*p) + len) < 0)
        log_error("datagram for worker %d lost", w);
    if (ipc_queued(ch) > 0)
        workers_want_write(ws, ch);
}

/* ---- set-up and stop ---- */

void workers_drain(workers_t *ws)
{
    ipc_msg_t m;
    for (int w = 0; w < ws->nworkers; w++)
        while (loop_events(ws->eng->loop, ws->chans[w].fd) >= 0 &&
               (ipc_wake(&ws->chans[w]), ipc_recv(&ws->chans[w], &m) > 0))
            workers_deliver(ws, &m);
}

/* Before the loop waits: what this run batched for each worker goes out,
 * one frame per worker (loop_prepare). */
static void workers_flush_batches(void *arg)
{
    workers_t *ws = arg;
    for (int w = 0; w < ws->nworkers; w++) {
        ipc_t *ch = &ws->chans[w];
        if (ipc_pending(ch) == ipc_queued(ch))
            continue;
        int rc = ipc_flush(ch);
        if (rc < 0 && rc != -EAGAIN)
            log_msg(rc == -EPIPE && atomic_load(&ws->shm->stopping)
                        ? SWX_LOG_DEBUG
                        : SWX_LOG_ERROR,
                    "cannot send to worker %d: %s", w, strerror(-rc));
        if (ipc_queued(ch) > 0)
            workers_want_write(ws, ch);
    }
}

int workers_init(workers_t *ws, conn_engine_t *e, server_t *srv, int reactor)
{
    memset(ws, 0, sizeof(*ws));
    ws->eng = e;
    ws->shm = srv->shm;
    ws->nworkers = srv->cfg.worker_num;
    ws->delivering = -1;
    /* A worker's replies on their way when it is told: its channel's
     * socket buffer (the kernel doubles what was asked), its own queue
     * (WORKER_SEND_HIGH, 1 MiB, in proc/worker.c) and the message that
     * passed it (at most buffer_output_size). */
    e->out_slack = 2 * IPC_STREAM_SOCKBUF + (1 << 20) +
                   srv->cfg.buffer_output_size;
    ws->chans = calloc((size_t)ws->nworkers, sizeof(ipc_t));
    ws->slots = calloc((size_t)ws->nworkers, sizeof(workers_slot_t));
    if (ws->chans == NULL || ws->slots == NULL)
        return -ENOMEM;
    for (int w = 0; w < ws->nworkers; w++) {
        int fd = srv->chan_fds[server_chan(srv, w, reactor)][0];
        if (ipc_init(&ws->chans[w], fd, srv->cfg.buffer_output_size, IPC_TO_REACTOR) < 0)
            return -ENOMEM;
        if (ipc_batch_on(&ws->chans[w]) < 0)
            return -ENOMEM;
        ipc_one_frame(&ws->chans[w]);
        ws->slots[w] = (workers_slot_t){ws, w};
        if (loop_add(e->loop, fd, LOOP_READ, workers_io, &ws->slots[w]) < 0)
            return -ENOMEM;
    }
    return loop_prepare(e->loop, workers_flush_batches, ws) < 0 ? -ENOMEM : 0;
}

void workers_free(workers_t *ws)
{
    for (int w = 0; ws->chans != NULL && w < ws->nworkers; w++)
        ipc_free(&ws->chans[w]);
    free(ws->chans);
    free(ws->slots);
    ws->chans = NULL;
    ws->slots = NULL;
    buf_free(&ws->refused);
}
