/* reactor.c: reactor threads: read clients, dispatch to workers, write replies
 * back. Each thread owns its connections and its channel to every worker, so
 * no lock is taken on the data path. */
#include "net/reactor.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "ipc/ipc.h"
#include "core/affinity.h"
#include "net/conn.h"
#include "core/log.h"
#include "event/loop.h"
#include "core/session.h"

#define REACTOR_READ_SIZE (64 * 1024)
/* Stop reading a client while its worker's channel holds this much. */
#define REACTOR_CHAN_HIGH (4 * 1024 * 1024)
#define REACTOR_CHAN_BATCH 64
#define REACTOR_STOP_FLUSH_MS 2000
#define REACTOR_DGRAM_MAX 65536
/* How long a lingering close waits for the client's EOF. */
#define REACTOR_LINGER_MS 2000

typedef struct reactor {
    int id;
    server_t *srv;
    pthread_t thread;
    loop_t *loop;
    int notify[2];       /* main thread -> reactor: handed-over fds */
    session_table_t sessions;
    uint64_t next_seq;
    ipc_t *chans;        /* [worker] */
    unsigned rr;         /* round-robin cursor */
    int npaused;
    int quiesced;        /* stopping: no more reading from clients */
    int stopping;
    long long next_heartbeat; /* ms; 0 when heartbeats are off */
    char *rbuf;
    char *dbuf;          /* swx_peer_t + a datagram */
    buf_t scratch;       /* see conn_scratch */
    buf_t refused;       /* reactor_refusal_t: messages not sent to a
                            worker that is backing off, for their hooks */
    int refused_deferred; /* reactor_run_refused is due */
} reactor_t;

typedef struct reactor_refusal {
    uint64_t session;
    int worker;
} reactor_refusal_t;

typedef struct handover {
    int fd;       /* HANDOVER_STOP or HANDOVER_QUIESCE, or a connection */
    int listener;
} handover_t;

#define HANDOVER_STOP (-1)
#define HANDOVER_QUIESCE (-2)

static reactor_t *reactors;
static int nreactors;
static int nstarted; /* threads running */
/* The reactor whose thread this is: every callback runs in its own. */
static __thread reactor_t *self;
static _Atomic unsigned handover_rr;

static void reactor_close(reactor_t *r, conn_t *c, const char *why);

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reactor_want_write(reactor_t *r, ipc_t *ch)
{
    loop_mod(r->loop, ch->fd, LOOP_READ | (ipc_queued(ch) ? LOOP_WRITE : 0));
}

static int conn_events(const conn_t *c)
{
    int ev = 0;
    if (c->lingering ||
        (!c->paused && !c->held && !c->closing && !self->quiesced))
        ev |= LOOP_READ;
    else if (c->held && c->watch_hup)
        ev |= LOOP_RDHUP;
    if (!outq_empty(&c->out))
        ev |= LOOP_WRITE;
    return ev;
}

static void conn_update(reactor_t *r, conn_t *c)
{
    loop_mod(r->loop, c->fd, conn_events(c));
}

/* Connect and close events only make sense when one worker sees them all:
 * the fixed modes 2 (fd), 4 (client IP) and 5 (uid). */
static int reactor_conn_events(const reactor_t *r)
{
    int mode = r->srv->cfg.dispatch_mode;
    return mode == 2 || mode == 4 || mode == 5;
}

int conn_fixed_worker(void)
{
    return reactor_conn_events(self);
}

static int reactor_refuse(reactor_t *r, const conn_t *c, int w, int type,
                          int input);

void conn_to_worker(conn_t *c, int w, int type, const void *data, size_t len,
                    int input)
{
    reactor_t *r = self;
    if (reactor_refuse(r, c, w, type, input))
        return;
    ipc_t *ch = &r->chans[w];
    int rc = ipc_send(ch, type, c->listener, c->session, data, len);
    /* While stopping, the workers are gone on purpose. */
    if (rc < 0)
        log_msg(rc == -EPIPE && atomic_load(&r->srv->shm->stopping)
                    ? SWX_LOG_DEBUG
                    : SWX_LOG_ERROR,
                "session %llu: cannot send to worker %d: %s",
                (unsigned long long)c->session, w, strerror(-rc));
    if (ipc_queued(ch) > 0)
        reactor_want_write(r, ch);
    if (ipc_queued(ch) > REACTOR_CHAN_HIGH && !c->paused && input) {
        c->paused = 1;
        r->npaused++;
        conn_update(r, c);
    }
}

/* Seconds until worker w's replacement starts (at least 1), or 0 when w
 * is not backing off. */
static int reactor_backoff_secs(const reactor_t *r, int w)
{
    int64_t until = atomic_load_explicit(&r->srv->shm->workers[w].backoff_until,
                                         memory_order_relaxed);
    if (until == 0)
        return 0;
    long long left = until - now_ms();
    return left > 1000 ? (int)((left + 999) / 1000) : 1;
}

