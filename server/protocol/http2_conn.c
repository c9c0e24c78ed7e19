/* http2_conn.c: HTTP/2 connections in the reactor, on libnghttp2's server
 * session: each stream's request goes to a worker (or the document_root)
 * as the same request message HTTP/1.1 sends, the worker's response comes
 * back as HTTP/1.1 bytes in HTTP_MSG_STREAM envelopes, and is turned into
 * HEADERS (HPACK) and DATA frames that honour flow control; a stream's
 * pending output is its own, so a slow stream never stalls the others.
 * The floods HTTP/2 is known for are counted and answered with GOAWAY. */
#include "protocol/http2_conn.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "core/log.h"
#include "http/access_log.h"
#include "http/http_head.h"
#include "http/http_msg.h"
#include "http/http_wire.h"
#include "http/static_files.h"
#include "ipc/shm_http.h"
#include "protocol/base64.h"
#include "protocol/http_text.h"

/* Stop pulling frames from the session while this much waits in the
 * connection's output queue: the rest stays in the streams, where flow
 * control and priorities still apply. */
#define H2_OUT_HIGH (64 * 1024)
/* The window in which floods are counted, ms. */
#define H2_FLOOD_WINDOW 1000
/* Control frames (SETTINGS, PING, PRIORITY, empty DATA) per window. */
#define H2_CTRL_MAX 500
/* CONTINUATION frames after one HEADERS (nghttp2 1.61 refuses a 9th
 * with PROTOCOL_ERROR; this limit answers first, and in any version). */
#define H2_CONT_MAX 6
/* A decoded header list this many times the cap is a bomb, not a mistake. */
#define H2_BOMB_FACTOR 16
/* How often stalled streams and silent workers are looked for, ms. */
#define H2_TICK 1000

enum h2_stream_state {
    H2S_HEAD,   /* headers arriving */
    H2S_BODY,   /* the body arriving */
    H2S_WAIT,   /* a worker has the request */
    H2S_REPLY,  /* the response is ours to send (all of it is here) */
};

typedef struct h2_stream {
    int32_t id;
    int state;
    buf_t fields;             /* decoded headers: u32 name_len, u32
                                 value_len, name, NUL, value, NUL */
    size_t nfields;
    size_t list_size;         /* decoded size, RFC 7541's measure */
    buf_t body;               /* the request's */
    int refused;              /* answered early (413, 431): input dropped */
    int early;                /* answered before its request was whole */
    int dropped;              /* refused unread (REFUSED_STREAM): no log */
    int worker;               /* H2S_WAIT: who has it */
    int probe_timeout;        /* the probe asks after a worker killed past
                                 max_execution_time: 504, not 502 */
    int slot;                 /* counted in max_concurrency */
    /* The response: the worker's HTTP/1.1 head, then the body. */
    buf_t head;
    int head_done;
    int head_only;            /* HEAD: the body is never sent */
    buf_t out;                /* body bytes not yet in DATA frames */
    int fd;                   /* a file to send after out, or -1 */
    off_t file_off;
    uint64_t file_left;
    int ended;                /* nothing more comes for the body */
    buf_t trailers;           /* the worker's trailer lines: a HEADERS
                                 frame with END_STREAM after the body */
    int64_t moved;            /* ms: output last moved, or the worker spoke */
    /* The access log and the metrics. out_bytes: all of the response;
     * out_head: its head and trailers, each counted as its HTTP/1.1
     * lines (what is not body). */
    int status;
    int64_t t_start, t_dispatch; /* µs */
    uint64_t out_bytes, out_head, in_bytes;
    buf_t cap;
    struct h2_stream *prev, *next;
} h2_stream_t;

typedef struct http2_conn {
    nghttp2_session *s;
    h2_stream_t *streams;     /* every open one */
    size_t buffered;          /* response bytes held in streams */
    size_t body_held;         /* request body bytes held in streams */
    int64_t tick;             /* the H2_TICK timer, while streams are open */
    int64_t window_start;     /* ms: the flood window */
    int resets, ctrl;         /* in it */
    int cont;                 /* CONTINUATIONs of the header block */
    int calm;                 /* GOAWAY queued: the connection ends */
    int left;                 /* GOAWAY(NO_ERROR) sent: the worker leaves */
    int64_t idle_since;       /* ms: the last stream closed */
    uint64_t nreq;
    h2_stream_t *serving;     /* static_serve_to's stream */
    conn_t *c;
    int flush_later;          /* a flush waits for the end of the loop run */
} http2_conn_t;

static int64_t h2_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int http2_preface_match(const char *data, size_t len)
{
    size_t n = len < HTTP2_PREFACE_LEN ? len : HTTP2_PREFACE_LEN;
    if (memcmp(data, HTTP2_PREFACE, n) != 0)
        return -1;
    return len >= HTTP2_PREFACE_LEN ? 1 : 0;
}

/* ---- floods ---- */

/* One more event of a kind counted per window (*n); past max the client
 * is told to calm down and the connection ends after what is queued. */
static int h2_flood(http2_conn_t *h, int *n, int max, const char *what)
{
    int64_t now = loop_now();
    if (now - h->window_start >= H2_FLOOD_WINDOW) {
        h->window_start = now;
        h->resets = h->ctrl = 0;
    }
    if (++*n <= max || h->calm)
        return h->calm ? -1 : 0;
    log_warn("session %llu (peer %s): %s (more than %d in %d ms); GOAWAY",
             (unsigned long long)h->c->session, h->c->peer, what, max,
             H2_FLOOD_WINDOW);
    h->calm = 1;
    nghttp2_session_terminate_session(h->s, NGHTTP2_ENHANCE_YOUR_CALM);
    return -1;
}

