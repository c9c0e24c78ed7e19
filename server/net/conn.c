/* conn.c: the connection engine's services: reading and writing through a
 * connection's transport, its output queue, lingering closes,
 * send_timeout and heartbeats, holds and pauses, and accepting, listing,
 * winding down and closing the connections an engine owns. Everything is
 * found through the connection and its engine. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/tls.h"

/* How long a lingering close waits for the client's EOF. */
#define CONN_LINGER_MS 2000

static void conn_heartbeat_arm(conn_engine_t *e);

/* ---- reading ---- */

static int conn_events(const conn_t *c)
{
    int ev = 0;
    if (c->lingering ||
        (!c->paused && !c->held && !c->closing && !c->eng->quiesced))
        ev |= LOOP_READ;
    else if (c->held && c->watch_hup)
        ev |= LOOP_RDHUP;
    if (!outq_empty(&c->out))
        ev |= LOOP_WRITE;
    return ev;
}

static void conn_readable(conn_t *c);

typedef struct conn_later {
    conn_engine_t *eng;
    uint64_t session;
    void (*fn)(conn_t *c);
} conn_later_t;

static void conn_later_run(void *arg)
{
    conn_later_t l = *(conn_later_t *)arg;
    free(arg);
    conn_t *c = session_get(&l.eng->sessions, l.session);
    if (c != NULL)
        l.fn(c);
}

int conn_defer(conn_t *c, void (*fn)(conn_t *c))
{
    conn_later_t *l = malloc(sizeof(*l));
    if (l == NULL)
        return -ENOMEM;
    *l = (conn_later_t){c->eng, c->session, fn};
    if (loop_defer(c->eng->loop, conn_later_run, l) < 0) {
        free(l);
        return -ENOMEM;
    }
    return 0;
}

/* The deferred read of conn_read_later. */
static void conn_read_later_run(conn_t *c)
{
    c->read_later = 0;
    if (!c->handshaking && (conn_events(c) & LOOP_READ))
        conn_readable(c);
}

/* Input the transport read ahead (and holds) is read once the engine
 * wants to read: no event of the socket would say it is there. */
static void conn_read_later(conn_t *c)
{
    if (c->read_later || c->handshaking || c->transport->buffered == NULL ||
        !(conn_events(c) & LOOP_READ) || !c->transport->buffered(c))
        return;
    /* Out of memory: the next input on the socket reads it. */
    c->read_later = conn_defer(c, conn_read_later_run) == 0;
}

/* What the loop watches: the engine's wish, as the transport needs it;
 * a handshake reads until the transport says otherwise. */
static void conn_update(conn_t *c)
{
    int ev = c->handshaking ? LOOP_READ : conn_events(c);
    if (c->transport->interest != NULL)
        ev = c->transport->interest(c, ev);
    loop_mod(c->eng->loop, c->fd, ev);
    conn_read_later(c);
}

static void conn_readable(conn_t *c)
{
    conn_engine_t *e = c->eng;
    uint64_t session = c->session;
    ssize_t n = c->transport->read(c, e->rbuf, CONN_READ_SIZE);
    if (n > 0 && c->lingering) {
        return; /* dropped: the connection is being closed */
    } else if (n > 0) {
        if (e->heartbeat > 0)
            c->last_recv = loop_now();
        c->proto->input(c, e->rbuf, (size_t)n);
        /* More than one read's worth came in at once: the rest, later
         * in this run (after what the input set going). */
        if (session_get(&e->sessions, session) == c)
            conn_read_later(c);
    } else if (n == 0) {
        conn_close(c, NULL);
    } else if (n != -EAGAIN) {
        conn_close(c, strerror((int)-n));
    }
}

/* ---- writing ---- */

static void conn_linger_expired(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    c->linger_timer = 0;
    conn_close(c, NULL);
}