/* dispatch_mode 1 (the next worker) or 3 (an idle one); one that is
 * backing off only when all are. */
static int reactor_pick_free(reactor_t *r)
{
    const server_t *s = r->srv;
    int n = s->cfg.worker_num;
    if (s->cfg.dispatch_mode == 3) {
        for (int i = 0; i < n; i++) {
            int w = (int)((r->rr + (unsigned)i) % (unsigned)n);
            if (!atomic_load_explicit(&s->shm->workers[w].busy,
                                      memory_order_relaxed) &&
                ipc_queued(&r->chans[w]) == 0 &&
                reactor_backoff_secs(r, w) == 0) {
                r->rr = (unsigned)w + 1;
                return w;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        int w = (int)(r->rr++ % (unsigned)n);
        if (reactor_backoff_secs(r, w) == 0)
            return w;
    }
    return (int)(r->rr++ % (unsigned)n);
}

int conn_dispatch_worker(conn_t *c)
{
    reactor_t *r = self;
    atomic_fetch_add_explicit(&r->srv->shm->dispatch_count, 1,
                              memory_order_relaxed);
    return reactor_conn_events(r) ? c->worker : reactor_pick_free(r);
}

const config_t *conn_config(void)
{
    return &self->srv->cfg;
}

const config_listener_t *conn_listener(const conn_t *c)
{
    return &self->srv->cfg.listeners[c->listener];
}

static void conn_readable(reactor_t *r, conn_t *c)
{
    ssize_t n;
    do {
        n = recv(c->fd, r->rbuf, REACTOR_READ_SIZE, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0 && c->lingering) {
        return; /* dropped: the connection is being closed */
    } else if (n > 0) {
        if (r->next_heartbeat > 0)
            c->last_recv = now_ms();
        c->proto->input(c, r->rbuf, (size_t)n);
    } else if (n == 0) {
        reactor_close(r, c, NULL);
    } else if (errno != EAGAIN) {
        reactor_close(r, c, strerror(errno));
    }
}

static void conn_linger_expired(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    c->linger_timer = 0;
    reactor_close(self, c, NULL);
}

/* Everything is written: send FIN, and drop input until the client's. */
static int conn_start_linger(reactor_t *r, conn_t *c)
{
    c->lingering = 1;
    shutdown(c->fd, SHUT_WR);
    c->linger_timer = timer_add(loop_timers(r->loop), loop_now(),
                                REACTOR_LINGER_MS, 0, conn_linger_expired, c);
    if (c->linger_timer < 0) {
        reactor_close(r, c, NULL);
        return -1;
    }
    conn_update(r, c);
    return 0;
}

/* Bytes written to the socket that the client has not taken yet (for TCP:
 * not acknowledged), or -1. */
static int conn_unacked(const conn_t *c)
{
    int n;
    return ioctl(c->fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

/* send_timeout: output that has not moved for that long. The timer is
 * armed when output starts to wait and moved only when it fires, so the
 * writes themselves change no timer. A client that reads slowly empties
 * the socket without waking a writer (the kernel waits for a third of the
 * buffer to be free), so what it took counts as movement too. */
static void conn_send_expired(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    reactor_t *r = self;
    c->send_timer = 0;
    if (outq_empty(&c->out))
        return;
    int64_t limit = r->srv->cfg.send_timeout * 1000LL;
    int64_t now = loop_now();
    int unacked = conn_unacked(c);
    if (unacked >= 0 && unacked < c->send_unacked)
        c->send_moved = now;
    c->send_unacked = unacked;
    int64_t still = now - c->send_moved;
    if (still < limit) {
        c->send_timer = timer_add(loop_timers(r->loop), now, limit - still,
                                  0, conn_send_expired, c);
        if (c->send_timer < 0)
            c->send_timer = 0;
        return;
    }
    log_warn("session %llu (peer %s): the client took none of its output "
             "for %lld s (send_timeout %d; %zu bytes and %d file(s) "
             "waiting); closing", (unsigned long long)c->session, c->peer,
             (long long)(still / 1000), r->srv->cfg.send_timeout,
             c->out.bytes, c->out.nfiles);
    reactor_close(r, c, NULL);
}

/* Output began to wait for the socket: its clock starts now. */
static void conn_send_wait(reactor_t *r, conn_t *c)
{
    c->send_moved = loop_now();
    if (c->send_timer > 0 || r->srv->cfg.send_timeout <= 0)
        return;
    c->send_unacked = conn_unacked(c);
    c->send_timer = timer_add(loop_timers(r->loop), c->send_moved,
                              r->srv->cfg.send_timeout * 1000LL, 0,
                              conn_send_expired, c);
    if (c->send_timer < 0)
        c->send_timer = 0;
}

/* Write what is pending; 0, or -1 when the connection was closed. The
 * protocol's drained hook runs only from the loop (hook set), never inside
 * a call the protocol made itself. */
static int conn_flush_hook(reactor_t *r, conn_t *c, int hook)
{
    int was_pending = !outq_empty(&c->out);
    uint64_t sent = c->out.sent;
    int rc = outq_flush(&c->out, c->fd);
    if (c->out.sent != sent) {
        c->send_moved = loop_now();
        if (rc == -EAGAIN) /* full again: what the client takes from now */
            c->send_unacked = conn_unacked(c);
    }
    if (rc < 0 && rc != -EAGAIN) {
        reactor_close(r, c, outq_strerror(&c->out, rc));
        return -1;
    }
    if (rc == 0 && c->closing && (!c->lingering || r->stopping)) {
        if (c->linger && !c->lingering && !r->stopping)
            return conn_start_linger(r, c);
        reactor_close(r, c, NULL);
        return -1;
    }
    conn_update(r, c);
    if (hook && rc == 0 && was_pending && c->proto->drained != NULL)
        return c->proto->drained(c);
    return 0;
}

static int conn_flush(reactor_t *r, conn_t *c)
{
    return conn_flush_hook(r, c, 0);
}

static void conn_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    conn_t *c = arg;
    reactor_t *r = self;
    if ((events & LOOP_WRITE) && conn_flush_hook(r, c, 1) < 0)
        return;
    if (conn_events(c) & LOOP_READ) {
        if (events & LOOP_READ)
            conn_readable(r, c);
    } else if (events & LOOP_ERROR) {
        /* Not reading it, so only a close notices a reset or hang-up. */
        reactor_close(r, c, "connection reset or hung up");
    } else if ((events & LOOP_RDHUP) && c->held && c->watch_hup) {
        log_debug("session %llu: the client left before its response",
                  (unsigned long long)c->session);
        reactor_close(r, c, NULL);
    }
}

/* The queue's limit is buffer_output_size of buffered bytes; file
 * segments do not count, as they are read from disk as the client takes
 * them. 0, or -1 when the connection was closed. */
static int conn_queue(reactor_t *r, conn_t *c, const char *data, size_t len)
{
    size_t cap = r->srv->cfg.buffer_output_size;
    int was_empty = outq_empty(&c->out);
    if (c->out.bytes + len > cap) {
        log_warn("session %llu: output buffer would exceed "
                 "buffer_output_size (%zu + %zu > %zu bytes): client not "
                 "reading; closing", (unsigned long long)c->session,
                 c->out.bytes, len, cap);
        reactor_close(r, c, NULL);
        return -1;
    }
    if (outq_append(&c->out, data, len) < 0) {
        reactor_close(r, c, "out of memory for the output buffer");
        return -1;
    }
    if (was_empty)
        conn_send_wait(r, c);
    conn_update(r, c);
    return 0;
}

int conn_write(conn_t *c, const void *data, size_t len)
{
    reactor_t *r = self;
    const char *p = data;
    while (outq_empty(&c->out) && len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            reactor_close(r, c, strerror(errno));
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return len == 0 ? 0 : conn_queue(r, c, p, len);
}

int conn_write_file(conn_t *c, int fd, off_t off, uint64_t len)
{
    reactor_t *r = self;
    int was_empty = outq_empty(&c->out);
    if (outq_append_file(&c->out, fd, off, len) < 0) {
        reactor_close(r, c, "out of memory for the output queue");
        return -1;
    }
    if (was_empty)
        conn_send_wait(r, c);
    return conn_flush(r, c);
}

buf_t *conn_scratch(void)
{
    return &self->scratch;
}

void conn_scratch_done(buf_t *b)
{
    buf_reset(b);
    buf_trim(b, CONN_IN_KEEP); /* a large request's memory goes */
}

int conn_pending(const conn_t *c)
{
    return !outq_empty(&c->out);
}

void conn_hold(conn_t *c, enum conn_reading how)
{
    c->held = how != CONN_READ;
    c->watch_hup = how == CONN_HOLD_WATCH;
    conn_update(self, c);
}

int conn_end(conn_t *c, int linger)
{
    c->closing = 1;
    c->linger = linger ? 1 : 0;
    return conn_flush(self, c);
}

int conn_stopping(const conn_t *c)
{
    (void)c;
    return self->quiesced;
}

int conn_read_once(conn_t *c)
{
    reactor_t *r = self;
    uint64_t session = c->session;
    conn_readable(r, c);
    return session_get(&r->sessions, session) != NULL ? 0 : -1;
}

void conn_close(conn_t *c, const char *why)
{
    reactor_close(self, c, why);
}

void conn_set_proto(conn_t *c, const conn_proto_t *p, void *state)
{
    c->proto = p;
    c->state = state;
}

int64_t conn_timer_add(conn_t *c, long ms, timer_cb *cb)
{
    return timer_add(loop_timers(self->loop), loop_now(), ms, 0, cb, c);
}

void conn_timer_clear(int64_t id)
{
    if (id > 0)
        timer_clear(loop_timers(self->loop), id);
}

static const char *reactor_msg_name(int type)
{
    return type == IPC_SEND ? "reply" : type == IPC_CLOSE_REQ ? "close"
                                                                : "message";
}

static void reactor_deliver(reactor_t *r, const ipc_msg_t *m)
{
    conn_t *c = session_get(&r->sessions, m->session);
    if (c == NULL || c->closing) {
        log_debug("%s for closed session %llu dropped (%zu bytes)",
                  reactor_msg_name(m->type), (unsigned long long)m->session,
                  m->len);
        return;
    }
    if (m->type == IPC_SEND) {
        if (conn_write(c, m->data, m->len) == 0 && c->proto->sent != NULL)
            c->proto->sent(c);
    } else if (m->type == IPC_CLOSE_REQ) {
        c->closing = 1;
        conn_flush(r, c);
    } else if (m->type == IPC_BIND && m->len == sizeof(uint32_t)) {
        uint32_t uid;
        memcpy(&uid, m->data, sizeof(uid));
        /* Bound once, as in Swoole: a later bind would move a
         * connection whose state the first worker may keep. */
        if (c->uid != 0) {
            log_warn("session %llu: already bound to uid %u; bind to uid "
                     "%u ignored", (unsigned long long)c->session, c->uid,
                     uid);
        } else if (uid != 0) {
            c->uid = uid;
            c->worker = (int)(uid % (uint32_t)r->srv->cfg.worker_num);
        }
    } else if (m->type == IPC_BIND) {
        log_warn("channel: IPC_BIND of %zu bytes dropped", m->len);
    } else {
        c->proto->deliver(c, m);
    }
}

static void reactor_resume_paused(reactor_t *r)
{
    for (size_t i = 0; i < r->sessions.cap && r->npaused > 0; i++) {
        conn_t *c = r->sessions.keys[i] ? r->sessions.vals[i] : NULL;
        if (c == NULL || !c->paused)
            continue;
        if (r->srv->cfg.dispatch_mode == 2 &&
            ipc_queued(&r->chans[c->worker]) > REACTOR_CHAN_HIGH / 2)
            continue;
        c->paused = 0;
        r->npaused--;
        conn_update(r, c);
    }
}

static conn_t **reactor_conns(reactor_t *r, size_t *n);

/* Worker w's process died and its replacement runs: each protocol that
 * waits on w for something checks whether it was lost. */
static void reactor_worker_lost(reactor_t *r, int w)
{
    log_info("worker %d was replaced after a crash: checking the requests "
             "it had", w);
    size_t n;
    conn_t **list = reactor_conns(r, &n);
    for (size_t i = 0; list != NULL && i < n; i++)
        if (list[i]->proto->worker_lost != NULL && !list[i]->closing)
            list[i]->proto->worker_lost(list[i], w);
    free(list);
}

/* ---- workers backing off ---- */

/* Tell each connection's protocol, as reactor_worker_lost does. */
static void reactor_tell_backoff(reactor_t *r, const conn_backoff_t *b)
{
    size_t n;
    conn_t **list = reactor_conns(r, &n);
    for (size_t i = 0; list != NULL && i < n; i++)
        if (list[i]->proto->worker_backoff != NULL && !list[i]->closing)
            list[i]->proto->worker_backoff(list[i], b);
    free(list);
}

/* The manager says worker w is backing off: what was queued for it is
 * dropped (the manager drops what reached its channel), and what waits on
 * it is answered now rather than after the back-off. */
static void reactor_worker_backoff(reactor_t *r, int w, const ipc_msg_t *m)
{
    if (m->len != 1) {
        log_warn("channel: IPC_WORKER_BACKOFF of %zu bytes dropped", m->len);
        return;
    }
    int secs = reactor_backoff_secs(r, w);
    if (secs == 0)
        return; /* late: its replacement runs already */
    size_t dropped = ipc_drop_queued(&r->chans[w]);
    reactor_want_write(r, &r->chans[w]);
    long long left = atomic_load(&r->srv->shm->workers[w].backoff_until) -
                     now_ms();
    log_info("worker %d is backing off after failures; its replacement "
             "starts in %lld ms: its HTTP requests get 503, its stream and "
             "WebSocket connections are closed%s", w, left > 0 ? left : 0,
             dropped > 0 ? "; what was queued for it is dropped" : "");
    conn_backoff_t b = {w, secs, 0, (m->data[0] & IPC_BACKOFF_LOST) != 0};
    reactor_tell_backoff(r, &b);
    if (r->npaused > 0)
        reactor_resume_paused(r);
}

/* The messages refused since the last pass, each to its protocol. */
static void reactor_run_refused(void *arg)
{
    reactor_t *r = arg;
    reactor_refusal_t f;
    r->refused_deferred = 0;
    while (buf_pending(&r->refused) >= sizeof(f)) {
        memcpy(&f, buf_head(&r->refused), sizeof(f));
        buf_consume(&r->refused, sizeof(f));
        conn_t *c = session_get(&r->sessions, f.session);
        if (c == NULL || c->closing || c->proto->worker_backoff == NULL)
            continue;
        int secs = reactor_backoff_secs(r, f.worker);
        conn_backoff_t b = {f.worker, secs > 0 ? secs : 1, 1, 0};
        c->proto->worker_backoff(c, &b);
    }
    buf_reset(&r->refused);
    buf_trim(&r->refused, 4096);
}

/* A message that carries client input, or opens a session, is not sent to
 * a worker that is backing off; its protocol hears of it from the loop. 1
 * when refused. */
static int reactor_refuse(reactor_t *r, const conn_t *c, int w, int type,
                          int input)
{
    if ((!input && type != IPC_CONNECT) || reactor_backoff_secs(r, w) == 0)
        return 0;
    reactor_refusal_t f = {c->session, w};
    if (buf_append(&r->refused, &f, sizeof(f)) < 0) {
        log_error("session %llu: out of memory; a message for worker %d, "
                  "which is backing off, is dropped",
                  (unsigned long long)c->session, w);
        return 1;
    }
    if (!r->refused_deferred &&
        loop_defer(r->loop, reactor_run_refused, r) == 0)
        r->refused_deferred = 1;
    return 1;
}

static void reactor_chan_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    ipc_t *ch = arg;
    reactor_t *r = self;
    if (events & LOOP_WRITE) {
        ipc_flush(ch);
        reactor_want_write(r, ch);
        if (r->npaused > 0)
            reactor_resume_paused(r);
    }
    if (!(events & LOOP_READ))
        return;
    ipc_msg_t m;
    for (int i = 0; i < REACTOR_CHAN_BATCH; i++) {
        int rc = ipc_recv(ch, &m);
        if (rc <= 0) {
            if (rc < 0) {
                /* Every worker end closes when the manager stops. */
                log_msg(atomic_load(&r->srv->shm->stopping) ? SWX_LOG_DEBUG
                                                            : SWX_LOG_ERROR,
                        "channel fd %d: %s; no longer read", ch->fd,
                        strerror(-rc));
                loop_del(r->loop, ch->fd);
            }
            break;
        }
        if (m.type == IPC_WORKER_LOST)
            reactor_worker_lost(r, (int)(ch - r->chans));
        else if (m.type == IPC_WORKER_BACKOFF)
            reactor_worker_backoff(r, (int)(ch - r->chans), &m);
        else
            reactor_deliver(r, &m);
    }
}

static void reactor_conn_info(const conn_t *c, const config_t *cfg, swx_conninfo_t *ci)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(ci, 0, sizeof(*ci));
    ci->listener = c->listener;
    ci->server_port = cfg->listeners[c->listener].port;
    ci->peer_port = 0;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_UNIX) {
        snprintf(ci->peer_addr, sizeof(ci->peer_addr), "unix");
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ci->peer_addr, sizeof(ci->peer_addr));
        ci->peer_port = ntohs(a->sin6_port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ci->peer_addr, sizeof(ci->peer_addr));
        ci->peer_port = ntohs(a->sin_port);
    }
}

/* dispatch_mode 4: the same client address always reaches one worker.
 * As Swoole: an IPv4 address's s_addr (as it lies in memory) modulo
 * worker_num; for IPv6 its last 32 bits; for a Unix socket path a hash. */
static int reactor_addr_worker(const reactor_t *r, const char *addr)
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
    return (int)(key % (uint32_t)r->srv->cfg.worker_num);
}

