/* http_api.c: HTTP requests and WebSocket sessions in a worker: requests
 * decoded and handed to on_request with a response, the open responses of
 * each session (gone when the connection goes, freed after on_close), and
 * the WebSocket events and functions. */
#include "http/http_api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin/api.h"
#include "proc/child.h"
#include "proc/watch.h"
#include "proc/worker.h"
#include "http/http_msg.h"
#include "http/http_response.h"
#include "http/http_wire.h"
#include "core/log.h"
#include "protocol/http_form.h"
#include "protocol/http_multipart.h"
#include "protocol/ws.h"
#include "core/session.h"

static session_table_t open_resps; /* session -> its response */
static swx_http_response_t *retired; /* ended: freed after the callback */
static int sweep_pending;

static void http_api_sweep(void *arg)
{
    (void)arg;
    sweep_pending = 0;
    while (retired != NULL) {
        swx_http_response_t *r = retired;
        retired = r->next;
        http_response_recycle(r);
    }
}

/* Take r out of its session's list of open responses. */
static void http_api_untrack(swx_http_response_t *r)
{
    swx_http_response_t *head =
        open_resps.cap > 0 ? session_get(&open_resps, r->session) : NULL;
    if (head == r) {
        session_del(&open_resps, r->session);
        if (r->sibling != NULL)
            session_put(&open_resps, r->session, r->sibling); /* room: freed */
    } else {
        for (; head != NULL; head = head->sibling)
            if (head->sibling == r) {
                head->sibling = r->sibling;
                break;
            }
    }
    r->sibling = NULL;
}

void http_api_retire(swx_http_response_t *r)
{
    http_api_untrack(r);
    r->next = retired;
    retired = r;
    if (!sweep_pending && loop_defer(child.loop, http_api_sweep, NULL) == 0)
        sweep_pending = 1;
}

/* Track r as an open response of its session: the only one for HTTP/1.x,
 * one per stream for HTTP/2. 0 or -ENOMEM. */
static int http_api_track(swx_http_response_t *r)
{
    if (open_resps.cap == 0 && session_table_init(&open_resps, 64) < 0)
        return -ENOMEM;
    swx_http_response_t *old = session_del(&open_resps, r->session);
    if (old != NULL && r->stream == 0) {
        old->gone = 1; /* cannot happen: one request per connection */
        old = NULL;
    }
    r->sibling = old;
    return session_put(&open_resps, r->session, r);
}

/* The open response of session's stream (0: HTTP/1.x), or NULL. */
static swx_http_response_t *http_api_find(uint64_t session, uint32_t stream)
{
    swx_http_response_t *r =
        open_resps.cap > 0 ? session_get(&open_resps, session) : NULL;
    while (r != NULL && stream != 0 && r->stream != stream)
        r = r->sibling;
    return r;
}

void http_api_gone(uint64_t session)
{
    swx_http_response_t *r =
        open_resps.cap > 0 ? session_get(&open_resps, session) : NULL;
    for (; r != NULL; r = r->sibling)
        r->gone = 1;
}

void http_api_release(uint64_t session)
{
    swx_http_response_t *r =
        open_resps.cap > 0 ? session_del(&open_resps, session) : NULL;
    while (r != NULL) {
        swx_http_response_t *next = r->sibling;
        r->sibling = NULL;
        r->gone = 1;
        if (!r->sending) /* else its waiting send retires it (ended) */
            http_response_free(r);
        r = next;
    }
}

/* IPC_CLOSE will not come here: the response stays (gone) until the
 * plugin ends it, or until the worker exits. */
static void http_api_abort(uint64_t session)
{
    http_api_gone(session);
}

/* The client reset one HTTP/2 stream: its response goes nowhere now. */
static void http_api_stream_abort(const ipc_msg_t *m)
{
    uint32_t stream;
    if (m->len != sizeof(stream))
        return;
    memcpy(&stream, m->data, sizeof(stream));
    swx_http_response_t *r = stream != 0 ? http_api_find(m->session, stream)
                                         : NULL;
    if (r != NULL)
        r->gone = 1;
}

int http_api_open(void)
{
    int n = 0;
    for (size_t i = 0; i < open_resps.cap; i++) {
        swx_http_response_t *r = open_resps.keys[i] != 0 ? open_resps.vals[i]
                                                         : NULL;
        for (; r != NULL; r = r->sibling)
            n += !r->gone;
    }
    return n;
}