static void h2_calm(http2_conn_t *h, const char *why)
{
    if (h->calm)
        return;
    log_warn("session %llu (peer %s): %s; GOAWAY",
             (unsigned long long)h->c->session, h->c->peer, why);
    h->calm = 1;
    nghttp2_session_terminate_session(h->s, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* ---- streams ---- */

static h2_stream_t *h2_stream_new(http2_conn_t *h, int32_t id)
{
    h2_stream_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->id = id;
    st->fd = -1;
    st->worker = -1;
    st->moved = loop_now();
    st->t_start = h2_now_us();
    st->next = h->streams;
    if (h->streams != NULL)
        h->streams->prev = st;
    h->streams = st;
    return st;
}

static h2_stream_t *h2_stream(http2_conn_t *h, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h->s, id);
}

static void h2_slot_release(conn_t *c, h2_stream_t *st)
{
    if (!st->slot)
        return;
    st->slot = 0;
    http_conn_slot_release(c);
}

/* The stream's response ended (or it was reset): count it, log it. */
static void h2_stream_log(conn_t *c, h2_stream_t *st)
{
    http2_conn_t *h = c->state;
    int64_t now = h2_now_us();
    int status = st->status != 0 ? st->status : 499;
    shm_http_count(c->eng->shm->http, c->listener, c->eng->id, status,
                   now - st->t_start);
    if (access_log_format(c->listener) == NULL)
        return;
    access_resp_t r = {
        .status = status, .bytes_sent = st->out_bytes,
        .body_bytes_sent = st->out_bytes - st->out_head,
        .request_length = st->in_bytes, .request_us = now - st->t_start,
        .response_us = st->t_dispatch != 0 ? now - st->t_dispatch : 0,
        .worker_id = st->worker, .connection = c->session,
        .connection_requests = h->nreq,
        .ssl_protocol = conn_tls_version(c)};
    access_log_line(c->listener, c->eng->id, &st->cap, &r);
}

static void h2_stream_free(conn_t *c, h2_stream_t *st, int notify)
{
    http2_conn_t *h = c->state;
    if (notify && st->state == H2S_WAIT) {
        uint32_t id = (uint32_t)st->id;
        conn_submit(c, st->worker, HTTP_MSG_STREAM_ABORT, &id, sizeof(id), 0);
    }
    h2_slot_release(c, st);
    if ((st->state >= H2S_WAIT || st->t_dispatch != 0) && !st->dropped)
        h2_stream_log(c, st);
    h->buffered -= buf_pending(&st->out);
    h->body_held -= buf_pending(&st->body);
    if (st->fd >= 0)
        close(st->fd);
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        h->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    if (h->streams == NULL)
        h->idle_since = loop_now();
    buf_free(&st->fields);
    buf_free(&st->body);
    buf_free(&st->head);
    buf_free(&st->out);
    buf_free(&st->trailers);
    buf_free(&st->cap);
    free(st);
}

/* ---- the response: HTTP/1.1 bytes into HEADERS and DATA ---- */

/* The body has gone: the trailers follow as HEADERS with END_STREAM
 * (names lower-cased, RFC 9113 8.2.2). 0, or -1 when they cannot go
 * (the stream then ends with its last DATA frame). */
static int h2_submit_trailers(nghttp2_session *s, h2_stream_t *st)
{
    char *p = buf_head(&st->trailers), *end = p + buf_pending(&st->trailers);
    size_t max = 0, n = 0;
    for (char *q = p; q < end; q++)
        max += *q == '\n';
    nghttp2_nv *nv = malloc(max * sizeof(*nv));
    if (nv == NULL)
        return -1;
    http_wire_trailer_t t;
    for (const char *q = p; n < max && http_wire_trailer_next(&q, end, &t);) {
        for (size_t i = 0; i < t.name_len; i++)
            ((char *)t.name)[i] = (char)tolower((unsigned char)t.name[i]);
        nv[n++] = (nghttp2_nv){(uint8_t *)t.name, (uint8_t *)t.value,
                               t.name_len, t.value_len, NGHTTP2_NV_FLAG_NONE};
    }
    int rc = nghttp2_submit_trailer(s, st->id, nv, n);
    free(nv);
    if (rc == 0) { /* counted as the head is: their HTTP/1.1 lines */
        st->out_bytes += buf_pending(&st->trailers);
        st->out_head += buf_pending(&st->trailers);
    }
    buf_reset(&st->trailers);
    if (rc != 0)
        log_error("stream %d: the trailers: %s", st->id,
                  nghttp2_strerror(rc));
    return rc == 0 ? 0 : -1;
}

static ssize_t h2_read_body(nghttp2_session *s, int32_t id, uint8_t *buf,
                            size_t len, uint32_t *flags,
                            nghttp2_data_source *src, void *arg)
{
    (void)id;
    conn_t *c = arg; /* the session's user data */
    http2_conn_t *h = c->state;
    h2_stream_t *st = src->ptr;
    size_t n = buf_pending(&st->out) < len ? buf_pending(&st->out) : len;
    if (n > 0) {
        memcpy(buf, buf_head(&st->out), n);
        buf_consume(&st->out, n);
        h->buffered -= n;
    } else if (st->file_left > 0) {
        size_t want = st->file_left < len ? (size_t)st->file_left : len;
        ssize_t r = pread(st->fd, buf, want, st->file_off);
        if (r <= 0) {
            log_error("session %llu: stream %d: reading the file: %s",
                      (unsigned long long)c->session, st->id,
                      r < 0 ? strerror(errno) : "it ended early");
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        n = (size_t)r;
        st->file_off += r;
        st->file_left -= n;
    }
    if (n > 0) {
        st->moved = loop_now();
        st->out_bytes += n;
    }
    if (buf_pending(&st->out) == 0 && st->file_left == 0 && st->ended) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (buf_pending(&st->trailers) > 0 && h2_submit_trailers(s, st) == 0)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    } else if (n == 0)
        return NGHTTP2_ERR_DEFERRED;
    return (ssize_t)n;
}

/* A field of the head that HTTP/2 does not carry (RFC 9113 8.2.2). */
static int h2_hop_field(const char *name, size_t len)
{
    static const char *const hop[] = {"connection", "keep-alive",
                                      "transfer-encoding", "upgrade",
                                      "proxy-connection"};
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (strlen(hop[i]) == len && memcmp(hop[i], name, len) == 0)
            return 1;
    return 0;
}

/* Parse the head's fields (lower-cased in place) into nv after :status.
 * The count of nv used. */
static size_t h2_head_fields(char *p, char *end, nghttp2_nv *nv, size_t max)
{
    size_t n = 1;
    while (p < end && n < max) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL || eol == p || (eol == p + 1 && *p == '\r'))
            break;
        char *colon = memchr(p, ':', (size_t)(eol - p));
        char *vend = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (colon != NULL) {
            for (char *q = p; q < colon; q++)
                *q = (char)tolower((unsigned char)*q);
            char *v = colon + 1;
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            if (!h2_hop_field(p, (size_t)(colon - p)))
                nv[n++] = (nghttp2_nv){(uint8_t *)p, (uint8_t *)v,
                                       (size_t)(colon - p),
                                       (size_t)(vend - v),
                                       NGHTTP2_NV_FLAG_NONE};
        }
        p = eol + 1;
    }
    return n;
}