static const conn_proto_t *reactor_proto(const config_listener_t *l)
{
    return l->protocol == PROTOCOL_RAW ? &stream_proto : &http_conn_proto;
}

static conn_t *reactor_conn_new(reactor_t *r, int fd, int listener)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->listener = listener;
    c->worker = fd % r->srv->cfg.worker_num;
    c->session = session_make(r->next_seq++, r->id);
    c->last_recv = now_ms();
    c->proto = reactor_proto(&r->srv->cfg.listeners[listener]);
    if (session_put(&r->sessions, c->session, c) < 0 ||
        loop_add(r->loop, fd, LOOP_READ, conn_io, c) < 0) {
        session_del(&r->sessions, c->session);
        free(c);
        return NULL;
    }
    return c;
}

/* open_tcp_nodelay, open_tcp_keepalive on an accepted TCP connection. */
static void reactor_socket_options(const config_t *cfg, int fd, int listener)
{
    int type = cfg->listeners[listener].type;
    if (type != LISTENER_TCP && type != LISTENER_TCP6)
        return;
    int one = 1;
    if (cfg->open_tcp_nodelay)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!cfg->open_tcp_keepalive)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &cfg->tcp_keepidle,
                   sizeof(int)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &cfg->tcp_keepinterval,
                   sizeof(int)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cfg->tcp_keepcount,
                   sizeof(int)) < 0)
        log_warn("fd %d: open_tcp_keepalive: %s", fd, strerror(errno));
}