void http_api_free(void)
{
    for (size_t i = 0; i < open_resps.cap; i++) {
        swx_http_response_t *r = open_resps.keys[i] != 0 ? open_resps.vals[i]
                                                         : NULL;
        while (r != NULL) {
            swx_http_response_t *next = r->sibling;
            http_response_free(r);
            r = next;
        }
    }
    session_table_free(&open_resps);
    http_api_sweep(NULL);
}

static void http_api_request(const plugin_t *p, const ipc_msg_t *m)
{
    /* On this stack, not static: a callback that waits (a coroutine)
     * still reads its request's headers while others come in. */
    swx_http_header_t req_headers[HTTP_MAX_HEADERS];
    swx_http_request_t req;
    int ok = http_wire_decode(m->data, m->len, &req, req_headers,
                              HTTP_MAX_HEADERS) == 0;
    if (!ok)
        log_warn("session %llu: malformed request message (%zu bytes); "
                 "answered with 500", (unsigned long long)m->session, m->len);
    req.session = m->session;
    req.listener = m->listener;
    if (ok)
        watch_detail("%.*s %.*s", (int)req.method_len, req.method,
                     (int)(req.path_len < 80 ? req.path_len : 80), req.path);
    const config_listener_t *l = &child.srv->cfg.listeners[m->listener];
    http_compression_t z = {
        .level = l->http_compression ? l->http_compression_level : 0,
        .min_length = l->http_compression_min_length};
    swx_http_response_t *r =
        http_response_new(m->session, ok ? &req : NULL, &z);
    if (r != NULL)
        r->stream = http_wire_stream(m->data, m->len);
    if (r == NULL || http_api_track(r) < 0) {
        log_error("session %llu: out of memory for a response; closing",
                  (unsigned long long)m->session);
        if (r != NULL)
            http_response_free(r);
        worker_send_msg(m->session, IPC_CLOSE_REQ, NULL, 0);
        return;
    }
    if (!ok || p->desc.on_request == NULL) {
        http_response_status(r, ok ? 404 : 500);
        http_response_header(r, "Content-Type", "text/plain");
        http_response_end(r, ok ? "404 Not Found\n" : "500 Internal "
                          "Server Error\n", ok ? 14 : 26);
        return;
    }
    api_call(p, on_request, &req, r);
}

static void http_api_ws_open(const plugin_t *p, const ipc_msg_t *m)
{
    swx_http_header_t req_headers[HTTP_MAX_HEADERS];
    swx_http_request_t req;
    if (http_wire_decode(m->data, m->len, &req, req_headers,
                         HTTP_MAX_HEADERS) < 0) {
        log_warn("session %llu: malformed handshake message (%zu bytes) "
                 "dropped", (unsigned long long)m->session, m->len);
        return;
    }
    req.session = m->session;
    req.listener = m->listener;
    api_call(p, on_open, m->session, &req);
}

static void http_api_ws_message(const plugin_t *p, const ipc_msg_t *m)
{
    int op = m->len >= 1 ? (uint8_t)m->data[0] : -1;
    if (op != WS_TEXT && op != WS_BINARY) {
        log_warn("session %llu: malformed WebSocket message dropped",
                 (unsigned long long)m->session);
        return;
    }
    api_call(p, on_message, m->session, op, m->data + 1, m->len - 1);
}

static void http_api_ws_closed(const plugin_t *p, const ipc_msg_t *m)
{
    uint16_t code;
    if (m->len != sizeof(code)) {
        log_warn("session %llu: malformed WebSocket close dropped",
                 (unsigned long long)m->session);
        return;
    }
    memcpy(&code, m->data, sizeof(code));
    api_call(p, on_ws_close, m->session, code);
}

/* A probe is a uint64_t request number, and for HTTP/2 the uint32_t
 * stream it asks after. */
static uint32_t http_api_probe_stream(const ipc_msg_t *m)
{
    uint32_t stream = 0;
    if (m->len == sizeof(uint64_t) + sizeof(stream))
        memcpy(&stream, m->data + sizeof(uint64_t), sizeof(stream));
    return stream;
}

