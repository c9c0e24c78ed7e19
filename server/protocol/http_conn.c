/* http_conn.c: HTTP/1.1 connections in the reactor. A request is read
 * (head, then a Content-Length or chunked body), answered from the
 * document_root or sent to a worker, and the next one is parsed only once
 * its response is complete, so responses leave in order whichever worker
 * answers. Errors are answered here, then the connection is closed. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "http/access_log.h"
#include "http/http_msg.h"
#include "ipc/shm_http.h"
#include "net/conn.h"
#include "http/http_head.h"
#include "http/http_wire.h"
#include "core/log.h"
#include "protocol/http2_conn.h"
#include "protocol/http_chunked.h"
#include "protocol/http_parser.h"
#include "protocol/http_text.h"
#include "protocol/real_ip.h"
#include "protocol/ws.h"
#include "protocol/ws_conn.h"
#include "http/static_files.h"

/* Chunk extensions and trailers of one body. */
#define HTTP_MAX_META (8 * 1024)
/* While a worker has a request, the connection is still read (a client
 * that leaves is noticed, and no epoll change is made per request) until
 * this much of the next requests is buffered. */
#define HTTP_READ_AHEAD (16 * 1024)

enum http_conn_state {
    HC_HEAD,    /* reading a request head */
    HC_BODY,    /* reading its body */
    HC_WAIT,    /* a worker has the request: what is read waits */
    HC_DRAIN,   /* answered: the next request waits for the output */
    HC_CLOSED,  /* the last response is being written (conn_end) */
};

/* A request whose body is still arriving keeps its parsed head, aimed at
 * a copy of the head's bytes: the input buffer may move as it grows, and
 * the head is never parsed again. */
typedef struct http_kept {
    http_request_t req;
    char head[];
} http_kept_t;

typedef struct http_conn {
    int state;
    size_t scan_line;         /* the head parser's place between reads */
    size_t scan_lead;
    size_t head_len;
    int64_t content_length;   /* -1 when absent */
    int chunked;
    int keep_alive;
    int client_last;          /* the client said the request is its last
                                 (Connection: close, HTTP/1.0 without
                                 keep-alive) */
    http_chunked_t dechunk;
    size_t raw_used;          /* body bytes read (chunked: as sent) */
    size_t body_len;          /* body bytes decoded, at head_len */
    http_kept_t *kept;        /* HC_BODY: the request, when its body
                                 takes more than one read */
    int worker;               /* HC_WAIT: who has the request */
    int started;              /* HC_WAIT: part of the response was sent */
    uint64_t seq;             /* requests given to workers, for probes */
    int probe_timeout;        /* the probe asks after a worker killed past
                                 max_execution_time: 504, not 502 */
    int64_t timer;            /* http_request_timeout, or in HC_WAIT
                                 http_response_timeout: set lazily */
    int64_t timer_at;         /* loop_now() ms when the timer fires */
    int64_t due;              /* when the time is up; 0: nothing timed */
    int slot;                 /* HC_WAIT: counted in shm concurrency */
    /* For the access log and the metrics (http_conn_log): */
    int logging;              /* a request is between its head and its line */
    int status;               /* its response's, from the first bytes */
    int log_worker;           /* the worker it went to, or -1 */
    int64_t t_start;          /* µs: its first byte came; 0 between them */
    int64_t t_dispatch;       /* µs: given to a worker or served here */
    int64_t t_read;           /* µs: t_start, while the input that read
                                 it is being parsed; else 0 */
    uint64_t out_bytes;       /* of its response so far */
    uint64_t out_head;        /* of them, the head's */
    uint64_t in_bytes;        /* head and body as read */
    uint64_t nreq;            /* heads read on this connection */
    buf_t cap;                /* the request's values for the line */
} http_conn_t;

/* What a step of reading requests says: -1 when the connection was
 * closed (touch nothing), else one of these. */
enum http_step {
    HTTP_MORE = 0, /* more bytes are needed */
    HTTP_GO = 1,   /* the state moved on: take the next step */
    HTTP_STOP = 2, /* waiting: for a worker, the output, or the close */
};

/*
 * A connection's one timer (http_conn_timeout) is set lazily: it stays in
 * the loop's heap while requests come and go, and only h->due, when it is
 * to act, moves. When it fires before h->due it goes on to it, so that a
 * keep-alive connection served well within its timeouts changes no timer
 * per request (a timer taken out and put back per request was some 4% of
 * a base-mode worker's own time). Only a due time earlier than the armed
 * one moves the timer itself.
 */
static void http_conn_timeout(int64_t id, void *arg);

/* now_us: the clock (http_conn_now_us) as read a moment ago, or 0 to read
 * it: a request's timers start from the reading its log took anyway. */
static void http_conn_timer_set(conn_t *c, int64_t now_us, long ms)
{
    http_conn_t *h = c->state;
    int64_t now = now_us > 0 ? now_us / 1000 : loop_now();
    h->due = now + ms;
    if (h->timer > 0 && h->timer_at <= h->due)
        return;
    conn_timer_clear(c, h->timer);
    h->timer = conn_timer_add_at(c, now, ms, http_conn_timeout);
    h->timer_at = h->due;
}