/* The head is whole in st->head[0..len): HEADERS go out, with the body
 * to follow from the stream. 0 or -1 (the stream cannot be answered). */
static int h2_submit_head(http2_conn_t *h, h2_stream_t *st, size_t len)
{
    char *p = buf_head(&st->head);
    if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return -1;
    st->status = atoi(p + 9);
    size_t max = 2;
    for (size_t i = 0; i < len; i++)
        max += p[i] == '\n';
    nghttp2_nv *nv = malloc(max * sizeof(*nv));
    if (nv == NULL)
        return -1;
    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)p + 9, 7, 3,
                         NGHTTP2_NV_FLAG_NONE};
    char *eol = memchr(p, '\n', len);
    size_t n = h2_head_fields(eol + 1, p + len, nv, max);
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = h2_read_body};
    int rc = nghttp2_submit_response(h->s, st->id, nv, n, &dp);
    free(nv);
    st->out_head = st->out_bytes = len;
    st->head_done = 1;
    return rc == 0 ? 0 : -1;
}

/* Reset a stream we cannot answer; its pending output is dropped. */
static void h2_reset(http2_conn_t *h, h2_stream_t *st, uint32_t code)
{
    h->buffered -= buf_pending(&st->out);
    buf_reset(&st->out);
    st->file_left = 0;
    st->ended = 1;
    nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, st->id, code);
}

/* Bytes of the stream's HTTP/1.1 response: the head first, then body. A
 * stream whose held bytes would take the connection past
 * buffer_output_size is reset, not the connection closed. */
