/* ws_conn.c: WebSocket connections (RFC 6455) in the reactor: frames cut
 * and unmasked, pings answered, fragments reassembled and checked (UTF-8,
 * package_max_length), the closing handshake. Whole messages go to a
 * worker; its pushes are framed here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_msg.h"
#include "net/conn.h"
#include "core/log.h"
#include "protocol/http_coding.h"
#include "protocol/ws.h"
#include "protocol/ws_conn.h"

/* How long the client has to answer our close frame. */
#define WS_CLOSE_WAIT_MS 5000

typedef struct ws_conn {
    ws_msg_t msg;     /* the message being received */
    buf_t frag;       /* its opcode byte and payload so far */
    int worker;       /* got WS_MSG_OPEN */
    int close_sent;   /* our close frame is queued: no more data frames */
    int notified;     /* WS_MSG_CLOSE went to the worker */
    int code;         /* the close code of our close frame */
    int64_t timer;    /* waiting for the client's close frame */
    int deflate_bits; /* permessage-deflate's window, 0 when not agreed */
} ws_conn_t;

/* Pushes shorter than this go uncompressed (RSV1 is per message). */
#define WS_DEFLATE_MIN 64

/* Where the session's events go: its worker in the fixed modes, else the
 * one that got on_open. */
static int ws_conn_worker(const conn_t *c)
{
    const ws_conn_t *w = c->state;
    return conn_fixed(c) ? c->worker : w->worker;
}

static void ws_conn_notify(conn_t *c, int code)
{
    ws_conn_t *w = c->state;
    if (w->notified)
        return;
    uint16_t v = (uint16_t)code;
    w->notified = 1;
    conn_submit(c, ws_conn_worker(c), WS_MSG_CLOSE, &v, sizeof(v), 0);
}

/* One unmasked, unfragmented frame. 0, or -1 when the connection closed. */
static int ws_conn_send_rsv(conn_t *c, int opcode, int rsv, const void *data,
                       size_t len)
{
    uint8_t hdr[10];
    size_t n = ws_frame_header_rsv(opcode, 1, rsv, len, hdr);
    if (conn_write(c, hdr, n) < 0)
        return -1;
    return len > 0 ? conn_write(c, data, len) : 0;
}

static int ws_conn_send(conn_t *c, int opcode, const void *data, size_t len)
{
    return ws_conn_send_rsv(c, opcode, 0, data, len);
}

/* Our close frame: code (none for 1005) and reason. 0 or -1. */
static int ws_conn_send_close(conn_t *c, int code, const char *reason,
                         size_t rlen)
{
    ws_conn_t *w = c->state;
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    size_t n = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        n = 2 + (rlen < sizeof(p) - 2 ? rlen : sizeof(p) - 2);
        if (n > 2)
            memcpy(p + 2, reason, n - 2);
    }
    w->close_sent = 1;
    w->code = code;
    return ws_conn_send(c, WS_CLOSE, p, n);
}

/* Our close frame (unless one went already), then close. -1 or 0. */
static int ws_conn_end(conn_t *c, int code)
{
    ws_conn_t *w = c->state;
    if (!w->close_sent && ws_conn_send_close(c, code, NULL, 0) < 0)
        return -1;
    ws_conn_notify(c, code);
    return conn_end(c, 1) < 0 ? -1 : 0;
}

/* _Fail the WebSocket Connection_: close frame, then close. -1 or 0. */
static int ws_conn_fail(conn_t *c, int code)
{
    log_info("session %llu (peer %s): WebSocket closed with %d",
             (unsigned long long)c->session, c->peer, code);
    return ws_conn_end(c, code);
}

static int ws_conn_on_close_frame(conn_t *c, const char *payload, size_t len)
{
    ws_conn_t *w = c->state;
    uint16_t code;
    const char *reason;
    size_t rlen;
    int rc = ws_close_parse(payload, len, &code, &reason, &rlen);
    if (rc < 0)
        return ws_conn_fail(c, -rc);
    if (w->close_sent) { /* the answer to ours */
        ws_conn_notify(c, w->code);
        conn_close(c, NULL);
        return -1;
    }
    if (ws_conn_send_close(c, code, reason, rlen) < 0)
        return -1;
    ws_conn_notify(c, code);
    return conn_end(c, 1) < 0 ? -1 : 0;
}

/* A whole compressed message in w->frag (its opcode byte, then DEFLATE
 * bytes): inflated within max, text checked, then to a worker. */