/* Nothing is timed until the next http_conn_timer_set: the timer fires
 * for nothing, if at all. */
static void http_conn_timer_pause(conn_t *c)
{
    http_conn_t *h = c->state;
    h->due = 0;
}

/* Before h goes (another protocol takes the connection): no timer may
 * fire on it. */
static void http_conn_timer_stop(conn_t *c)
{
    http_conn_t *h = c->state;
    conn_timer_clear(c, h->timer);
    h->timer = 0;
    h->due = 0;
}

/* Base mode: the worker's own count of the slots it holds, which the
 * manager takes off the server's when the worker dies with them (the
 * master holds them in process mode, and frees them itself). */
static void http_conn_slot_owner(conn_t *c, int64_t d)
{
    if (c->eng->cfg->mode == SERVER_MODE_BASE)
        atomic_fetch_add_explicit(&c->eng->shm->workers[c->eng->id].concurrency,
                                  d, memory_order_relaxed);
}

int http_conn_slot_take(conn_t *c)
{
    _Atomic int64_t *n = &c->eng->shm->concurrency;
    int64_t max = c->eng->cfg->max_concurrency;
    int64_t cur = atomic_load_explicit(n, memory_order_relaxed);
    do {
        if (max > 0 && cur >= max) {
            atomic_fetch_add_explicit(&c->eng->shm->concurrency_rejected, 1,
                                      memory_order_relaxed);
            log_warn("max_concurrency (%d) reached; a request from %s "
                     "refused", c->eng->cfg->max_concurrency, c->peer);
            return 0;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        n, &cur, cur + 1, memory_order_relaxed, memory_order_relaxed));
    http_conn_slot_owner(c, 1);
    return 1;
}

void http_conn_slot_release(conn_t *c)
{
    atomic_fetch_sub_explicit(&c->eng->shm->concurrency, 1,
                              memory_order_relaxed);
    http_conn_slot_owner(c, -1);
}

/* max_concurrency: a slot for a request going to a worker. A compare
 * and swap, so that the reactors together never admit more than the
 * limit and a refusal never counts. 1 when taken. */
static int http_conn_admit(conn_t *c)
{
    http_conn_t *h = c->state;
    if (!http_conn_slot_take(c))
        return 0;
    h->slot = 1;
    return 1;
}

/* The request left the worker's hands: answered, given up, or its
 * connection gone. Idempotent. */
static void http_conn_release(conn_t *c)
{
    http_conn_t *h = c->state;
    if (!h->slot)
        return;
    h->slot = 0;
    http_conn_slot_release(c);
}

/* The server closes after what is queued (linger: a lingering close, see
 * conn_end). HTTP_STOP, or -1 when the connection was closed. */
static int http_conn_end(conn_t *c, int linger)
{
    http_conn_t *h = c->state;
    http_conn_release(c);
    h->state = HC_CLOSED;
    http_conn_timer_pause(c);
    return conn_end(c, linger) < 0 ? -1 : HTTP_STOP;
}

static int http_conn_finish(conn_t *c)
{
    return http_conn_end(c, 1);
}

/* ---- the access log and the metrics ---- */