static void reactor_accept(reactor_t *r, int fd, int listener)
{
    conn_t *c = reactor_conn_new(r, fd, listener);
    if (c == NULL) {
        log_error("fd %d: cannot register the connection; closing", fd);
        close(fd);
        atomic_fetch_sub(&r->srv->shm->connection_num, 1);
        return;
    }
    reactor_socket_options(&r->srv->cfg, fd, listener);
    swx_conninfo_t ci;
    reactor_conn_info(c, &r->srv->cfg, &ci);
    snprintf(c->peer, sizeof(c->peer), "%s:%d", ci.peer_addr, ci.peer_port);
    memcpy(c->peer_addr, ci.peer_addr, sizeof(c->peer_addr));
    c->peer_port = ci.peer_port;
    if (r->srv->cfg.dispatch_mode == 4)
        c->worker = reactor_addr_worker(r, ci.peer_addr);
    log_debug("accept fd=%d session=%llu peer=%s:%d listener=%d", fd,
              (unsigned long long)c->session, ci.peer_addr, ci.peer_port,
              listener);
    if (reactor_conn_events(r))
        conn_to_worker(c, c->worker, IPC_CONNECT, &ci, sizeof(ci), 0);
    int rc = c->proto->open != NULL ? c->proto->open(c) : 0;
    if (rc < 0)
        reactor_close(r, c, strerror(-rc));
}