static void h2_resp_bytes(conn_t *c, h2_stream_t *st, const char *data,
                          size_t len)
{
    http2_conn_t *h = c->state;
    st->moved = loop_now();
    if (!st->head_done) {
        if (buf_append(&st->head, data, len) < 0)
            goto fail;
        const char *e = memmem(buf_head(&st->head), buf_pending(&st->head),
                               "\r\n\r\n", 4);
        if (e == NULL)
            return;
        size_t hl = (size_t)(e + 4 - buf_head(&st->head));
        if (h2_submit_head(h, st, hl) < 0)
            goto fail;
        data = buf_head(&st->head) + hl;
        len = buf_pending(&st->head) - hl;
    }
    if (len == 0 || st->head_only || st->ended)
        return;
    if (h->buffered + len + c->out.bytes > conn_config(c)->buffer_output_size) {
        log_warn("session %llu (peer %s): stream %d: its response would pass "
                 "buffer_output_size (%zu); stream reset",
                 (unsigned long long)c->session, c->peer, st->id,
                 conn_config(c)->buffer_output_size);
        h2_reset(h, st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (buf_append(&st->out, data, len) < 0)
        goto fail;
    h->buffered += len;
    nghttp2_session_resume_data(h->s, st->id);
    return;
fail:
    log_error("session %llu: stream %d: a response that cannot be sent "
              "(out of memory, or not HTTP); stream reset",
              (unsigned long long)c->session, st->id);
    h2_reset(h, st, NGHTTP2_INTERNAL_ERROR);
}

static void h2_resp_end(conn_t *c, h2_stream_t *st)
{
    http2_conn_t *h = c->state;
    h2_slot_release(c, st);
    st->state = H2S_REPLY;
    st->ended = 1;
    if (!st->head_done) {
        log_error("session %llu: stream %d: the response ended without a "
                  "head; stream reset", (unsigned long long)c->session,
                  st->id);
        h2_reset(h, st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    nghttp2_session_resume_data(h->s, st->id);
}

/* An answer of the reactor's own (413, 431, 502, 503, 504). */
static void h2_fail(conn_t *c, h2_stream_t *st, int status)
{
    http2_conn_t *h = c->state;
    if (st->state == H2S_WAIT) { /* the worker's response goes nowhere */
        uint32_t id = (uint32_t)st->id;
        conn_submit(c, st->worker, HTTP_MSG_STREAM_ABORT, &id, sizeof(id), 0);
    }
    if (st->head_done) { /* part of a response went: it cannot end well */
        h2_slot_release(c, st);
        h2_reset(h, st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    st->early = st->state <= H2S_BODY;
    char body[64];
    int n = snprintf(body, sizeof(body), "%d %s\n", status,
                     http_reason(status));
    http_head_lines_t lines[] = {
        {"Content-Type: text/plain; charset=utf-8\r\n", 0}};
    http_head_t head = {.status = status, .framing = HTTP_HEAD_LENGTH,
                        .length = (uint64_t)n, .lines = lines, .nlines = 1};
    buf_t b = {0};
    st->head_only = 0;
    if (http_head_append(&b, &head) == 0 && buf_append(&b, body, n) == 0)
        h2_resp_bytes(c, st, buf_head(&b), buf_pending(&b));
    buf_free(&b);
    h2_resp_end(c, st);
}

/* ---- the request: a stream's headers into an HTTP request ---- */

static http_method_t h2_method_id(const char *m, size_t len)
{
    static const struct { const char *name; http_method_t id; } ms[] = {
        {"GET", HTTP_GET}, {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST},
        {"PUT", HTTP_PUT}, {"DELETE", HTTP_DELETE},
        {"OPTIONS", HTTP_OPTIONS}, {"PATCH", HTTP_PATCH}};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        if (strlen(ms[i].name) == len && memcmp(ms[i].name, m, len) == 0)
            return ms[i].id;
    return HTTP_OTHER;
}

static void h2_req_pseudo(http_request_t *r, const char *n, size_t nl,
                          const char *v, size_t vl)
{
    if (nl == 7 && memcmp(n, ":method", 7) == 0) {
        r->method = v;
        r->method_len = vl;
        r->method_id = h2_method_id(v, vl);
    } else if (nl == 5 && memcmp(n, ":path", 5) == 0) {
        r->target = r->path = v;
        r->target_len = r->path_len = vl;
        const char *q = memchr(v, '?', vl);
        if (q != NULL) {
            r->path_len = (size_t)(q - v);
            r->query = q + 1;
            r->query_len = vl - r->path_len - 1;
        }
    }
}

/* Fill r from the stream's fields (r's slices point into them); :authority
 * is the Host the worker sees. */
static void h2_req_build(const h2_stream_t *st, http_request_t *r)
{
    memset(r, 0, offsetof(http_request_t, headers));
    r->nheaders = 0;
    r->version = 1;
    r->keep_alive = 1;
    r->content_length = -1;
    const char *p = buf_head(&st->fields);
    for (size_t i = 0; i < st->nfields; i++) {
        uint32_t nl, vl;
        memcpy(&nl, p, 4);
        memcpy(&vl, p + 4, 4);
        const char *n = p + 8, *v = n + nl + 1;
        p = v + vl + 1;
        if (n[0] == ':' && !(nl == 10 && memcmp(n, ":authority", 10) == 0)) {
            h2_req_pseudo(r, n, nl, v, vl);
            continue;
        }
        if (n[0] == ':') {
            n = "host";
            nl = 4;
        }
        if (nl == 4 && memcmp(n, "host", 4) == 0 && r->host == NULL) {
            r->host = v;
            r->host_len = vl;
        } else if (nl == 4 && memcmp(n, "host", 4) == 0) {
            continue; /* :authority and Host: the first wins */
        }
        if (nl == 14 && memcmp(n, "content-length", 14) == 0)
            r->content_length = atoll(v);
        r->headers[r->nheaders++] = (http_header_t){n, nl, v, vl};
    }
}

/* A request's values for its access log line, captured now. */
static void h2_log_begin(conn_t *c, h2_stream_t *st, const http_request_t *r)
{
    const access_fmt_t *f = access_log_format(c->listener);
    if (f == NULL || !access_fmt_wants_request(f))
        return;
    char client[REAL_IP_LEN];
    http_wire_peer_t p = http_conn_peer(c, r, client);
    http_request_t logged = *r;
    logged.version = 2; /* "HTTP/2.0" */
    access_req_t ar = {&logged, p.addr, p.port, p.proxy_addr};
    if (access_fmt_capture(f, &ar, &st->cap) < 0)
        log_warn("session %llu: access log: out of memory for the request's "
                 "values", (unsigned long long)c->session);
}

/* The request goes to a worker, tagged with its stream. */
static void h2_dispatch(conn_t *c, h2_stream_t *st, const http_request_t *r)
{
    if (!http_conn_slot_take(c)) {
        h2_fail(c, st, 503);
        return;
    }
    st->slot = 1;
    buf_t *wire = conn_scratch(c);
    char client[REAL_IP_LEN];
    http_wire_peer_t peer = http_conn_peer(c, r, client);
    if (http_wire_encode(wire, r, buf_head(&st->body), buf_pending(&st->body),
                         &peer) < 0) {
        conn_scratch_done(wire);
        h2_fail(c, st, 503);
        return;
    }
    http_wire_set_stream(wire, (uint32_t)st->id);
    st->worker = conn_route(c);
    st->state = H2S_WAIT;
    conn_submit(c, st->worker, HTTP_MSG_REQUEST, buf_head(wire),
                buf_pending(wire), 1);
    conn_scratch_done(wire);
}

/* static_serve_to's output for the stream being served. */
static int h2_static_write(conn_t *c, const void *data, size_t len)
{
    http2_conn_t *h = c->state;
    h2_resp_bytes(c, h->serving, data, len);
    return 0;
}

static int h2_static_file(conn_t *c, int fd, off_t off, uint64_t len)
{
    http2_conn_t *h = c->state;
    h2_stream_t *st = h->serving;
    if (st->fd >= 0 || st->ended) {
        close(fd);
        return 0;
    }
    st->fd = fd;
    st->file_off = off;
    st->file_left = len;
    return 0;
}

static const static_out_t h2_static_out = {h2_static_write, h2_static_file};

/* The stream's request is whole: the document_root's, or a worker's. */
static void h2_complete(conn_t *c, h2_stream_t *st, const http_request_t *r)
{
    http2_conn_t *h = c->state;
    const config_listener_t *l = conn_listener(c);
    h->nreq++;
    st->t_dispatch = h2_now_us();
    st->in_bytes = st->list_size + buf_pending(&st->body);
    st->head_only = r->method_id == HTTP_HEAD;
    h2_log_begin(c, st, r);
    int served = 0;
    if (l->document_root != NULL) {
        h->serving = st;
        served = static_serve_to(c, l, r, &h2_static_out);
        h->serving = NULL;
    }
    if (served == 0)
        h2_dispatch(c, st, r);
    else if (served >= 400)
        h2_fail(c, st, served);
    else
        h2_resp_end(c, st);
}

/* In base mode a worker that leaves (reload, max_request) keeps its open
 * connections only until they end. HTTP/1.1's next response says
 * Connection: close; on HTTP/2 the next stream to end is followed by a
 * GOAWAY naming the streams taken so far: they are served, and the client
 * opens its next streams on a new connection, which another worker
 * accepts. After the stream's last frame, not before: a client may drop
 * frames that follow a GOAWAY. */
static void h2_leave(conn_t *c)
{
    http2_conn_t *h = c->state;
    if (h->left || !conn_leaving(c))
        return;
    h->left = 1;
    nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h->s),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

static void h2_request(conn_t *c, h2_stream_t *st)
{
    http2_conn_t *h = c->state;
    http_request_t *r = st->refused ? NULL : malloc(sizeof(*r));
    if (r != NULL)
        h2_req_build(st, r);
    if (st->refused)
        h2_fail(c, st, st->refused);
    else if (r == NULL)
        h2_fail(c, st, 503);
    else if (r->method == NULL || r->path == NULL)
        h2_fail(c, st, 400); /* CONNECT: nothing here serves it */
    else
        h2_complete(c, st, r);
    free(r);
    /* The body went with the request: it is held no more. */
    h->body_held -= buf_pending(&st->body);
    buf_free(&st->body);
}

/* ---- nghttp2's callbacks (the session's user data is the conn) ---- */

static int h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f,
                               void *arg)
{
    conn_t *c = arg;
    http2_conn_t *h = c->state;
    if (f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream_t *st = h2_stream_new(h, f->hd.stream_id);
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
    return 0;
}

/* The header list's cap: http2_max_header_list_size, and no more than an
 * HTTP/1.1 head may be (http_max_head_size). */
static size_t h2_list_cap(const conn_t *c)
{
    const config_listener_t *l = conn_listener(c);
    return l->http2_max_header_list_size < l->http_max_head_size
               ? l->http2_max_header_list_size : l->http_max_head_size;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f,
                        const uint8_t *name, size_t nl, const uint8_t *value,
                        size_t vl, uint8_t flags, void *arg)
{
    (void)flags;
    conn_t *c = arg;
    h2_stream_t *st = h2_stream(c->state, f->hd.stream_id);
    if (st == NULL || st->state != H2S_HEAD)
        return 0; /* trailers: not passed on */
    size_t cap = h2_list_cap(c);
    st->list_size += nl + vl + 32;
    if (st->list_size > cap * H2_BOMB_FACTOR) {
        h2_calm(c->state, "a header list far over its cap (HPACK bomb)");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (st->list_size > cap || st->nfields >= HTTP_MAX_HEADERS)
        st->refused = 431;
    if (st->refused)
        return 0;
    uint32_t l[2] = {(uint32_t)nl, (uint32_t)vl};
    if (buf_append(&st->fields, l, sizeof(l)) < 0 ||
        buf_append(&st->fields, name, nl) < 0 ||
        buf_append(&st->fields, "", 1) < 0 ||
        buf_append(&st->fields, value, vl) < 0 ||
        buf_append(&st->fields, "", 1) < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->nfields++;
    (void)s;
    return 0;
}

/* What the streams of a connection may hold of request bodies still
 * arriving: one whole body, or buffer_output_size if that is more. Each
 * stream alone is held to package_max_length; without this, a client
 * could make every one of its streams hold that much at once. */
static size_t h2_body_cap(const conn_t *c)
{
    size_t body = conn_listener(c)->package_max_length;
    size_t out = conn_config(c)->buffer_output_size;
    return body > out ? body : out;
}

static int h2_body_full(const conn_t *c, size_t len)
{
    const http2_conn_t *h = c->state;
    return h->body_held + len > h2_body_cap(c);
}

/* REFUSED_STREAM: nothing of the request was processed, and the client
 * may send it again (RFC 9113 8.7), once the others have gone through. */
static void h2_refuse(conn_t *c, h2_stream_t *st)
{
    http2_conn_t *h = c->state;
    h->body_held -= buf_pending(&st->body);
    buf_free(&st->body);
    st->dropped = 1;
    st->state = H2S_REPLY;
    st->ended = 1;
    nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, st->id,
                              NGHTTP2_REFUSED_STREAM);
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id,
                      const uint8_t *data, size_t len, void *arg)
{
    (void)s;
    (void)flags;
    conn_t *c = arg;
    h2_stream_t *st = h2_stream(c->state, id);
    if (st == NULL || st->refused || st->state != H2S_BODY)
        return 0;
    if (buf_pending(&st->body) + len > conn_listener(c)->package_max_length) {
        st->refused = 413;
        h2_request(c, st); /* answered now: the rest is not read */
        return 0;
    }
    if (h2_body_full(c, len)) {
        log_warn("session %llu (peer %s): stream %d: the connection's "
                 "unfinished request bodies would pass %zu bytes; stream "
                 "refused", (unsigned long long)c->session, c->peer, st->id,
                 h2_body_cap(c));
        h2_refuse(c, st);
        return 0;
    }
    if (buf_append(&st->body, data, len) < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    ((http2_conn_t *)c->state)->body_held += len;
    return 0;
}

/* Frames counted against the floods; a stream whose request ended. */
static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f,
                       void *arg)
{
    (void)s;
    conn_t *c = arg;
    http2_conn_t *h = c->state;
    int lim = conn_listener(c)->http2_max_concurrent_streams;
    switch (f->hd.type) {
    case NGHTTP2_RST_STREAM:
        h2_flood(h, &h->resets, lim > 100 ? lim : 100,
                 "streams reset by the client (rapid reset)");
        return 0;
    case NGHTTP2_SETTINGS:
    case NGHTTP2_PING:
    case NGHTTP2_PRIORITY:
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
            h2_flood(h, &h->ctrl, H2_CTRL_MAX, "control frames (flood)");
        return 0;
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
        break;
    default:
        return 0;
    }
    if (f->hd.type == NGHTTP2_DATA && f->hd.length == 0 &&
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        h2_flood(h, &h->ctrl, H2_CTRL_MAX, "empty DATA frames (flood)");
    h2_stream_t *st = h2_stream(h, f->hd.stream_id);
    if (st == NULL || st->state > H2S_BODY)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && st->state == H2S_HEAD)
        st->state = H2S_BODY;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        h2_request(c, st);
    return 0;
}

/* CONTINUATION floods (CVE-2024-27316's kin): nghttp2 before 1.61 takes
 * any number of them; the header block may take H2_CONT_MAX. */
static int h2_on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd,
                             void *arg)
{
    (void)s;
    conn_t *c = arg;
    http2_conn_t *h = c->state;
    if (hd->type == NGHTTP2_HEADERS)
        h->cont = 0;
    if (hd->type != NGHTTP2_CONTINUATION || ++h->cont <= H2_CONT_MAX)
        return 0;
    h2_calm(h, "CONTINUATION frames without end (flood)");
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* A response sent whole before its request was (408, 413): the rest of
 * the request is refused with RST_STREAM(NO_ERROR) (RFC 9113 8.1), so the
 * stream closes rather than wait for a body nobody reads. */
static int h2_on_frame_sent(nghttp2_session *s, const nghttp2_frame *f,
                            void *arg)
{
    (void)arg;
    if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
        (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS))
        return 0;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (st != NULL && st->early)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_NO_ERROR);
    return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t code,
                       void *arg)
{
    (void)code;
    conn_t *c = arg;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, id);
    if (st != NULL)
        h2_stream_free(c, st, 1);
    h2_leave(c);
    return 0;
}

static int h2_session_new(conn_t *c, http2_conn_t *h)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -ENOMEM;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -ENOMEM;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                        h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb,
                                                          h2_on_begin_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2_on_frame_sent);
    /* SETTINGS acks and PING replies a client leaves unread: past this,
     * nghttp2 fails the session (NGHTTP2_ERR_FLOODED). */
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    nghttp2_option_set_max_send_header_block_length(opt, HTTP_HEAD_MAX * 2);
    int rc = nghttp2_session_server_new2(&h->s, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    return rc == 0 ? 0 : -ENOMEM;
}

/* The listener's limits, in the server's first SETTINGS. */
static int h2_settings(conn_t *c, http2_conn_t *h)
{
    const config_listener_t *l = conn_listener(c);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
         (uint32_t)l->http2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE,
         (uint32_t)l->http2_header_table_size},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
         (uint32_t)l->http2_init_window_size},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, (uint32_t)l->http2_max_frame_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         (uint32_t)l->http2_max_header_list_size},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    return nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv,
                                   sizeof(iv) / sizeof(iv[0]));
}