static int64_t http_conn_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* A head was read: a request begins for the log, its values captured if
 * the listener logs them (the head's bytes are gone by its end). */
static void http_conn_log_begin(conn_t *c, const http_request_t *req)
{
    http_conn_t *h = c->state;
    const access_fmt_t *f = access_log_format(c->listener);
    if (h->t_start == 0)
        h->t_start = http_conn_now_us();
    h->logging = 1;
    h->status = 0;
    h->log_worker = -1;
    h->out_bytes = h->out_head = 0;
    h->in_bytes = req != NULL ? h->head_len : 0;
    h->nreq++;
    if (f == NULL || !access_fmt_wants_request(f))
        return;
    char client[REAL_IP_LEN];
    http_wire_peer_t p = {c->peer_addr, c->peer_port, NULL, 0};
    if (req != NULL)
        p = http_conn_peer(c, req, client);
    else if (c->proxy_addr[0] != '\0')
        p.proxy_addr = c->proxy_addr;
    access_req_t r = {req, p.addr, p.port, p.proxy_addr};
    if (access_fmt_capture(f, &r, &h->cap) < 0)
        log_warn("session %llu: access log: out of memory for the request's "
                 "values", (unsigned long long)c->session);
}

/* The request's response ended (or the connection did): count it, and
 * write its access log line. force: also without a head read (an error
 * answered before one was). */
static int64_t http_conn_log(conn_t *c, int force)
{
    http_conn_t *h = c->state;
    if (!h->logging && !force)
        return 0;
    if (!h->logging)
        http_conn_log_begin(c, NULL);
    int64_t now = http_conn_now_us();
    int status = h->status != 0 ? h->status : 499; /* nginx's: no response */
    if (h->t_start == 0) /* no byte of it was read (cannot happen) */
        h->t_start = now;
    shm_http_count(c->eng->shm->http, c->listener, c->eng->id, status,
                   now - h->t_start);
    if (access_log_format(c->listener) != NULL) {
        access_resp_t r = {
            .status = status, .bytes_sent = h->out_bytes,
            .body_bytes_sent = h->out_bytes - h->out_head,
            .request_length = h->in_bytes, .request_us = now - h->t_start,
            .response_us = h->t_dispatch != 0 ? now - h->t_dispatch : 0,
            .worker_id = h->log_worker,
            .connection = c->session, .connection_requests = h->nreq,
            .ssl_protocol = conn_tls_version(c)};
        access_log_line(c->listener, c->eng->id, &h->cap, &r);
    }
    h->logging = 0;
    h->t_start = h->t_dispatch = 0;
    return now;
}

/* The "\r\n\r\n" that ends a response's head, or NULL: memchr from CR to
 * CR costs less than memmem on a head of a few lines (0.8% of a base-mode
 * worker's time under wrk went to memmem here). */
static const char *http_conn_head_end(const char *p, size_t len)
{
    const char *e = p + len;
    while (e - p >= 4 && (p = memchr(p, '\r', (size_t)(e - p) - 3)) != NULL) {
        if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n')
            return p;
        p++;
    }
    return NULL;
}

/* Bytes for the client: the status and the head's length come from the
 * first bytes of a response (a head is always written whole); an interim
 * 100 Continue is not the response. */
static void http_conn_output(conn_t *c, const void *data, size_t len)
{
    http_conn_t *h = c->state;
    if (h == NULL || !h->logging)
        return;
    h->out_bytes += len;
    const char *p = data;
    if (h->status != 0 || p == NULL || len < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return;
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status >= 100 && status < 200 && status != 101) {
        h->out_bytes -= len;
        return;
    }
    h->status = status;
    const char *end = http_conn_head_end(p, len);
    h->out_head = end != NULL ? (uint64_t)(end + 4 - p) : len;
}

/* A head (http_head.c) and body bytes after it, in one write from the
 * reactor's scratch buffer. 0, or -1 when the connection was closed. */
static int http_conn_respond(conn_t *c, const http_head_t *head,
                             const char *body, size_t len)
{
    buf_t *out = conn_scratch(c);
    int rc = http_head_append(out, head);
    if (rc == 0 && buf_append(out, body, len) < 0)
        rc = -ENOMEM;
    if (rc < 0)
        conn_close(c, "out of memory for a response");
    else
        rc = conn_write(c, buf_head(out), buf_pending(out));
    conn_scratch_done(out);
    return rc < 0 ? -1 : 0;
}

/* An error answered by the reactor, then close. extra: more header
 * lines, or NULL. HTTP_STOP or -1. */
static int http_conn_fail_with(conn_t *c, int status, const char *extra)
{
    http_conn_t *h = c->state;
    char body[64];
    const char *reason = http_reason(status);
    log_info("session %llu (peer %s): %d %s; closing",
             (unsigned long long)c->session, c->peer, status, reason);
    int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);
    size_t len = n < (int)sizeof(body) ? (size_t)n : sizeof(body) - 1;
    http_head_lines_t lines[] = {
        {"Content-Type: text/plain; charset=utf-8\r\n", 0},
        {extra, 0},
    };
    http_head_t head = {.status = status, .framing = HTTP_HEAD_LENGTH,
                        .length = len, .conn = HTTP_HEAD_CLOSE,
                        .lines = lines, .nlines = 2};
    if (h->logging == 0 && h->state == HC_HEAD)
        http_conn_log_begin(c, NULL); /* no head was read: "-" */
    if (http_conn_respond(c, &head, body, len) < 0)
        return -1;
    http_conn_log(c, 1);
    return http_conn_finish(c);
}

static int http_conn_fail(conn_t *c, int status)
{
    return http_conn_fail_with(c, status, NULL);
}

/* The worker's response will not come: status when nothing of it was
 * sent, else a close (the response cannot be completed). */
static void http_conn_give_up(conn_t *c, int status)
{
    http_conn_t *h = c->state;
    if (h->started)
        conn_close(c, NULL);
    else
        http_conn_fail(c, status);
}

/* The worker was silent for http_response_timeout. */
static void http_conn_response_expired(conn_t *c)
{
    http_conn_t *h = c->state;
    int secs = conn_listener(c)->http_response_timeout;
    log_warn("session %llu (peer %s): worker %d sent %s in %d s "
             "(http_response_timeout); %s",
             (unsigned long long)c->session, c->peer, h->worker,
             h->started ? "no more of the response" : "no response", secs,
             h->started ? "closing" : "answering 504");
    http_conn_give_up(c, 504);
}