static void reactor_close(reactor_t *r, conn_t *c, const char *why)
{
    if (why != NULL)
        log_info("session %llu: closing: %s", (unsigned long long)c->session,
                 why);
    log_debug("close fd=%d session=%llu", c->fd,
              (unsigned long long)c->session);
    loop_del(r->loop, c->fd);
    close(c->fd);
    session_del(&r->sessions, c->session);
    if (c->paused)
        r->npaused--;
    if (c->linger_timer > 0)
        timer_clear(loop_timers(r->loop), c->linger_timer);
    if (c->send_timer > 0)
        timer_clear(loop_timers(r->loop), c->send_timer);
    if (c->proto->close != NULL)
        c->proto->close(c, !r->stopping);
    if (reactor_conn_events(r) && !r->stopping)
        conn_to_worker(c, c->worker, IPC_CLOSE, NULL, 0, 0);
    atomic_fetch_sub(&r->srv->shm->connection_num, 1);
    atomic_fetch_add(&r->srv->shm->close_count, 1);
    outq_free(&c->out);
    buf_free(&c->in);
    free(c);
}

/* The connections of r, copied out: closing one reorders the table. */
static conn_t **reactor_conns(reactor_t *r, size_t *n)
{
    conn_t **list = calloc(r->sessions.count + 1, sizeof(*list));
    *n = 0;
    if (list == NULL)
        return NULL;
    for (size_t i = 0; i < r->sessions.cap; i++)
        if (r->sessions.keys[i] != 0)
            list[(*n)++] = r->sessions.vals[i];
    return list;
}