/* ---- driving the session ---- */

static void h2_tick(int64_t id, void *arg);

static void h2_tick_arm(conn_t *c)
{
    http2_conn_t *h = c->state;
    if (h->tick == 0)
        h->tick = conn_timer_add(c, H2_TICK, h2_tick);
    if (h->tick < 0)
        h->tick = 0;
}

/* Frames are gathered for one write, up to this much: the frames of a
 * flush go out in one send (and, over TLS, few records). */
#define H2_GATHER (64 * 1024)

/* The gathered frames to the connection; 0, or -1 when it was closed. */
static int h2_write_gathered(conn_t *c, buf_t *g)
{
    int rc = buf_pending(g) > 0 ? conn_write(c, buf_head(g), buf_pending(g))
                                : 0;
    buf_reset(g);
    buf_trim(g, H2_GATHER);
    return rc < 0 ? -1 : 0;
}

/* Frames out while the output queue has room; the connection ends when
 * neither side has more to say. 0, or -1 when it was closed. */
static int h2_flush(conn_t *c)
{
    http2_conn_t *h = c->state;
    buf_t *g = conn_gather(c);
    while (c->out.bytes + buf_pending(g) < H2_OUT_HIGH) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(h->s, &data);
        if (n < 0) {
            buf_reset(g);
            conn_close(c, nghttp2_strerror((int)n));
            return -1;
        }
        if (n == 0)
            break;
        if (buf_append(g, data, (size_t)n) < 0) {
            buf_reset(g);
            conn_close(c, "out of memory for HTTP/2 frames");
            return -1;
        }
        if (buf_pending(g) >= H2_GATHER && h2_write_gathered(c, g) < 0)
            return -1;
    }
    if (h2_write_gathered(c, g) < 0)
        return -1;
    if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s))
        return conn_end(c, 1);
    h2_tick_arm(c);
    return 0;
}