static void http_conn_timeout(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    http_conn_t *h = c->state;
    h->timer = 0;
    if (h->due == 0)
        return;
    int64_t now = loop_now();
    if (h->due > now) { /* moved on since the timer was set */
        h->timer = conn_timer_add_at(c, now, (long)(h->due - now),
                                     http_conn_timeout);
        h->timer_at = h->due;
        if (h->timer > 0)
            return;
        /* No memory for the timer: the time is up now. */
    }
    h->due = 0;
    if (h->state == HC_WAIT) {
        http_conn_response_expired(c);
        return;
    }
    if (h->state == HC_HEAD && buf_pending(&c->in) == 0) {
        log_debug("session %llu: idle for http_request_timeout; closing",
                  (unsigned long long)c->session);
        conn_close(c, NULL);
        return;
    }
    http_conn_fail(c, 408);
}

/* Ready for the next request: its time starts now (now_us: the clock as
 * read a moment ago, or 0). */
static void http_conn_expect_request(conn_t *c, int64_t now_us)
{
    http_conn_t *h = c->state;
    h->state = HC_HEAD;
    h->scan_line = h->scan_lead = 0;
    conn_in_idle(c); /* unless a pipelined request waits in it */
    http_conn_timer_set(c, now_us,
                        conn_listener(c)->http_request_timeout * 1000L);
}

/* Whether the reactor reads c, by what c waits for. While a worker has a
 * request, reading goes on (a client that leaves is noticed, and no epoll
 * change is made per request) only until HTTP_READ_AHEAD of the next
 * requests is buffered: whatever step changed the state (a read, a
 * response's end, the output drained), the input held for one
 * connection is at most that plus one read. */
static void http_conn_set_reading(conn_t *c)
{
    http_conn_t *h = c->state;
    if (h->state == HC_WAIT && buf_pending(&c->in) > HTTP_READ_AHEAD)
        conn_hold(c, CONN_HOLD_WATCH);
    else if (h->state == HC_DRAIN)
        conn_hold(c, CONN_HOLD);
    else if (h->state != HC_CLOSED)
        conn_hold(c, CONN_READ);
}

/* A response is complete: close, wait for the output, or read the next
 * request (HTTP_GO; the caller takes it, so that pipelined requests are
 * read in a loop, never by recursion). */
static int http_conn_done(conn_t *c, int close)
{
    http_conn_t *h = c->state;
    http_conn_release(c);
    http_conn_timer_pause(c);
    int64_t now = http_conn_log(c, 0);
    /* A client that said this request was its last, and sent nothing
     * after it that was read, sends no more (RFC 9112, 9.6): no lingering
     * close, as nginx. The server's own reasons to close (keep-alive off,
     * a stop, a leaving worker, the plugin's Connection: close) may meet
     * requests the client already sent: those linger. */
    if (close || !h->keep_alive || conn_stopping(c))
        return http_conn_end(c, !(h->client_last && buf_pending(&c->in) == 0));
    if (conn_pending(c)) {
        h->state = HC_DRAIN;
        return HTTP_STOP;
    }
    http_conn_expect_request(c, now);
    return HTTP_GO;
}

/* ---- from the head to a complete request ---- */

/* The listener's head limits, for http_parse_head. */
static http_limits_t http_conn_limits(const conn_t *c)
{
    const config_listener_t *l = conn_listener(c);
    return (http_limits_t){.max_head = l->http_max_head_size,
                           .max_uri = l->http_max_uri_size};
}

static int http_conn_has_body(const http_conn_t *h)
{
    return h->chunked || h->content_length > 0;
}

/* The 101's fields but Connection: Upgrade, the accept key, and the
 * permessage-deflate agreed to, if any (bits: the client's window). */
static void http_conn_upgrade_fields(char *out, size_t size,
                                     const char *accept, int deflate,
                                     int bits)
{
    int n = snprintf(out, size, "Upgrade: websocket\r\n"
                     "Sec-WebSocket-Accept: %s\r\n", accept);
    if (!deflate || n < 0 || (size_t)n >= size)
        return;
    n += snprintf(out + n, size - (size_t)n,
                  "Sec-WebSocket-Extensions: permessage-deflate; "
                  "server_no_context_takeover; client_no_context_takeover");
    if (bits < 15 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n,
                      "; server_max_window_bits=%d", bits);
    if ((size_t)n < size)
        snprintf(out + n, size - (size_t)n, "\r\n");
}

/* Who sent req: the connection's peer, or the client a trusted peer
 * names in real_ip_header; then the peer is the proxy (unless a PROXY
 * header made it the client already, and the socket's peer is kept). */
http_wire_peer_t http_conn_peer(const conn_t *c, const http_request_t *req,
                                char client[REAL_IP_LEN])
{
    const config_listener_t *l = conn_listener(c);
    http_wire_peer_t p = {c->peer_addr, c->peer_port,
                          c->proxy_addr[0] != '\0' ? c->proxy_addr : NULL,
                          c->proxy_port};
    if (l->real_ip_from.n == 0 ||
        !real_ip_find(req, l->real_ip_header, &l->real_ip_from, c->peer_addr,
                      client))
        return p;
    if (p.proxy_addr == NULL) {
        p.proxy_addr = c->peer_addr;
        p.proxy_port = c->peer_port;
    }
    p.addr = client;
    p.port = 0;
    return p;
}