/* Deliver every reply the workers left in the channels. */
static void reactor_drain_chans(reactor_t *r)
{
    ipc_msg_t m;
    for (int w = 0; w < r->srv->cfg.worker_num; w++)
        while (loop_events(r->loop, r->chans[w].fd) >= 0 &&
               ipc_recv(&r->chans[w], &m) > 0)
            reactor_deliver(r, &m);
}

/* Stop reading; close each connection once its output is written. */
static void reactor_begin_stop(reactor_t *r)
{
    reactor_drain_chans(r);
    size_t n;
    conn_t **list = reactor_conns(r, &n);
    r->stopping = 1;
    for (size_t i = 0; list != NULL && i < n; i++) {
        list[i]->closing = 1;
        conn_flush(r, list[i]);
    }
    free(list);
}

/* Stop reading clients, so that workers can drain what they were sent;
 * each protocol winds its connections down. */
static void reactor_quiesce(reactor_t *r)
{
    size_t n;
    conn_t **list = reactor_conns(r, &n);
    r->quiesced = 1;
    for (size_t i = 0; list != NULL && i < n; i++) {
        conn_t *c = list[i];
        conn_update(r, c);
        if (c->proto->quiesce != NULL && !c->closing)
            c->proto->quiesce(c); /* may close c */
    }
    free(list);
}