/* Everything is written: send FIN, and drop input until the client's. */
static int conn_start_linger(conn_t *c)
{
    c->lingering = 1;
    c->transport->shutdown(c);
    c->linger_timer = timer_add(loop_timers(c->eng->loop), loop_now(),
                                CONN_LINGER_MS, 0, conn_linger_expired, c);
    if (c->linger_timer < 0) {
        conn_close(c, NULL);
        return -1;
    }
    conn_update(c);
    return 0;
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
    const config_t *cfg = c->eng->cfg;
    c->send_timer = 0;
    if (outq_empty(&c->out))
        return;
    int64_t limit = cfg->send_timeout * 1000LL;
    int64_t now = loop_now();
    int unacked = c->transport->unacked(c);
    if (unacked >= 0 && unacked < c->send_unacked)
        c->send_moved = now;
    c->send_unacked = unacked;
    int64_t still = now - c->send_moved;
    if (still < limit) {
        c->send_timer = timer_add(loop_timers(c->eng->loop), now,
                                  limit - still, 0, conn_send_expired, c);
        if (c->send_timer < 0)
            c->send_timer = 0;
        return;
    }
    log_warn("session %llu (peer %s): the client took none of its output "
             "for %lld s (send_timeout %d; %zu bytes and %d file(s) "
             "waiting); closing", (unsigned long long)c->session, c->peer,
             (long long)(still / 1000), cfg->send_timeout, c->out.bytes,
             c->out.nfiles);
    conn_close(c, NULL);
}

/* Output began to wait for the socket: its clock starts now. */
static void conn_send_wait(conn_t *c)
{
    int secs = c->eng->cfg->send_timeout;
    c->send_moved = loop_now();
    if (c->send_timer > 0 || secs <= 0)
        return;
    c->send_unacked = c->transport->unacked(c);
    c->send_timer = timer_add(loop_timers(c->eng->loop), c->send_moved,
                              secs * 1000LL, 0, conn_send_expired, c);
    if (c->send_timer < 0)
        c->send_timer = 0;
}

/* send_yield: the sink hears when output passes the high watermark and
 * when it is back at the low one (or the connection goes). */
static void conn_level(conn_t *c, int closing)
{
    const config_t *cfg = c->eng->cfg;
    if (c->eng->sink->output == NULL)
        return;
    if (!c->out_full && !closing && c->out.bytes > cfg->buffer_high_watermark) {
        c->out_full = 1;
        c->eng->sink->output(c, 1);
    } else if (c->out_full &&
               (closing || c->out.bytes <= cfg->buffer_low_watermark)) {
        c->out_full = 0;
        c->eng->sink->output(c, closing ? -1 : 0);
    }
}

static ssize_t conn_out_write(void *arg, const void *data, size_t len)
{
    conn_t *c = arg;
    struct iovec iov = {(void *)data, len};
    return c->transport->writev(c, &iov, 1);
}

static ssize_t conn_out_sendfile(void *arg, int fd, off_t *off, size_t len)
{
    conn_t *c = arg;
    return c->transport->sendfile(c, fd, off, len);
}

static const outq_io_t conn_out_io = {conn_out_write, conn_out_sendfile};

/* Write what is pending; 0, or -1 when the connection was closed. The
 * protocol's drained hook runs only from the loop (hook set), never inside
 * a call the protocol made itself. */
static int conn_flush_hook(conn_t *c, int hook)
{
    int was_pending = !outq_empty(&c->out);
    uint64_t sent = c->out.sent;
    int rc = outq_flush(&c->out, &conn_out_io, c);
    if (c->out.sent != sent) {
        c->send_moved = loop_now();
        if (rc == -EAGAIN) /* full again: what the client takes from now */
            c->send_unacked = c->transport->unacked(c);
    }
    if (rc < 0 && rc != -EAGAIN) {
        conn_close(c, outq_strerror(&c->out, rc));
        return -1;
    }
    conn_level(c, 0);
    int stopping = c->eng->stopping;
    if (rc == 0 && c->closing && (!c->lingering || stopping)) {
        if (c->linger && !c->lingering && !stopping)
            return conn_start_linger(c);
        if (!c->lingering && c->transport->goodbye != NULL)
            c->transport->goodbye(c);
        conn_close(c, NULL);
        return -1;
    }
    conn_update(c);
    if (hook && rc == 0 && was_pending && c->proto->drained != NULL)
        return c->proto->drained(c);
    return 0;
}

static int conn_flush(conn_t *c)
{
    return conn_flush_hook(c, 0);
}

static void conn_readable(conn_t *c);

/* The transport's handshake moved on: the connection starts once it is
 * done, on the protocol its client chose by ALPN if one is registered. */