static int http_conn_upgrade(conn_t *c, const http_request_t *req)
{
    http_conn_t *h = c->state;
    char accept[WS_ACCEPT_LEN + 1], fields[320];
    int rc = ws_handshake(req, accept);
    if (rc == -426)
        return http_conn_fail_with(c, 426, "Sec-WebSocket-Version: 13\r\n");
    if (rc < 0 || http_conn_has_body(h))
        return http_conn_fail(c, 400);
    int bits = 0;
    int deflate = conn_listener(c)->websocket_compression &&
                  ws_deflate_negotiate(req, &bits) == 1;
    http_conn_upgrade_fields(fields, sizeof(fields), accept, deflate, bits);
    http_head_lines_t lines[] = {{fields, 0}};
    http_head_t head = {.status = 101, .conn = HTTP_HEAD_UPGRADE,
                        .lines = lines, .nlines = 1};
    /* The worker's message first, then the 101 behind it in the same
     * buffer: nothing is written unless both could be made. */
    buf_t *wire = conn_scratch(c);
    char client[REAL_IP_LEN];
    http_wire_peer_t peer = http_conn_peer(c, req, client);
    rc = http_wire_encode(wire, req, NULL, 0, &peer);
    size_t wlen = buf_pending(wire);
    if (rc == 0)
        rc = http_head_append(wire, &head);
    if (rc < 0) {
        conn_scratch_done(wire);
        conn_close(c, "out of memory for a request");
        return -1;
    }
    if (conn_write(c, buf_head(wire) + wlen, buf_pending(wire) - wlen) < 0) {
        conn_scratch_done(wire);
        return -1;
    }
    int w = conn_route(c);
    h->log_worker = w;
    http_conn_log(c, 0);
    conn_submit(c, w, WS_MSG_OPEN, buf_head(wire), wlen, 1);
    conn_scratch_done(wire);
    buf_consume(&c->in, h->head_len);
    http_conn_timer_stop(c);
    buf_free(&h->cap);
    free(h);
    return ws_conn_start(c, w, bits) < 0 ? -1 : HTTP_STOP;
}

/* (Re)start the wait for the worker's next part of the response (now_us:
 * the clock as read a moment ago, or 0). */
static void http_conn_response_wait(conn_t *c, int64_t now_us)
{
    int secs = conn_listener(c)->http_response_timeout;
    if (secs > 0)
        http_conn_timer_set(c, now_us, secs * 1000L);
}

/* Send the request to a worker and wait for its response; past
 * max_concurrency, refuse it at once (503) instead. */
static int http_conn_dispatch(conn_t *c, const http_request_t *req)
{
    http_conn_t *h = c->state;
    if (!http_conn_admit(c))
        return http_conn_fail_with(c, 503, "Retry-After: 1\r\n");
    buf_t *wire = conn_scratch(c);
    const char *body = buf_head(&c->in) + h->head_len;
    char client[REAL_IP_LEN];
    http_wire_peer_t peer = http_conn_peer(c, req, client);
    if (http_wire_encode(wire, req, body, h->body_len, &peer) < 0) {
        conn_scratch_done(wire);
        conn_close(c, "out of memory for a request"); /* frees the slot */
        return -1;
    }
    h->worker = conn_route(c);
    h->log_worker = h->worker;
    h->state = HC_WAIT;
    h->started = 0;
    h->seq++;
    http_conn_response_wait(c, h->t_dispatch); /* read by the caller */
    conn_submit(c, h->worker, HTTP_MSG_REQUEST, buf_head(wire),
                   buf_pending(wire), 1);
    conn_scratch_done(wire);
    buf_consume(&c->in, h->head_len + h->raw_used);
    return HTTP_STOP;
}

/* The whole request is in c->in, its head parsed as req: a static file,
 * or a worker's turn. */
static int http_conn_complete(conn_t *c, const http_request_t *req)
{
    http_conn_t *h = c->state;
    http_conn_timer_pause(c);
    h->in_bytes = h->head_len + h->raw_used;
    /* A request whole in the read that began it is dispatched at the
     * time that read took (its parsing is in the response's time). */
    h->t_dispatch = h->t_read != 0 ? h->t_read : http_conn_now_us();
    h->t_read = 0;
    const char *root = conn_listener(c)->document_root;
    int served = root != NULL ? static_serve(c, conn_listener(c), req) : 0;
    int rc;
    if (served < 0)
        return -1;
    if (served == 0) {
        rc = http_conn_dispatch(c, req);
    } else if (served >= 400) {
        rc = http_conn_fail(c, served);
    } else {
        buf_consume(&c->in, h->head_len + h->raw_used);
        rc = http_conn_done(c, 0);
    }
    if (rc >= 0) { /* else h went with the connection */
        free(h->kept);
        h->kept = NULL;
    }
    return rc;
}

/* The body is still arriving: keep req, aimed at a copy of the head, for
 * the input buffer may move before the body is whole. HTTP_MORE, or -1
 * when the connection was closed. */