static void reactor_notify_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    reactor_t *r = arg;
    handover_t h;
    while (read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h)) {
        if (h.fd == HANDOVER_STOP)
            reactor_begin_stop(r);
        else if (h.fd == HANDOVER_QUIESCE)
            reactor_quiesce(r);
        else
            reactor_accept(r, h.fd, h.listener);
    }
}

static void reactor_close_all(reactor_t *r)
{
    size_t n;
    conn_t **list = reactor_conns(r, &n);
    for (size_t i = 0; list != NULL && i < n; i++)
        reactor_close(r, list[i], NULL);
    free(list);
}

/* Close connections that sent nothing for heartbeat_idle_time. */
static void reactor_heartbeat(reactor_t *r)
{
    const config_t *cfg = &r->srv->cfg;
    long long now = now_ms(), idle_ms = cfg->heartbeat_idle_time * 1000LL;
    size_t n;
    conn_t **list = reactor_conns(r, &n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        conn_t *c = list[i];
        if (c->closing || now - c->last_recv < idle_ms)
            continue;
        log_info("session %llu: nothing received for %lld s "
                 "(heartbeat_idle_time %d); closing",
                 (unsigned long long)c->session, (now - c->last_recv) / 1000,
                 cfg->heartbeat_idle_time);
        reactor_close(r, c, NULL);
    }
    free(list);
    r->next_heartbeat = now + cfg->heartbeat_check_interval * 1000LL;
}

static int reactor_timeout(reactor_t *r)
{
    if (r->stopping)
        return 50;
    if (r->next_heartbeat == 0)
        return -1;
    long long left = r->next_heartbeat - now_ms();
    if (left <= 0) {
        reactor_heartbeat(r);
        left = r->next_heartbeat - now_ms();
    }
    return left > 0 ? (int)left : 0;
}

static void reactor_peer_describe(swx_peer_t *p)
{
    const struct sockaddr *sa = (const struct sockaddr *)p->raw;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, p->addr, sizeof(p->addr));
        p->port = ntohs(a->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, p->addr, sizeof(p->addr));
        p->port = ntohs(a->sin_port);
    } else if (p->raw_len > offsetof(struct sockaddr_un, sun_path)) {
        const struct sockaddr_un *u = (const struct sockaddr_un *)sa;
        snprintf(p->addr, sizeof(p->addr), "%.*s",
                 (int)(p->raw_len - offsetof(struct sockaddr_un, sun_path)),
                 u->sun_path);
    }
}

/* One datagram to a worker: by client address in the fixed modes. */
static void reactor_dgram_dispatch(reactor_t *r, swx_peer_t *p, size_t len)
{
    reactor_peer_describe(p);
    int w = reactor_conn_events(r) ? reactor_addr_worker(r, p->addr)
                                   : reactor_pick_free(r);
    ipc_t *ch = &r->chans[w];
    atomic_fetch_add_explicit(&r->srv->shm->dispatch_count, 1,
                              memory_order_relaxed);
    if (ipc_queued(ch) > REACTOR_CHAN_HIGH) {
        log_warn("worker %d is not keeping up; datagram from %s dropped", w,
                 p->addr);
        return;
    }
    if (ipc_send(ch, IPC_PACKET, p->listener, 0, p, sizeof(*p) + len) < 0)
        log_error("datagram for worker %d lost", w);
    if (ipc_queued(ch) > 0)
        reactor_want_write(r, ch);
}

static void reactor_dgram_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    reactor_t *r = self;
    swx_peer_t *p = (swx_peer_t *)r->dbuf;
    for (int i = 0; i < REACTOR_CHAN_BATCH; i++) {
        memset(p, 0, sizeof(*p));
        socklen_t alen = sizeof(p->raw);
        ssize_t n = recvfrom(fd, r->dbuf + sizeof(*p), REACTOR_DGRAM_MAX,
                             MSG_TRUNC, (struct sockaddr *)p->raw, &alen);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_error("recvfrom on listeners[%d]: %s",
                          (int)(intptr_t)arg, strerror(errno));
            return;
        }
        p->listener = (int)(intptr_t)arg;
        p->raw_len = alen;
        if (n > REACTOR_DGRAM_MAX) {
            log_warn("listeners[%d]: a datagram of %zd bytes is over %d; "
                     "dropped", p->listener, n, REACTOR_DGRAM_MAX);
            continue;
        }
        reactor_dgram_dispatch(r, p, (size_t)n);
    }
}

static void *reactor_main(void *arg)
{
    reactor_t *r = arg;
    self = r;
    log_set_role("reactor %d", r->id);
    if (r->srv->cfg.open_cpu_affinity) {
        char what[32];
        snprintf(what, sizeof(what), "reactor %d", r->id);
        affinity_pin(r->id, what);
    }
    long long deadline = 0;
    for (;;) {
        if (r->stopping && deadline == 0)
            deadline = now_ms() + REACTOR_STOP_FLUSH_MS;
        if (r->stopping && (r->sessions.count == 0 || now_ms() >= deadline))
            break;
        int rc = loop_run_once(r->loop, reactor_timeout(r));
        if (rc < 0) {
            log_error("epoll_wait: %s", strerror(-rc));
            break;
        }
    }
    reactor_close_all(r);
    return NULL;
}