static void h2_flush_later_run(conn_t *c)
{
    if (c->proto != &http2_conn_proto || c->state == NULL)
        return;
    http2_conn_t *h = c->state;
    h->flush_later = 0;
    h2_flush(c);
}

/* Responses of several streams that come in one loop run (a batch from a
 * worker) go out together: one flush after them all. */
static void h2_flush_later(conn_t *c)
{
    http2_conn_t *h = c->state;
    if (h->flush_later)
        return;
    if (conn_defer(c, h2_flush_later_run) == 0)
        h->flush_later = 1;
    else
        h2_flush(c); /* out of memory: now, then */
}

/* A stream's timeouts: its output has not moved for send_timeout (a
 * window that never opens), its request is not whole after
 * http_request_timeout (408), its worker was silent for
 * http_response_timeout (504). */
static void h2_tick_stream(conn_t *c, h2_stream_t *st, int64_t now)
{
    long send_ms = conn_config(c)->send_timeout * 1000L;
    long req_ms = conn_listener(c)->http_request_timeout * 1000L;
    long resp_ms = conn_listener(c)->http_response_timeout * 1000L;
    int pending = buf_pending(&st->out) > 0 || st->file_left > 0;
    const char *why = NULL;
    if (pending && send_ms > 0 && now - st->moved >= send_ms) {
        log_info("session %llu (peer %s): stream %d: no output moved in %d s "
                 "(send_timeout); stream reset",
                 (unsigned long long)c->session, c->peer, st->id,
                 conn_config(c)->send_timeout);
        h2_reset(c->state, st, NGHTTP2_CANCEL);
    } else if (st->state <= H2S_BODY && now - st->moved >= req_ms) {
        why = "its request was not whole after http_request_timeout";
        h2_fail(c, st, 408);
    } else if (st->state == H2S_WAIT && resp_ms > 0 &&
               now - st->moved >= resp_ms) {
        why = "its worker was silent for http_response_timeout";
        h2_fail(c, st, 504);
    }
    if (why != NULL)
        log_warn("session %llu (peer %s): stream %d: %s",
                 (unsigned long long)c->session, c->peer, st->id, why);
}

/* Every H2_TICK: the streams' timeouts, and a connection without
 * streams for http_request_timeout is sent GOAWAY and closed, as an idle
 * HTTP/1.1 connection is. */
static void h2_tick(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    http2_conn_t *h = c->state;
    h->tick = 0;
    int64_t now = loop_now();
    for (h2_stream_t *st = h->streams; st != NULL; st = st->next)
        h2_tick_stream(c, st, now);
    if (h->streams == NULL && !h->calm &&
        now - h->idle_since >= conn_listener(c)->http_request_timeout * 1000L) {
        log_debug("session %llu: idle for http_request_timeout; GOAWAY",
                  (unsigned long long)c->session);
        h->calm = 1;
        nghttp2_session_terminate_session(h->s, NGHTTP2_NO_ERROR);
    }
    h2_flush(c);
}

static void h2_input(conn_t *c, const char *data, size_t len)
{
    http2_conn_t *h = c->state;
    c->last_recv = loop_now();
    ssize_t rc = nghttp2_session_mem_recv(h->s, (const uint8_t *)data, len);
    if (rc < 0 && !h->calm) {
        log_info("session %llu (peer %s): HTTP/2: %s; closing",
                 (unsigned long long)c->session, c->peer,
                 nghttp2_strerror((int)rc));
        if (rc != NGHTTP2_ERR_FLOODED) /* the peer does not read: no GOAWAY */
            nghttp2_session_terminate_session(h->s, NGHTTP2_PROTOCOL_ERROR);
        else {
            conn_close(c, NULL);
            return;
        }
    }
    h2_flush(c);
}