static int http_conn_keep(conn_t *c, const http_request_t *req)
{
    http_conn_t *h = c->state;
    http_kept_t *k = malloc(sizeof(*k) + h->head_len);
    if (k == NULL) {
        conn_close(c, "out of memory for a request");
        return -1;
    }
    memcpy(k->head, buf_head(&c->in), h->head_len);
    k->req = *req;
    http_request_rebase(&k->req, buf_head(&c->in), k->head);
    h->kept = k;
    return HTTP_MORE;
}

/* 100 Continue: the client may send the body. 0, or -1 when the
 * connection was closed. */
static int http_conn_continue(conn_t *c)
{
    http_head_t head = {.status = 100};
    return http_conn_respond(c, &head, NULL, 0);
}

/* The HTTP/1.1 state goes: the connection becomes another protocol's. */
static void http_conn_drop(conn_t *c)
{
    http_conn_t *h = c->state;
    http_conn_timer_stop(c);
    buf_free(&h->cap);
    free(h->kept);
    free(h);
    c->state = NULL;
}

/* Upgrade: h2c with HTTP2-Settings on a body-less request (RFC 7540 3.2;
 * one with a body is served as HTTP/1.1, which the client must accept).
 * HTTP_GO when it is not one, else HTTP_STOP or -1. */
static int http_conn_h2c(conn_t *c, const http_request_t *req)
{
    http_conn_t *h = c->state;
    size_t ul, sl;
    const char *up = http_header_get(req, "upgrade", &ul);
    const char *set = http_header_get(req, "http2-settings", &sl);
    if (up == NULL || set == NULL || req->version != 1 || h->kept != NULL ||
        ul < 3 || memmem(up, ul, "h2c", 3) == NULL)
        return HTTP_GO;
    size_t head_len = h->head_len;
    http_conn_drop(c);
    return http2_conn_upgrade(c, req, head_len, set, sl) < 0 ? -1 : HTTP_STOP;
}

/* open_http2_protocol: a connection whose first bytes are the HTTP/2
 * preface is HTTP/2 by prior knowledge. 1 while more bytes must decide,
 * -1 when it became HTTP/2 (or closed), 0 when it is HTTP/1.x. */
static int http_conn_prior_knowledge(conn_t *c)
{
    http_conn_t *h = c->state;
    if (!conn_listener(c)->open_http2_protocol || h->nreq > 0 ||
        h->state != HC_HEAD)
        return 0;
    int m = http2_preface_match(buf_head(&c->in), buf_pending(&c->in));
    if (m <= 0)
        return m < 0 ? 0 : 1;
    http_conn_drop(c);
    http2_conn_start(c);
    return -1;
}

/* Parse the head into req, once: a head still arriving is scanned on
 * from where the last read left it (scan_line, scan_lead). */
static int http_conn_read_head(conn_t *c, http_request_t *req)
{
    http_conn_t *h = c->state;
    if (buf_pending(&c->in) == 0) /* the buffer may be released: no data */
        return HTTP_MORE;
    http_request_init(req);
    req->scan_line = h->scan_line;
    req->scan_lead = h->scan_lead;
    http_limits_t lim = http_conn_limits(c);
    int n = http_parse_head(buf_head(&c->in), buf_pending(&c->in), &lim, req);
    h->scan_line = req->scan_line;
    h->scan_lead = req->scan_lead;
    if (n <= 0)
        return n == 0 ? HTTP_MORE : http_conn_fail(c, -n);
    size_t max = conn_listener(c)->package_max_length;
    h->head_len = (size_t)n;
    h->content_length = req->content_length;
    h->chunked = req->chunked;
    /* A leaving worker answers with Connection: close (static files, the
     * plugin's response) and closes after it. */
    h->client_last = !req->keep_alive;
    if (conn_leaving(c))
        req->keep_alive = 0;
    h->keep_alive = req->keep_alive;
    h->raw_used = h->body_len = 0;
    if (conn_listener(c)->open_http2_protocol && !http_conn_has_body(h)) {
        int rc = http_conn_h2c(c, req);
        if (rc != HTTP_GO)
            return rc;
    }
    http_conn_log_begin(c, req);
    if (req->upgrade_websocket &&
        conn_listener(c)->protocol == PROTOCOL_WEBSOCKET)
        return http_conn_upgrade(c, req);
    if (h->content_length > 0 && (uint64_t)h->content_length > max)
        return http_conn_fail(c, 413);
    if (h->chunked)
        http_chunked_init(&h->dechunk, max, HTTP_MAX_META);
    h->state = HC_BODY;
    if (req->expect_continue && http_conn_has_body(h) &&
        buf_pending(&c->in) == h->head_len && http_conn_continue(c) < 0)
        return -1;
    return HTTP_GO;
}