static int reactor_init(reactor_t *r, server_t *srv, int id)
{
    r->id = id;
    r->srv = srv;
    r->next_seq = 1;
    r->notify[0] = r->notify[1] = -1;
    if (srv->cfg.heartbeat_check_interval > 0)
        r->next_heartbeat =
            now_ms() + srv->cfg.heartbeat_check_interval * 1000LL;
    r->loop = loop_create();
    r->rbuf = malloc(REACTOR_READ_SIZE);
    r->dbuf = malloc(sizeof(swx_peer_t) + REACTOR_DGRAM_MAX);
    r->chans = calloc((size_t)srv->cfg.worker_num, sizeof(ipc_t));
    if (r->loop == NULL || r->rbuf == NULL || r->dbuf == NULL ||
        r->chans == NULL ||
        session_table_init(&r->sessions, 1024) < 0)
        return -ENOMEM;
    if (pipe2(r->notify, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = errno;
        log_error("pipe2: %s", strerror(err));
        return -err;
    }
    if (loop_add(r->loop, r->notify[0], LOOP_READ, reactor_notify_io, r) < 0)
        return -ENOMEM;
    for (int i = 0; i < srv->cfg.nlisteners; i++)
        if (config_listener_is_dgram(srv->cfg.listeners[i].type) &&
            i % srv->cfg.reactor_num == id &&
            loop_add(r->loop, srv->listen_fds[i], LOOP_READ, reactor_dgram_io,
                     (void *)(intptr_t)i) < 0)
            return -ENOMEM;
    for (int w = 0; w < srv->cfg.worker_num; w++) {
        int fd = srv->chan_fds[server_chan(srv, w, id)][0];
        if (ipc_init(&r->chans[w], fd, srv->cfg.buffer_output_size,
                     IPC_TO_REACTOR) < 0 ||
            loop_add(r->loop, fd, LOOP_READ, reactor_chan_io, &r->chans[w]) < 0)
            return -ENOMEM;
    }
    return 0;
}

int reactor_start_all(server_t *srv)
{
    nreactors = srv->cfg.reactor_num;
    reactors = calloc((size_t)nreactors, sizeof(*reactors));
    if (reactors == NULL)
        return -ENOMEM;
    for (int i = 0; i < nreactors; i++) {
        int rc = reactor_init(&reactors[i], srv, i);
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < nreactors; i++) {
        int rc = pthread_create(&reactors[i].thread, NULL, reactor_main,
                                &reactors[i]);
        if (rc != 0) {
            log_error("pthread_create(reactor %d): %s", i, strerror(rc));
            return -rc;
        }
        nstarted++;
    }
    return 0;
}

int reactor_hand_over(int fd, int listener)
{
    unsigned i = atomic_fetch_add(&handover_rr, 1) % (unsigned)nreactors;
    handover_t h = {fd, listener};
    if (write(reactors[i].notify[1], &h, sizeof(h)) != (ssize_t)sizeof(h)) {
        int err = errno;
        log_warn("fd %d: reactor %u is not keeping up (%s); closing", fd, i,
                 strerror(err));
        close(fd);
        return -err;
    }
    return 0;
}

static void reactor_free(reactor_t *r)
{
    for (int w = 0; r->chans != NULL && w < r->srv->cfg.worker_num; w++)
        ipc_free(&r->chans[w]);
    free(r->chans);
    free(r->rbuf);
    free(r->dbuf);
    buf_free(&r->scratch);
    buf_free(&r->refused);
    session_table_free(&r->sessions);
    loop_free(r->loop);
    if (r->notify[0] >= 0) {
        close(r->notify[0]);
        close(r->notify[1]);
    }
}

static void reactor_tell_all(int what)
{
    handover_t h = {what, -1};
    for (int i = 0; i < nstarted; i++)
        if (write(reactors[i].notify[1], &h, sizeof(h)) < 0)
            log_error("reactor %d: cannot pass on %d: %s", i, what,
                      strerror(errno));
}

void reactor_quiesce_all(void)
{
    reactor_tell_all(HANDOVER_QUIESCE);
}

void reactor_stop_all(void)
{
    reactor_tell_all(HANDOVER_STOP);
    for (int i = 0; i < nreactors; i++) {
        if (i < nstarted)
            pthread_join(reactors[i].thread, NULL);
        if (reactors[i].srv != NULL)
            reactor_free(&reactors[i]);
    }
    nstarted = 0;
    free(reactors);
    reactors = NULL;
    nreactors = 0;
}