static void conn_handshake(conn_t *c)
{
    int rc = c->transport->handshake(c);
    if (rc < 0) {
        conn_close(c, NULL);
    } else if (rc == 0) {
        conn_update(c);
    } else {
        uint64_t session = c->session;
        c->handshaking = 0;
        conn_update(c);
        conn_start(c, NULL, 0);
        /* Records read along with the handshake's wait in the transport:
         * the socket may never be readable again for them. */
        if (session_get(&c->eng->sessions, session) == c &&
            (conn_events(c) & LOOP_READ))
            conn_readable(c);
    }
}

static void conn_io_step(conn_t *c, int events)
{
    if (c->handshaking) {
        conn_handshake(c);
        return;
    }
    if (c->transport->ready != NULL)
        events = c->transport->ready(c, events);
    if ((events & LOOP_WRITE) && conn_flush_hook(c, 1) < 0)
        return;
    if (conn_events(c) & LOOP_READ) {
        if (events & LOOP_READ)
            conn_readable(c);
    } else if (events & LOOP_ERROR) {
        /* Not reading it, so only a close notices a reset or hang-up. */
        conn_close(c, "connection reset or hung up");
    } else if ((events & LOOP_RDHUP) && c->held && c->watch_hup) {
        log_debug("session %llu: the client left before its response",
                  (unsigned long long)c->session);
        conn_close(c, NULL);
    }
}

static void conn_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    conn_t *c = arg;
    conn_engine_t *e = c->eng; /* c may be gone after its step */
    conn_io_step(c, events);
    if (e->sink->settle != NULL)
        e->sink->settle(e);
}

/* The queue's limit is buffer_output_size of buffered bytes; file
 * segments do not count, as they are read from disk as the client takes
 * them. A connection whose sink was told it is full also takes what was
 * already on its way (out_slack). 0, or -1 when the connection was
 * closed. */
static int conn_queue(conn_t *c, const char *data, size_t len)
{
    size_t cap = c->eng->cfg->buffer_output_size +
                 (c->out_full ? c->eng->out_slack : 0);
    int was_empty = outq_empty(&c->out);
    if (c->out.bytes + len > cap) {
        log_warn("session %llu: output buffer would exceed "
                 "buffer_output_size (%zu + %zu > %zu bytes): client not "
                 "reading; closing", (unsigned long long)c->session,
                 c->out.bytes, len, cap);
        conn_close(c, NULL);
        return -1;
    }
    if (outq_append(&c->out, data, len) < 0) {
        conn_close(c, "out of memory for the output buffer");
        return -1;
    }
    if (was_empty)
        conn_send_wait(c);
    conn_update(c);
    conn_level(c, 0);
    return 0;
}