int http_api_handle(const plugin_t *p, const ipc_msg_t *m)
{
    switch (m->type) {
    case HTTP_MSG_REQUEST:
        http_api_request(p, m);
        return 1;
    case HTTP_MSG_ABORT:
        http_api_abort(m->session);
        return 1;
    case HTTP_MSG_PROBE:
        /* Not held here (ended ones were answered before this reply): the
         * process that took it died. */
        if (http_api_find(m->session, http_api_probe_stream(m)) == NULL)
            worker_send_msg(m->session, HTTP_MSG_LOST, m->data, m->len);
        return 1;
    case HTTP_MSG_STREAM_ABORT:
        http_api_stream_abort(m);
        return 1;
    case WS_MSG_OPEN:
        http_api_ws_open(p, m);
        return 1;
    case WS_MSG_MESSAGE:
        http_api_ws_message(p, m);
        return 1;
    case WS_MSG_CLOSE:
        http_api_ws_closed(p, m);
        return 1;
    default:
        return 0;
    }
}

const char *http_api_get_header(const swx_http_request_t *req,
                                const char *name, size_t *len)
{
    if (req == NULL || name == NULL)
        return NULL;
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const swx_http_header_t *h = &req->headers[i];
        if (h->name_len == nl && strncasecmp(h->name, name, nl) == 0) {
            if (len != NULL)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

int http_api_ws_push(uint64_t session, const void *data, size_t len,
                     int opcode)
{
    size_t max = worker_output_max();
    if (max == 0)
        return -ENOTSUP;
    if ((opcode != SWX_WS_TEXT && opcode != SWX_WS_BINARY) ||
        (data == NULL && len > 0))
        return -EINVAL;
    if (len + 1 + 10 > max) /* the frame header too must fit */
        return -E2BIG;
    uint8_t op = (uint8_t)opcode;
    struct iovec iov[2] = {{&op, 1}, {(void *)data, len}};
    return worker_sendv(session, WS_MSG_PUSH, iov, 2);
}

int http_api_ws_close(uint64_t session, int code)
{
    if (worker_output_max() == 0)
        return -ENOTSUP;
    if (code < 0 || code > 65535 || !ws_close_code_valid((unsigned)code))
        return -EINVAL;
    uint16_t v = (uint16_t)code;
    return worker_send_msg(session, WS_MSG_CLOSE_REQ, &v, sizeof(v));
}

int http_api_query_param(const swx_http_request_t *req, const char *name,
                         char *out, size_t cap)
{
    if (req == NULL || name == NULL || out == NULL)
        return -EINVAL;
    if (req->query == NULL)
        return -ENOENT;
    return http_form_param(req->query, req->query_len, name, out, cap);
}

int http_api_form_param(const swx_http_request_t *req, const char *name,
                        char *out, size_t cap)
{
    static const char form[] = "application/x-www-form-urlencoded";
    if (req == NULL || name == NULL || out == NULL)
        return -EINVAL;
    size_t tl;
    const char *type = http_api_get_header(req, "content-type", &tl);
    size_t fl = sizeof(form) - 1;
    if (type == NULL || tl < fl || strncasecmp(type, form, fl) != 0 ||
        (tl > fl && type[fl] != ';' && type[fl] != ' '))
        return -ENOTSUP;
    return http_form_param(req->body, req->body_len, name, out, cap);
}

int http_api_cookie(const swx_http_request_t *req, const char *name,
                    char *out, size_t cap)
{
    if (req == NULL || name == NULL || out == NULL)
        return -EINVAL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const swx_http_header_t *h = &req->headers[i];
        if (h->name_len != 6 || strncasecmp(h->name, "cookie", 6) != 0)
            continue;
        int rc = http_cookie_value(h->value, h->value_len, name, out, cap);
        if (rc != -ENOENT)
            return rc;
    }
    return -ENOENT;
}

int http_api_multipart_next(const swx_http_request_t *req, size_t *cursor,
                            swx_http_part_t *part)
{
    if (req == NULL || cursor == NULL || part == NULL)
        return -EINVAL;
    size_t tl, blen;
    const char *b, *type = http_api_get_header(req, "content-type", &tl);
    if (type == NULL)
        return -ENOTSUP;
    int rc = http_multipart_boundary(type, tl, &b, &blen);
    if (rc < 0)
        return rc;
    http_part_t p;
    rc = http_multipart_next(req->body, req->body_len, b, blen, cursor, &p);
    if (rc == 1)
        *part = (swx_http_part_t){p.name, p.name_len, p.filename,
                                  p.filename_len, p.type, p.type_len, p.data,
                                  p.len};
    return rc;
}