/* ---- starting ---- */

/* The protocol's state on c, the session, and the server's SETTINGS. */
/* c's HTTP/2 state and session, its SETTINGS queued; -ENOMEM leaves
 * what was made in c->state for the close hook. */
static int h2_setup(conn_t *c)
{
    http2_conn_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    h->c = c;
    h->idle_since = loop_now();
    conn_set_proto(c, &http2_conn_proto, h);
    if (h2_session_new(c, h) < 0 || h2_settings(c, h) != 0)
        return -ENOMEM;
    conn_hold(c, CONN_READ);
    return 0;
}

static http2_conn_t *h2_begin(conn_t *c)
{
    if (h2_setup(c) < 0) {
        conn_close(c, "out of memory for an HTTP/2 session");
        return NULL;
    }
    return c->state;
}

/* What c->in holds goes to the session as the first bytes. */
static int h2_take_input(conn_t *c)
{
    buf_t in = c->in;
    memset(&c->in, 0, sizeof(c->in));
    c->scan = 0;
    uint64_t session = c->session;
    conn_engine_t *e = c->eng;
    if (buf_pending(&in) > 0)
        h2_input(c, buf_head(&in), buf_pending(&in));
    else
        h2_flush(c);
    buf_free(&in);
    return session_get(&e->sessions, session) == c ? 0 : -1;
}

int http2_conn_start(conn_t *c)
{
    /* The listener's protocol opened c (TLS switches after ALPN): its
     * state goes, the sink is not told (the connection stays). */
    if (c->state != NULL && c->proto != &http2_conn_proto &&
        c->proto->close != NULL)
        c->proto->close(c, 0);
    c->state = NULL;
    if (h2_begin(c) == NULL)
        return -1;
    return h2_take_input(c);
}

/* base64url (RFC 4648 5), unpadded, as HTTP2-Settings carries it. */
static ssize_t h2_base64url(const char *in, size_t len, uint8_t *out,
                            size_t cap)
{
    char std[512];
    if (len + 3 > sizeof(std))
        return -EINVAL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        std[n++] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    while (n % 4 != 0)
        std[n++] = '=';
    return base64_decode(std, n, out, cap);
}