int conn_write(conn_t *c, const void *data, size_t len)
{
    const char *p = data;
    if (c->proto->output != NULL)
        c->proto->output(c, data, len);
    while (outq_empty(&c->out) && len > 0) {
        struct iovec iov = {(void *)p, len};
        ssize_t n = c->transport->writev(c, &iov, 1);
        if (n == -EAGAIN)
            break;
        if (n < 0) {
            conn_close(c, strerror((int)-n));
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return len == 0 ? 0 : conn_queue(c, p, len);
}

int conn_write_file(conn_t *c, int fd, off_t off, uint64_t len)
{
    int was_empty = outq_empty(&c->out);
    if (c->proto->output != NULL)
        c->proto->output(c, NULL, (size_t)len);
    if (outq_append_file(&c->out, fd, off, len) < 0) {
        conn_close(c, "out of memory for the output queue");
        return -1;
    }
    if (was_empty)
        conn_send_wait(c);
    return conn_flush(c);
}

int conn_pending(const conn_t *c)
{
    return !outq_empty(&c->out);
}

/* ---- the other services ---- */

const config_t *conn_config(const conn_t *c)
{
    return c->eng->cfg;
}

const config_listener_t *conn_listener(const conn_t *c)
{
    return &c->eng->cfg->listeners[c->listener];
}

buf_t *conn_gather(conn_t *c)
{
    return &c->eng->gather;
}

buf_t *conn_scratch(conn_t *c)
{
    return &c->eng->scratch;
}

void conn_scratch_done(buf_t *b)
{
    buf_reset(b);
    buf_trim(b, CONN_IN_KEEP); /* a large request's memory goes */
}

int conn_route(conn_t *c)
{
    return c->eng->sink->route(c);
}

void conn_submit(conn_t *c, int target, int type, const void *data,
                 size_t len, int input)
{
    c->eng->sink->submit(c, target, type, data, len, input);
}

int conn_fixed(const conn_t *c)
{
    return c->eng->sink->fixed(c->eng);
}

void conn_hold(conn_t *c, enum conn_reading how)
{
    c->held = how != CONN_READ;
    c->watch_hup = how == CONN_HOLD_WATCH;
    conn_update(c);
}

void conn_pause(conn_t *c, int paused)
{
    c->paused = paused ? 1 : 0;
    conn_update(c);
}

int conn_end(conn_t *c, int linger)
{
    c->closing = 1;
    c->linger = linger ? 1 : 0;
    return conn_flush(c);
}

int conn_stopping(const conn_t *c)
{
    return c->eng->quiesced;
}

/* ALPN names other modules serve (conn_alpn_register). */
#define CONN_ALPN_MAX 8
static struct {
    char name[32];
    const conn_proto_t *proto;
} conn_alpn_protos[CONN_ALPN_MAX];

int conn_alpn_register(const char *name, const conn_proto_t *p)
{
    for (int i = 0; i < CONN_ALPN_MAX; i++) {
        if (conn_alpn_protos[i].proto == NULL ||
            strcmp(conn_alpn_protos[i].name, name) == 0) {
            snprintf(conn_alpn_protos[i].name,
                     sizeof(conn_alpn_protos[i].name), "%s", name);
            conn_alpn_protos[i].proto = p;
            return 0;
        }
    }
    log_error("conn_alpn_register(%s): table full", name);
    return -ENOSPC;
}

const char *conn_alpn(const conn_t *c)
{
    const char *a = c->transport->alpn != NULL ? c->transport->alpn(c)
                                               : NULL;
    return a != NULL && a[0] != '\0' ? a : NULL;
}

const char *conn_tls_version(const conn_t *c)
{
    return c->transport->version != NULL ? c->transport->version(c) : NULL;
}

int conn_leaving(const conn_t *c)
{
    return c->eng->leaving;
}

int conn_read_once(conn_t *c)
{
    conn_engine_t *e = c->eng;
    uint64_t session = c->session;
    conn_readable(c);
    return session_get(&e->sessions, session) != NULL ? 0 : -1;
}

void conn_set_proto(conn_t *c, const conn_proto_t *p, void *state)
{
    c->proto = p;
    c->state = state;
}

int64_t conn_timer_add(conn_t *c, long ms, timer_cb *cb)
{
    return conn_timer_add_at(c, loop_now(), ms, cb);
}

int64_t conn_timer_add_at(conn_t *c, int64_t now_ms, long ms, timer_cb *cb)
{
    return timer_add(loop_timers(c->eng->loop), now_ms, ms, 0, cb, c);
}

void conn_timer_clear(conn_t *c, int64_t id)
{
    if (id > 0)
        timer_clear(loop_timers(c->eng->loop), id);
}

void conn_count_stuck(conn_t *c)
{
    atomic_fetch_add_explicit(&c->eng->shm->stuck_clients, 1,
                              memory_order_relaxed);
}

void conn_close(conn_t *c, const char *why)
{
    conn_engine_t *e = c->eng;
    if (why != NULL)
        log_info("session %llu: closing: %s", (unsigned long long)c->session,
                 why);
    log_debug("close fd=%d session=%llu", c->fd,
              (unsigned long long)c->session);
    /* A socket no other process holds leaves epoll with its close. */
    if (c->forks == loop_fork_count())
        loop_forget(e->loop, c->fd);
    else
        loop_del(e->loop, c->fd);
    c->transport->close(c);
    session_del(&e->sessions, c->session);
    conn_timer_clear(c, c->linger_timer);
    conn_timer_clear(c, c->send_timer);
    conn_level(c, 1);
    if (c->proto->close != NULL)
        c->proto->close(c, !e->stopping);
    if (c->opened)
        e->sink->closed(c);
    atomic_fetch_sub(&e->shm->connection_num, 1);
    atomic_fetch_add(&e->shm->close_count, 1);
    outq_free(&c->out);
    buf_reset(&c->in);
    conn_in_idle(c);
    free(c);
}

void conn_in_idle(conn_t *c)
{
    conn_engine_t *e = c->eng;
    if (c->in.data == NULL || buf_pending(&c->in) > 0)
        return;
    int pooled = c->in.cap == CONN_IN_UNIT &&
                 e->in_pooled < (int)(sizeof(e->in_pool) / sizeof(e->in_pool[0]));
    if (pooled)
        e->in_pool[e->in_pooled++] = c->in.data;
    else
        free(c->in.data);
    c->in = (buf_t){0};
}

void conn_in_ready(conn_t *c)
{
    conn_engine_t *e = c->eng;
    if (c->in.data == NULL && e->in_pooled > 0)
        c->in = (buf_t){.data = e->in_pool[--e->in_pooled],
                        .cap = CONN_IN_UNIT};
}

/* ---- the engine ---- */

/* open_tcp_nodelay, open_tcp_keepalive on an accepted TCP connection. */
static void conn_socket_options(const config_t *cfg, int fd, int listener)
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

/* The socket's peer: c->peer_addr, c->peer_port and c->peer; from sa when
 * accept4 gave it, else from getpeername. */
static void conn_peer_from_socket(conn_t *c, const struct sockaddr *sa,
                                  socklen_t salen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (sa != NULL && salen >= sizeof(sa_family_t) && salen <= len) {
        memcpy(&ss, sa, salen);
        len = salen;
    } else if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0) {
        ss.ss_family = AF_UNSPEC;
    }
    if (ss.ss_family == AF_UNSPEC) {
        c->peer_addr[0] = '\0';
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(c->peer_addr, sizeof(c->peer_addr), "unix");
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, c->peer_addr,
                  sizeof(c->peer_addr));
        c->peer_port = ntohs(a->sin6_port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, c->peer_addr, sizeof(c->peer_addr));
        c->peer_port = ntohs(a->sin_port);
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", c->peer_addr, c->peer_port);
}

/* What the plugin learns of a connection. */
static void conn_info(const conn_t *c, swx_conninfo_t *ci)
{
    memset(ci, 0, sizeof(*ci));
    ci->listener = c->listener;
    ci->server_port = conn_listener(c)->port;
    memcpy(ci->peer_addr, c->peer_addr, sizeof(ci->peer_addr));
    ci->peer_port = c->peer_port;
    memcpy(ci->proxy_addr, c->proxy_addr, sizeof(ci->proxy_addr));
    ci->proxy_port = c->proxy_port;
    if (c->transport->info != NULL)
        c->transport->info(c, ci);
}

static const conn_proto_t *conn_proto_of(const config_listener_t *l)
{
    return l->protocol == PROTOCOL_RAW ? &stream_proto : &http_conn_proto;
}

/* The listener's protocol, or the one registered for the ALPN name the
 * client chose. */
static const conn_proto_t *conn_proto_for(const conn_t *c)
{
    const char *alpn = conn_alpn(c);
    for (int i = 0; alpn != NULL && i < CONN_ALPN_MAX &&
                    conn_alpn_protos[i].proto != NULL; i++)
        if (strcmp(conn_alpn_protos[i].name, alpn) == 0)
            return conn_alpn_protos[i].proto;
    return conn_proto_of(conn_listener(c));
}

/* Sequence numbers per block of shared ids: 2^36 blocks fit the 56 bits. */
#define CONN_SEQ_BLOCK_BITS 20

static void conn_seq_block(conn_engine_t *e)
{
    uint64_t b = atomic_fetch_add(&e->shm->session_blocks, 1) + 1;
    e->next_seq = b << CONN_SEQ_BLOCK_BITS;
    e->seq_end = (b + 1) << CONN_SEQ_BLOCK_BITS;
}

void conn_engine_share_ids(conn_engine_t *e)
{
    conn_seq_block(e);
}

static conn_t *conn_new(conn_engine_t *e, int fd, int listener)
{
    if (e->seq_end != 0 && e->next_seq >= e->seq_end)
        conn_seq_block(e);
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->eng = e;
    c->transport = &plain_transport;
    c->fd = fd;
    c->listener = listener;
    c->worker = fd % e->cfg->worker_num;
    c->session = session_make(e->next_seq++, e->tag);
    c->out_target = -1;
    c->last_recv = loop_now();
    c->proto = conn_proto_of(&e->cfg->listeners[listener]);
    if (session_put(&e->sessions, c->session, c) < 0 ||
        loop_add(e->loop, fd, LOOP_READ, conn_io, c) < 0) {
        session_del(&e->sessions, c->session);
        free(c);
        return NULL;
    }
    return c;
}

void conn_set_peer(conn_t *c, const char *addr, int port)
{
    memcpy(c->proxy_addr, c->peer_addr, sizeof(c->proxy_addr));
    c->proxy_port = c->peer_port;
    snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", addr);
    c->peer_port = port;
    snprintf(c->peer, sizeof(c->peer), "%s:%d", c->peer_addr, c->peer_port);
}

/* On a TLS listener the handshake comes first (after a PROXY header,
 * with the bytes that followed it): nothing is opened before it is done
 * (conn_handshake). */
static void conn_start_tls(conn_t *c, const char *data, size_t len)
{
    int rc = tls_conn_attach(c, data, len);
    if (rc < 0) {
        conn_close(c, strerror(-rc));
        return;
    }
    conn_update(c);
    if (len > 0)
        conn_handshake(c);
}

void conn_start(conn_t *c, const char *data, size_t len)
{
    swx_conninfo_t ci;
    if (c->transport != &tls_transport &&
        tls_listener_on(conn_listener(c))) {
        conn_start_tls(c, data, len);
        return;
    }
    conn_info(c, &ci);
    c->opened = 1;
    c->eng->sink->opened(c, &ci);
    conn_set_proto(c, conn_proto_for(c), NULL);
    int rc = c->proto->open != NULL ? c->proto->open(c) : 0;
    if (rc < 0)
        conn_close(c, strerror(-rc));
    else if (len > 0)
        c->proto->input(c, data, len);
}

void conn_engine_accept(conn_engine_t *e, int fd, int listener)
{
    conn_engine_accept_peer(e, fd, listener, NULL, 0, loop_fork_count() + 1);
}

void conn_engine_accept_peer(conn_engine_t *e, int fd, int listener,
                             const struct sockaddr *sa, socklen_t len,
                             unsigned forks)
{
    conn_t *c = conn_new(e, fd, listener);
    if (c == NULL) {
        log_error("fd %d: cannot register the connection; closing", fd);
        close(fd);
        atomic_fetch_sub(&e->shm->connection_num, 1);
        return;
    }
    c->forks = forks;
    conn_socket_options(e->cfg, fd, listener);
    conn_peer_from_socket(c, sa, len);
    log_debug("accept fd=%d session=%llu peer=%s listener=%d", fd,
              (unsigned long long)c->session, c->peer, listener);
    if (!conn_listener(c)->proxy_protocol) {
        conn_start(c, NULL, 0);
        return;
    }
    /* The client's address comes first: nothing is opened before it. */
    c->proto = &proxy_conn_proto;
    int rc = c->proto->open(c);
    if (rc < 0)
        conn_close(c, strerror(-rc));
}

conn_t **conn_engine_list(conn_engine_t *e, size_t *n)
{
    conn_t **list = calloc(e->sessions.count + 1, sizeof(*list));
    *n = 0;
    if (list == NULL)
        return NULL;
    for (size_t i = 0; i < e->sessions.cap; i++)
        if (e->sessions.keys[i] != 0)
            list[(*n)++] = e->sessions.vals[i];
    return list;
}

void conn_engine_deliver(conn_engine_t *e, uint64_t session, int kind,
                         const conn_msg_t *m)
{
    conn_t *c = session_get(&e->sessions, session);
    if (c == NULL || c->closing) {
        log_debug("%s for closed session %llu dropped (%zu bytes)",
                  kind == CONN_DELIVER_SEND    ? "reply"
                  : kind == CONN_DELIVER_CLOSE ? "close"
                                               : "message",
                  (unsigned long long)session, m->len);
        return;
    }
    if (kind == CONN_DELIVER_SEND) {
        if (conn_write(c, m->data, m->len) == 0 && c->proto->sent != NULL)
            c->proto->sent(c);
    } else if (kind == CONN_DELIVER_CLOSE) {
        c->closing = 1;
        conn_flush(c);
    } else if (kind == CONN_DELIVER_BIND && m->len == sizeof(uint32_t)) {
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
            c->worker = (int)(uid % (uint32_t)e->cfg->worker_num);
        }
    } else if (kind == CONN_DELIVER_BIND) {
        log_warn("a bind of %zu bytes dropped", m->len);
    } else {
        c->proto->deliver(c, m);
    }
}