static int ws_conn_deliver_inflated(conn_t *c, size_t max)
{
    ws_conn_t *w = c->state;
    buf_t *plain = conn_scratch(c);
    uint8_t op = (uint8_t)w->msg.opcode;
    buf_reset(plain);
    int rc = buf_append(plain, &op, 1);
    if (rc == 0)
        rc = ws_inflate_message(buf_head(&w->frag) + 1,
                                buf_pending(&w->frag) - 1, max, plain);
    buf_reset(&w->frag);
    buf_trim(&w->frag, CONN_IN_KEEP);
    if (rc == 0 && op == WS_TEXT) {
        ws_utf8_t u;
        ws_utf8_init(&u);
        if (ws_utf8_feed(&u, buf_head(plain) + 1, buf_pending(plain) - 1) <
                0 ||
            ws_utf8_finish(&u) < 0)
            rc = -EILSEQ;
    }
    if (rc == 0)
        conn_submit(c, conn_route(c), WS_MSG_MESSAGE,
                       buf_head(plain), buf_pending(plain), 1);
    conn_scratch_done(plain);
    if (rc == -ENOMEM) {
        conn_close(c, "out of memory inflating a WebSocket message");
        return -1;
    }
    return rc == 0 ? 0
                   : ws_conn_fail(c, rc == -E2BIG ? WS_CLOSE_TOO_BIG
                                             : WS_CLOSE_INVALID_DATA);
}

/* A data frame: checked, added to the message, sent when it is whole. */
static int ws_conn_on_data(conn_t *c, const ws_frame_t *f, const char *payload)
{
    ws_conn_t *w = c->state;
    size_t max = conn_listener(c)->package_max_length;
    int rc = ws_msg_frame(&w->msg, f, max);
    /* A compressed text is checked once inflated. */
    if (rc == 0 && w->msg.opcode == WS_TEXT && !w->msg.compressed &&
        (ws_utf8_feed(&w->msg.utf8, payload, f->payload_len) < 0 ||
         (f->fin && ws_utf8_finish(&w->msg.utf8) < 0)))
        rc = -WS_CLOSE_INVALID_DATA;
    if (rc < 0)
        return ws_conn_fail(c, -rc);
    uint8_t op = (uint8_t)w->msg.opcode;
    if ((f->opcode != WS_CONT && buf_append(&w->frag, &op, 1) < 0) ||
        buf_append(&w->frag, payload, f->payload_len) < 0) {
        conn_close(c, "out of memory for a WebSocket message");
        return -1;
    }
    if (f->fin && w->msg.compressed)
        return ws_conn_deliver_inflated(c, max);
    if (f->fin) {
        conn_submit(c, conn_route(c), WS_MSG_MESSAGE,
                       buf_head(&w->frag), buf_pending(&w->frag), 1);
        buf_reset(&w->frag);
        buf_trim(&w->frag, CONN_IN_KEEP); /* a large message's memory goes */
    }
    return 0;
}

static int ws_conn_on_frame(conn_t *c, const ws_frame_t *f, const char *payload)
{
    ws_conn_t *w = c->state;
    switch (f->opcode) {
    case WS_CLOSE:
        return ws_conn_on_close_frame(c, payload, f->payload_len);
    case WS_PING:
        return w->close_sent ? 0 : ws_conn_send(c, WS_PONG, payload,
                                           f->payload_len);
    case WS_PONG:
        return 0;
    default:
        return w->close_sent ? 0 : ws_conn_on_data(c, f, payload);
    }
}

static ws_conn_t *ws_conn_of(const conn_t *c)
{
    return c->state;
}

/* Handle every whole frame in c->in. 0, or -1 when the connection closed. */
static int ws_conn_advance(conn_t *c)
{
    size_t max = conn_listener(c)->package_max_length;
    while (!c->closing) {
        char *p = buf_head(&c->in);
        size_t len = buf_pending(&c->in);
        ws_frame_t f;
        int hl = ws_frame_parse_ext(p, len, max,
                                    ws_conn_of(c)->deflate_bits ? WS_RSV1 : 0, &f);
        if (hl < 0)
            return ws_conn_fail(c, -hl);
        if (hl == 0 || len - (size_t)hl < f.payload_len)
            return 0;
        char *payload = p + hl;
        ws_unmask(payload, (size_t)f.payload_len, f.mask, 0);
        /* The bytes stay in place until the next append. */
        buf_consume(&c->in, (size_t)hl + (size_t)f.payload_len);
        if (ws_conn_on_frame(c, &f, payload) < 0)
            return -1;
    }
    return 0;
}

int ws_conn_start(conn_t *c, int worker, int deflate_bits)
{
    conn_set_proto(c, &ws_conn_proto, NULL);
    ws_conn_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        conn_close(c, "out of memory for a WebSocket");
        return -1;
    }
    w->worker = worker;
    w->deflate_bits = deflate_bits;
    c->state = w;
    conn_hold(c, CONN_READ);
    return ws_conn_advance(c);
}