/* Stream 1 is the upgraded request: its fields as the stream's own. */
static int h2_upgraded_stream(conn_t *c, http2_conn_t *h,
                              const http_request_t *req)
{
    h2_stream_t *st = h2_stream_new(h, 1);
    if (st == NULL)
        return -ENOMEM;
    nghttp2_session_set_stream_user_data(h->s, 1, st);
    st->state = H2S_BODY;
    st->list_size = req->target_len + req->method_len;
    h->nreq++;
    st->t_dispatch = h2_now_us();
    st->head_only = req->method_id == HTTP_HEAD;
    h2_log_begin(c, st, req);
    http_request_t *r = malloc(sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    *r = *req;
    r->keep_alive = 1;
    int served = 0;
    if (conn_listener(c)->document_root != NULL) {
        h->serving = st;
        served = static_serve_to(c, conn_listener(c), r, &h2_static_out);
        h->serving = NULL;
    }
    if (served == 0)
        h2_dispatch(c, st, r);
    else if (served >= 400)
        h2_fail(c, st, served);
    else
        h2_resp_end(c, st);
    free(r);
    return 0;
}

int http2_conn_upgrade(conn_t *c, const http_request_t *req, size_t head_len,
                       const char *settings, size_t settings_len)
{
    uint8_t set[384];
    ssize_t sl = h2_base64url(settings, settings_len, set, sizeof(set));
    http_head_lines_t lines[] = {{"Upgrade: h2c\r\n", 0}};
    http_head_t head = {.status = 101, .conn = HTTP_HEAD_UPGRADE,
                        .lines = lines, .nlines = 1};
    buf_t b = {0};
    if (sl < 0 || sl % 6 != 0) {
        conn_close(c, "Upgrade: h2c with a malformed HTTP2-Settings");
        return -1;
    }
    if (http_head_append(&b, &head) < 0 ||
        conn_write(c, buf_head(&b), buf_pending(&b)) < 0) {
        buf_free(&b);
        return -1;
    }
    buf_free(&b);
    http2_conn_t *h = h2_begin(c);
    if (h == NULL)
        return -1;
    int rc = nghttp2_session_upgrade2(h->s, set, (size_t)sl,
                                      req->method_id == HTTP_HEAD, NULL);
    if (rc != 0 || h2_upgraded_stream(c, h, req) < 0) {
        conn_close(c, "Upgrade: h2c refused by the session");
        return -1;
    }
    buf_consume(&c->in, head_len);
    return h2_take_input(c);
}

/* ---- the hooks ---- */

/* The reactor opens the file the worker checked, and only that one. */
static void h2_sendfile(conn_t *c, h2_stream_t *st, const char *d, size_t n)
{
    http_msg_sendfile_t sf;
    const char *path = d + sizeof(sf);
    if (n <= sizeof(sf) || d[n - 1] != '\0' ||
        strlen(path) != n - sizeof(sf) - 1) {
        log_warn("channel: malformed HTTP_MSG_SENDFILE dropped");
        h2_reset(c->state, st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    memcpy(&sf, d, sizeof(sf));
    struct stat s;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &s) < 0 || (uint64_t)s.st_dev != sf.dev ||
        (uint64_t)s.st_ino != sf.ino || !S_ISREG(s.st_mode) || st->fd >= 0) {
        log_error("session %llu: stream %d: sendfile %s: %s",
                  (unsigned long long)c->session, st->id, path,
                  fd < 0 ? strerror(errno) : "not the file the worker checked");
        if (fd >= 0)
            close(fd);
        h2_reset(c->state, st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    st->fd = fd;
    st->file_off = (off_t)sf.offset;
    st->file_left = sf.length;
    nghttp2_session_resume_data(((http2_conn_t *)c->state)->s, st->id);
}

/* HTTP_MSG_END in an HTTP_MSG_STREAM: the last bytes, the trailers. */
static void h2_stream_end_msg(conn_t *c, h2_stream_t *st, const char *d,
                              size_t n)
{
    http_wire_end_t end;
    if (http_wire_end_decode(d, n, &end) < 0) {
        log_warn("channel: malformed HTTP_MSG_END; stream reset");
        h2_slot_release(c, st);
        st->state = H2S_REPLY;
        h2_reset(c->state, st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (end.trailers_len > 0 &&
        buf_append(&st->trailers, end.trailers, end.trailers_len) < 0)
        log_error("session %llu: stream %d: out of memory for the "
                  "trailers; sent without them",
                  (unsigned long long)c->session, st->id);
    h2_resp_bytes(c, st, end.data, end.len);
    h2_resp_end(c, st);
}

/* A worker's HTTP_MSG_STREAM: part of one stream's response. */
static void h2_stream_msg(conn_t *c, const conn_msg_t *m)
{
    http_msg_stream_t env;
    if (m->len < sizeof(env)) {
        log_warn("channel: malformed HTTP_MSG_STREAM dropped");
        return;
    }
    memcpy(&env, m->data, sizeof(env));
    const char *d = m->data + sizeof(env);
    size_t n = m->len - sizeof(env);
    h2_stream_t *st = h2_stream(c->state, (int32_t)env.stream);
    if (st == NULL || st->state != H2S_WAIT)
        return; /* reset by the client meanwhile */
    if (env.type == IPC_SEND) {
        h2_resp_bytes(c, st, d, n);
    } else if (env.type == HTTP_MSG_END && n >= 1) {
        h2_stream_end_msg(c, st, d, n);
    } else if (env.type == HTTP_MSG_SENDFILE) {
        h2_sendfile(c, st, d, n);
    }
}

/* The probe's answer: the stream's request died with its worker. */
static void h2_lost(conn_t *c, const conn_msg_t *m)
{
    uint32_t id;
    if (m->len != sizeof(uint64_t) + sizeof(id))
        return;
    memcpy(&id, m->data + sizeof(uint64_t), sizeof(id));
    h2_stream_t *st = h2_stream(c->state, (int32_t)id);
    if (st == NULL || st->state != H2S_WAIT)
        return;
    int timeout = st->probe_timeout;
    log_warn("session %llu (peer %s): stream %u: worker %d %s with the "
             "request; answering %d", (unsigned long long)c->session,
             c->peer, id, st->worker,
             timeout ? "was killed past max_execution_time" : "died",
             timeout ? 504 : 502);
    if (timeout)
        conn_count_stuck(c);
    h2_fail(c, st, timeout ? 504 : 502);
}

static void http2_deliver(conn_t *c, const conn_msg_t *m)
{
    if (m->type == HTTP_MSG_STREAM)
        h2_stream_msg(c, m);
    else if (m->type == HTTP_MSG_LOST)
        h2_lost(c, m);
    else
        log_warn("session %llu: message type %d (%zu bytes) is not for an "
                 "HTTP/2 connection; dropped", (unsigned long long)c->session,
                 m->type, m->len);
    h2_flush_later(c);
}

/* Worker w was replaced after a crash: which of our streams it held is
 * asked, each after the requests queued before it. */
static void http2_worker_lost(conn_t *c, const conn_lost_t *l)
{
    http2_conn_t *h = c->state;
    int w = l->worker;
    for (h2_stream_t *st = h->streams; st != NULL; st = st->next) {
        if (st->state != H2S_WAIT || st->worker != w)
            continue;
        st->probe_timeout = l->timeout;
        char probe[sizeof(uint64_t) + sizeof(uint32_t)];
        uint64_t seq = (uint64_t)st->id;
        uint32_t id = (uint32_t)st->id;
        memcpy(probe, &seq, sizeof(seq));
        memcpy(probe + sizeof(seq), &id, sizeof(id));
        conn_submit(c, w, HTTP_MSG_PROBE, probe, sizeof(probe), 0);
    }
}

/* A worker backs off: what waits on it is answered now (503, or 502 when
 * an earlier process died holding requests). */
static void http2_worker_backoff(conn_t *c, const conn_backoff_t *b)
{
    http2_conn_t *h = c->state;
    for (h2_stream_t *st = h->streams; st != NULL; st = st->next)
        if (st->state == H2S_WAIT && st->worker == b->worker)
            h2_fail(c, st, b->lost ? 502 : 503);
    h2_flush(c);
}

static int http2_drained(conn_t *c)
{
    return h2_flush(c);
}

/* The server stops: GOAWAY names the last stream taken; those finish,
 * and the connection ends when they have. */
static void http2_quiesce(conn_t *c)
{
    http2_conn_t *h = c->state;
    nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h->s),
                          NGHTTP2_NO_ERROR, NULL, 0);
    h2_flush(c);
}

/* The worker leaves (base mode): a connection with no stream open is sent
 * GOAWAY now, not at its next stream's end, which an idle client might
 * never bring before max_wait_time; with none in flight the session then
 * wants nothing more and the connection ends. One with streams open gets
 * it when the next one closes (h2_leave). */
static void http2_leave(conn_t *c)
{
    http2_conn_t *h = c->state;
    if (h->streams != NULL)
        return;
    h2_leave(c);
    h2_flush(c);
}

/* A connection whose client chose "h2" by ALPN (conn_alpn_register):
 * its first bytes are the client preface. */
static int http2_open(conn_t *c)
{
    return h2_setup(c);
}

int http2_conn_init(void)
{
    return conn_alpn_register("h2", &http2_conn_proto);
}

static void http2_close(conn_t *c, int notify)
{
    http2_conn_t *h = c->state;
    if (h == NULL)
        return;
    conn_timer_clear(c, h->tick);
    while (h->streams != NULL)
        h2_stream_free(c, h->streams, notify);
    nghttp2_session_del(h->s);
    free(h);
    c->state = NULL;
}

const conn_proto_t http2_conn_proto = {
    .name = "http2",
    .open = http2_open,
    .input = h2_input,
    .deliver = http2_deliver,
    .worker_lost = http2_worker_lost,
    .worker_backoff = http2_worker_backoff,
    .drained = http2_drained,
    .quiesce = http2_quiesce,
    .leave = http2_leave,
    .close = http2_close,
};