/* HTTP_GO when the body is complete, HTTP_MORE, or a failure's result. */
static int http_conn_read_body(conn_t *c)
{
    http_conn_t *h = c->state;
    size_t have = buf_pending(&c->in) - h->head_len;
    if (!h->chunked) {
        size_t want = h->content_length > 0 ? (size_t)h->content_length : 0;
        if (have < want)
            return HTTP_MORE;
        h->raw_used = h->body_len = want;
        return HTTP_GO;
    }
    char *body = buf_head(&c->in) + h->head_len;
    size_t used = 0, out = 0;
    int rc = http_chunked_decode(&h->dechunk, body + h->raw_used,
                                 have - h->raw_used, body + h->body_len,
                                 &used, &out);
    h->raw_used += used;
    h->body_len += out;
    if (rc < 0)
        return http_conn_fail(c, -rc);
    return rc == 1 ? HTTP_GO : HTTP_MORE;
}

/* Read requests from what is buffered until one waits for a worker or
 * more bytes, then decide whether to read on. Each head is parsed once:
 * into fresh, used before this call returns when its body is here, else
 * kept (http_conn_keep) for the read that completes it. 0, or -1 when the
 * connection was closed. */
static int http_conn_advance(conn_t *c)
{
    http_conn_t *h = c->state;
    http_request_t fresh;
    const http_request_t *req = h->kept != NULL ? &h->kept->req : NULL;
    int rc = HTTP_GO;
    while (rc == HTTP_GO) {
        if (h->state == HC_HEAD) {
            rc = http_conn_read_head(c, &fresh);
            req = &fresh;
        } else if (h->state == HC_BODY) {
            rc = http_conn_read_body(c);
            if (rc == HTTP_GO)
                rc = http_conn_complete(c, req);
            else if (rc == HTTP_MORE && req == &fresh)
                rc = http_conn_keep(c, req);
        } else {
            rc = HTTP_STOP;
        }
    }
    if (rc < 0)
        return -1;
    if (c->proto == &http_conn_proto) /* not upgraded */
        http_conn_set_reading(c);
    return 0;
}

/* ---- the hooks ---- */

static int http_conn_open(conn_t *c)
{
    http_conn_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    c->state = h;
    http_conn_expect_request(c, 0);
    return h->timer < 0 ? (int)h->timer : 0;
}

static void http_conn_input(conn_t *c, const char *data, size_t len)
{
    http_conn_t *h = c->state;
    int64_t read_at = 0;
    if (h->t_start == 0) /* the first byte of the next request */
        h->t_start = read_at = http_conn_now_us();
    conn_in_ready(c);
    if (buf_append(&c->in, data, len) < 0) {
        conn_close(c, "out of memory for the input buffer");
        return;
    }
    if (http_conn_prior_knowledge(c) != 0)
        return;
    h->t_read = read_at;
    if (http_conn_advance(c) == 0) {
        /* h went if the connection changed protocol (WebSocket, h2c). */
        if (c->proto == &http_conn_proto)
            ((http_conn_t *)c->state)->t_read = 0;
        buf_trim(&c->in, CONN_IN_KEEP);
    }
}

/* The reactor opens the file the worker checked, and only that one. */
static void http_conn_sendfile(conn_t *c, const conn_msg_t *m)
{
    http_msg_sendfile_t sf;
    const char *path = m->data + sizeof(sf);
    if (m->len <= sizeof(sf) || m->data[m->len - 1] != '\0' ||
        strlen(path) != m->len - sizeof(sf) - 1) {
        log_warn("channel: malformed HTTP_MSG_SENDFILE dropped");
        conn_close(c, "the response cannot be completed");
        return;
    }
    memcpy(&sf, m->data, sizeof(sf));
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_dev != sf.dev ||
        (uint64_t)st.st_ino != sf.ino || !S_ISREG(st.st_mode)) {
        log_error("session %llu: sendfile %s: %s", (unsigned long long)c->session,
                  path, fd < 0 ? strerror(errno) : "not the file the worker "
                  "checked");
        if (fd >= 0)
            close(fd);
        conn_close(c, NULL);
        return;
    }
    conn_write_file(c, fd, (off_t)sf.offset, sf.length);
}

/* Worker l->worker was replaced after a crash, or after it was killed
 * past max_execution_time: does the new process hold our request? It
 * answers after every request queued before this probe. */
static void http_conn_worker_lost(conn_t *c, const conn_lost_t *l)
{
    http_conn_t *h = c->state;
    if (h->state != HC_WAIT || h->worker != l->worker)
        return;
    h->probe_timeout = l->timeout;
    conn_submit(c, l->worker, HTTP_MSG_PROBE, &h->seq, sizeof(h->seq), 0);
}

/* Worker b->worker is backing off: a request waiting on it, or refused,
 * is answered now: nothing of it ran, so 503 and a Retry-After; 502 when
 * an earlier process of the worker died holding requests it had taken. */
static void http_conn_worker_backoff(conn_t *c, const conn_backoff_t *b)
{
    http_conn_t *h = c->state;
    char extra[40];
    if (h->state != HC_WAIT || (!b->refused && h->worker != b->worker))
        return;
    if (b->lost || h->started) {
        log_warn("session %llu (peer %s): worker %d died with the request "
                 "and is backing off; answering 502",
                 (unsigned long long)c->session, c->peer, h->worker);
        http_conn_give_up(c, 502);
        return;
    }
    snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", b->retry_after);
    http_conn_fail_with(c, 503, extra);
}