void conn_engine_quiesce(conn_engine_t *e)
{
    size_t n;
    conn_t **list = conn_engine_list(e, &n);
    e->quiesced = 1;
    for (size_t i = 0; list != NULL && i < n; i++) {
        conn_t *c = list[i];
        conn_update(c);
        if (c->proto->quiesce != NULL && !c->closing)
            c->proto->quiesce(c); /* may close c */
    }
    free(list);
}

void conn_engine_leave(conn_engine_t *e)
{
    if (e->leaving)
        return;
    e->leaving = 1;
    size_t n;
    conn_t **list = conn_engine_list(e, &n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        conn_t *c = list[i];
        if (c->proto->leave != NULL && !c->closing)
            c->proto->leave(c); /* may close c */
    }
    free(list);
}

void conn_engine_begin_stop(conn_engine_t *e)
{
    size_t n;
    conn_t **list = conn_engine_list(e, &n);
    e->stopping = 1;
    for (size_t i = 0; list != NULL && i < n; i++) {
        list[i]->closing = 1;
        conn_flush(list[i]);
    }
    free(list);
}

int conn_engine_idle(const conn_engine_t *e)
{
    return e->sessions.count == 0;
}

void conn_engine_close_all(conn_engine_t *e)
{
    size_t n;
    conn_t **list = conn_engine_list(e, &n);
    e->stopping = 1;
    for (size_t i = 0; list != NULL && i < n; i++)
        conn_close(list[i], NULL);
    free(list);
}