static void ws_conn_input(conn_t *c, const char *data, size_t len)
{
    conn_in_ready(c);
    if (buf_append(&c->in, data, len) < 0) {
        conn_close(c, "out of memory for the input buffer");
        return;
    }
    if (ws_conn_advance(c) == 0 && !c->closing) {
        buf_trim(&c->in, CONN_IN_KEEP);
        conn_in_idle(c);
    }
}

static void ws_conn_close_expired(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    ((ws_conn_t *)c->state)->timer = 0;
    log_debug("session %llu: no close frame from the client in time",
              (unsigned long long)c->session);
    conn_close(c, NULL);
}

static void ws_conn_push(conn_t *c, const conn_msg_t *m)
{
    ws_conn_t *w = c->state;
    int op = m->len >= 1 ? (uint8_t)m->data[0] : -1;
    if (op != WS_TEXT && op != WS_BINARY) {
        log_warn("channel: malformed WS_MSG_PUSH dropped");
        return;
    }
    if (w->close_sent)
        return;
    size_t len = m->len - 1;
    if (w->deflate_bits > 0 && len >= WS_DEFLATE_MIN) {
        buf_t *z = conn_scratch(c);
        buf_reset(z);
        int rc = ws_deflate_message(1, w->deflate_bits, m->data + 1, len, z);
        int smaller = rc == 0 && buf_pending(z) < len;
        if (smaller)
            ws_conn_send_rsv(c, op, WS_RSV1, buf_head(z), buf_pending(z));
        conn_scratch_done(z);
        if (smaller)
            return;
    }
    ws_conn_send(c, op, m->data + 1, len);
}

static void ws_conn_close_req(conn_t *c, const conn_msg_t *m)
{
    ws_conn_t *w = c->state;
    uint16_t code;
    if (m->len != sizeof(code)) {
        log_warn("channel: malformed WS_MSG_CLOSE_REQ dropped");
        return;
    }
    memcpy(&code, m->data, sizeof(code));
    if (w->close_sent || !ws_close_code_valid(code))
        return;
    if (ws_conn_send_close(c, code, NULL, 0) < 0)
        return;
    conn_timer_clear(c, w->timer);
    w->timer = conn_timer_add(c, WS_CLOSE_WAIT_MS, ws_conn_close_expired);
}

static void ws_conn_deliver(conn_t *c, const conn_msg_t *m)
{
    if (m->type == WS_MSG_PUSH)
        ws_conn_push(c, m);
    else if (m->type == WS_MSG_CLOSE_REQ)
        ws_conn_close_req(c, m);
    else
        log_warn("session %llu: message type %d is not for a WebSocket; "
                 "dropped", (unsigned long long)c->session, m->type);
}

static void ws_conn_close(conn_t *c, int notify)
{
    ws_conn_t *w = c->state;
    if (w == NULL)
        return;
    conn_timer_clear(c, w->timer);
    if (notify)
        ws_conn_notify(c, w->close_sent ? w->code : 1006);
    buf_free(&w->frag);
    free(w);
    c->state = NULL;
}

/* Its worker is backing off: its messages would wait for the
 * replacement, so the client is asked to come back (1013). */
static void ws_conn_worker_backoff(conn_t *c, const conn_backoff_t *b)
{
    if (!b->refused && (!conn_fixed(c) || c->worker != b->worker))
        return;
    log_warn("session %llu (peer %s): worker %d is backing off after "
             "failures (next start in %d s); closing the WebSocket with %d",
             (unsigned long long)c->session, c->peer, b->worker,
             b->retry_after, WS_CLOSE_TRY_AGAIN);
    ws_conn_end(c, WS_CLOSE_TRY_AGAIN);
}

/* Its worker was killed past max_execution_time while it ran this
 * connection's callback, or the connection is bound to it: closed with
 * 1011 (the server met an unexpected condition). */
static void ws_conn_worker_lost(conn_t *c, const conn_lost_t *l)
{
    if (!l->timeout || (c->session != l->session &&
                        (!conn_fixed(c) || c->worker != l->worker)))
        return;
    log_warn("session %llu (peer %s): worker %d was killed past "
             "max_execution_time; closing the WebSocket with %d",
             (unsigned long long)c->session, c->peer, l->worker,
             WS_CLOSE_INTERNAL);
    conn_count_stuck(c);
    ws_conn_end(c, WS_CLOSE_INTERNAL);
}

const conn_proto_t ws_conn_proto = {
    .name = "websocket",
    .input = ws_conn_input,
    .deliver = ws_conn_deliver,
    .worker_lost = ws_conn_worker_lost,
    .worker_backoff = ws_conn_worker_backoff,
    .close = ws_conn_close,
};