/* The probe's answer: the request died with the process that took it. */
static void http_conn_request_lost(conn_t *c, const conn_msg_t *m)
{
    http_conn_t *h = c->state;
    uint64_t seq;
    if (m->len != sizeof(seq))
        return;
    memcpy(&seq, m->data, sizeof(seq));
    if (seq != h->seq)
        return; /* answered, and another request is in a worker now */
    if (h->probe_timeout) {
        log_warn("session %llu (peer %s): worker %d was killed past "
                 "max_execution_time with the request%s; %s",
                 (unsigned long long)c->session, c->peer, h->worker,
                 h->started ? " half answered" : "",
                 h->started ? "closing" : "answering 504");
        conn_count_stuck(c);
        http_conn_give_up(c, 504);
        return;
    }
    log_warn("session %llu (peer %s): worker %d died with the request%s; "
             "answering 502", (unsigned long long)c->session, c->peer,
             h->worker, h->started ? " half answered" : "");
    http_conn_give_up(c, 502);
}

/* Part of the response reached the output queue: the worker is alive. */
static void http_conn_sent(conn_t *c)
{
    http_conn_t *h = c->state;
    if (h->state != HC_WAIT)
        return;
    h->started = 1;
    http_conn_response_wait(c, 0);
}

static void http_conn_deliver(conn_t *c, const conn_msg_t *m)
{
    http_conn_t *h = c->state;
    if (h->state != HC_WAIT) {
        log_debug("session %llu: message type %d with no request in flight "
                  "dropped", (unsigned long long)c->session, m->type);
    } else if (m->type == HTTP_MSG_END && m->len >= 1) {
        /* The flags, then the response's last bytes, if any (an
         * HTTP/1.1 worker wrote its trailers into its last chunk). */
        http_wire_end_t end;
        if (http_wire_end_decode(m->data, m->len, &end) < 0) {
            conn_close(c, "a malformed HTTP_MSG_END from the worker");
            return;
        }
        if (end.len > 0 && conn_write(c, end.data, end.len) < 0)
            return;
        int rc = http_conn_done(c, end.flags & HTTP_MSG_END_CLOSE);
        if (rc == HTTP_GO)
            http_conn_advance(c);
        else if (rc == HTTP_STOP)
            http_conn_set_reading(c);
    } else if (m->type == HTTP_MSG_LOST) {
        http_conn_request_lost(c, m);
    } else if (m->type == HTTP_MSG_SENDFILE) {
        http_conn_sent(c);
        http_conn_sendfile(c, m);
    } else {
        log_warn("session %llu: message type %d (%zu bytes) is not for an "
                 "HTTP connection; dropped", (unsigned long long)c->session,
                 m->type, m->len);
    }
}

static int http_conn_drained(conn_t *c)
{
    http_conn_t *h = c->state;
    if (h->state != HC_DRAIN)
        return 0;
    if (conn_stopping(c))
        return http_conn_finish(c) < 0 ? -1 : 0;
    http_conn_expect_request(c, 0);
    return http_conn_advance(c);
}

/* The server stops. A request already at a worker is answered (with
 * Connection: close, see http_conn_done); a request the client had sent
 * before the stop, found in the socket, is served too. An idle
 * connection closes now, and a request still arriving is refused with
 * 503, never read in part and dropped. */
static void http_conn_quiesce(conn_t *c)
{
    http_conn_t *h = c->state;
    if (h->state == HC_HEAD && buf_pending(&c->in) == 0 &&
        (conn_read_once(c) < 0 || c->proto != &http_conn_proto))
        return;
    h = c->state;
    if (h->state == HC_HEAD && buf_pending(&c->in) == 0)
        http_conn_finish(c);
    else if (h->state == HC_HEAD || h->state == HC_BODY)
        http_conn_fail_with(c, 503, "Retry-After: 1\r\n");
}

static void http_conn_close(conn_t *c, int notify)
{
    http_conn_t *h = c->state;
    http_conn_release(c);
    conn_timer_clear(c, h->timer);
    /* The worker holding the request frees its response on IPC_CLOSE;
     * one that will not get it is told here. */
    if (notify && h->state == HC_WAIT &&
        (!conn_fixed(c) || h->worker != c->worker))
        conn_submit(c, h->worker, HTTP_MSG_ABORT, NULL, 0, 0);
    http_conn_log(c, 0); /* a request cut short: 499 if nothing was sent */
    buf_free(&h->cap);
    free(h->kept);
    free(h);
    c->state = NULL;
}

const conn_proto_t http_conn_proto = {
    .name = "http",
    .open = http_conn_open,
    .input = http_conn_input,
    .deliver = http_conn_deliver,
    .sent = http_conn_sent,
    .worker_lost = http_conn_worker_lost,
    .worker_backoff = http_conn_worker_backoff,
    .drained = http_conn_drained,
    .quiesce = http_conn_quiesce,
    .close = http_conn_close,
    .output = http_conn_output,
};