/* Close connections that sent nothing for heartbeat_idle_time. */
static void conn_heartbeat(int64_t id, void *arg)
{
    (void)id;
    conn_engine_t *e = arg;
    const config_t *cfg = e->cfg;
    int64_t now = loop_now(), idle_ms = cfg->heartbeat_idle_time * 1000LL;
    size_t n;
    conn_t **list = conn_engine_list(e, &n);
    e->heartbeat = 0;
    for (size_t i = 0; list != NULL && i < n; i++) {
        conn_t *c = list[i];
        if (c->closing || now - c->last_recv < idle_ms)
            continue;
        log_info("session %llu: nothing received for %lld s "
                 "(heartbeat_idle_time %d); closing",
                 (unsigned long long)c->session,
                 (long long)((now - c->last_recv) / 1000),
                 cfg->heartbeat_idle_time);
        conn_close(c, NULL);
    }
    free(list);
    conn_heartbeat_arm(e);
}

static void conn_heartbeat_arm(conn_engine_t *e)
{
    if (e->cfg->heartbeat_check_interval <= 0 || e->stopping)
        return;
    e->heartbeat = timer_add(loop_timers(e->loop), loop_now(),
                             e->cfg->heartbeat_check_interval * 1000LL, 0,
                             conn_heartbeat, e);
    if (e->heartbeat < 0) {
        log_error("heartbeat timer: %s", strerror((int)-e->heartbeat));
        e->heartbeat = 0;
    }
}

int conn_engine_init(conn_engine_t *e, loop_t *loop, const config_t *cfg,
                     shm_t *shm, int id, const conn_sink_t *sink,
                     void *sink_ctx)
{
    memset(e, 0, sizeof(*e));
    e->loop = loop;
    e->cfg = cfg;
    e->shm = shm;
    e->id = id;
    e->tag = id;
    e->next_seq = 1;
    e->sink = sink;
    e->sink_ctx = sink_ctx;
    e->rbuf = malloc(CONN_READ_SIZE);
    if (e->rbuf == NULL || session_table_init(&e->sessions, 1024) < 0)
        return -ENOMEM;
    conn_heartbeat_arm(e);
    return 0;
}

void conn_engine_free(conn_engine_t *e)
{
    if (e->heartbeat > 0)
        timer_clear(loop_timers(e->loop), e->heartbeat);
    if (e->warm_timer > 0)
        timer_clear(loop_timers(e->loop), e->warm_timer);
    free(e->rbuf);
    buf_free(&e->scratch);
    buf_free(&e->gather);
    session_table_free(&e->sessions);
    while (e->in_pooled > 0)
        free(e->in_pool[--e->in_pooled]);
}
