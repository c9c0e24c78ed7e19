/* http_probe.c: the HTTP and WebSocket test plugin: routes that show what
 * a request carried, answer late, stream, send files, hold a response, and
 * report the errors of the swx_http_* functions; WebSocket messages are
 * echoed, and a few commands drive the closing handshake.
 *
 * Routes (the path; query parameters as noted):
 *   /echo            the body back; X-Method, X-Path, X-Query, X-Version,
 *                    X-Keep-Alive, X-Peer, X-Proxy ("-" when none),
 *                    X-Headers (count), X-Listener; the request's
 *                    X-Set-Server and X-Set-Date become the response's
 *                    Server and Date
 *   /header?NAME     the value of request header NAME (any case), or 404
 *   /worker          "WORKER_ID"
 *   /slow?MS         "slow MS" after MS ms, from a timer (an async end)
 *   /stream?N        N parts "part I\n" with swx_http_write, then "end\n"
 *   /lstream?N       the same with a Content-Length set first
 *   /big?N           N bytes of (i % 251) in one swx_http_end
 *   /param           for the name in header X-Name: "query=RC:VALUE",
 *                    "form=RC:VALUE" and "cookie=RC:VALUE" lines from
 *                    swx_http_query_param, _form_param and swx_http_cookie
 *   /multipart       a line per part of a multipart/form-data body:
 *                    "NAME|FILENAME|TYPE|LEN|SUM" (SUM: the bytes' sum mod
 *                    2^32; "-" for what is absent), then "end RC"
 *   /text?N          N bytes of English text, text/plain or the type in the
 *                    request's X-Type; X-Set-Coding: the plugin sets that
 *                    Content-Encoding; X-Set-Length: it sets Content-Length;
 *                    X-Stream: sent with swx_http_write, then ended
 *   /file[?OFF,LEN]  the config's "file" with swx_http_sendfile
 *   /sendfile-missing  swx_http_sendfile of a missing file -> 404 + error
 *   /close           "bye" with Connection: close
 *   /hold            never answered until the connection goes; the
 *                    response is dropped in on_close (see /held)
 *   /hold-timer?MS   ended from a timer after MS ms whatever happened
 *   /partial         "part 1\n" with swx_http_write, then held like /hold
 *   /crash[?MS]      the worker raises SIGSEGV in on_request (after MS ms)
 *   /abort           the worker calls abort() in on_request
 *   /note?TAG        logs "http_probe: note TAG" (so a test sees that it
 *                    ran) and answers "noted TAG"
 *   /errors          the return codes of misuses, as "name=rc" lines
 *   /after           what swx_http_end and swx_http_write returned when
 *                    called again after the /errors response ended
 *   /held            "held=N gone=M late=RC": responses held and dropped
 *                    on close, and what the last late end returned
 *   /wsclose         the code of the last on_ws_close, or "none"
 *   anything else    404 "no route"
 * WebSocket: every message is echoed with its opcode; the text "close N"
 * makes the server close with code N; "push N" sends N binary messages;
 * "worker" is answered "worker ID"; "session" is answered "session ID
 * WORKER"; "to ID TEXT" pushes TEXT to WebSocket session ID (whichever
 * worker owns it) and answers "pushed RC"; "shut ID CODE" closes session
 * ID with CODE and answers "shut RC".
 *
 * Config: "fail_file": PATH: while that file exists, on_worker_start of
 * worker "fail_worker" (every worker when absent) waits "start_delay_ms"
 * and then fails; it logs "http_probe: worker ID (pid PID) starting" first.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <swx_plugin.h>

#define HOLD_MAX 64

typedef struct hold {
    uint64_t session;
    swx_http_response_t *resp;
    int64_t timer;
    long ms;
} hold_t;

static hold_t holds[HOLD_MAX];
static int held_count, gone_count, late_rc = 1, last_ws_close = -1;
static char after[128] = "none";
static const char *file;

/* fail_file: refuse to start while it exists (a test's switch). */
static int probe_start_fails(int worker_id)
{
    const char *marker = swx_config_string("fail_file", NULL);
    long long only = swx_config_int("fail_worker", -1);
    if (marker == NULL || (only >= 0 && only != worker_id) ||
        access(marker, F_OK) != 0)
        return 0;
    long long ms = swx_config_int("start_delay_ms", 0);
    if (ms > 0 && ms < 10000)
        usleep((useconds_t)ms * 1000);
    swx_log(SWX_LOG_ERROR, "http_probe: %s exists; refusing to start",
            marker);
    return 1;
}

static int probe_start(int worker_id)
{
    swx_log(SWX_LOG_INFO, "http_probe: worker %d (pid %d) starting",
            worker_id, (int)getpid());
    file = swx_config_string("file", NULL);
    return probe_start_fails(worker_id);
}

static int route(const swx_http_request_t *req, const char *path)
{
    return req->path_len == strlen(path) &&
           memcmp(req->path, path, req->path_len) == 0;
}

static long query_num(const swx_http_request_t *req, long def)
{
    return req->query != NULL && req->query_len > 0 ? atol(req->query) : def;
}

static void reply(swx_http_response_t *resp, int status, const char *text)
{
    swx_http_status(resp, status);
    swx_http_header(resp, "Content-Type", "text/plain");
    swx_http_end(resp, text, strlen(text));
}

static void add_num_header(swx_http_response_t *resp, const char *name,
                           long long v)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", v);
    swx_http_header(resp, name, s);
}

/* The request's field from (when there is one) as the response's to. */
static void copy_header(const swx_http_request_t *req,
                        swx_http_response_t *resp, const char *from,
                        const char *to)
{
    char v[128];
    size_t len = 0;
    const char *p = swx_http_get_header(req, from, &len);
    if (p == NULL)
        return;
    snprintf(v, sizeof(v), "%.*s", (int)len, p);
    swx_http_header(resp, to, v);
}

static void route_echo(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    char peer[80];
    copy_header(req, resp, "x-set-server", "Server");
    copy_header(req, resp, "x-set-date", "Date");
    swx_http_header(resp, "X-Method", req->method);
    swx_http_header(resp, "X-Path", req->path);
    swx_http_header(resp, "X-Query", req->query ? req->query : "(none)");
    add_num_header(resp, "X-Version", req->version);
    add_num_header(resp, "X-Keep-Alive", req->keep_alive);
    add_num_header(resp, "X-Headers", (long long)req->nheaders);
    add_num_header(resp, "X-Listener", req->listener);
    snprintf(peer, sizeof(peer), "%s:%d", req->peer_addr, req->peer_port);
    swx_http_header(resp, "X-Peer", peer);
    if (req->proxy_addr[0] != '\0')
        snprintf(peer, sizeof(peer), "%s:%d", req->proxy_addr,
                 req->proxy_port);
    swx_http_header(resp, "X-Proxy", req->proxy_addr[0] ? peer : "-");
    swx_http_end(resp, req->body, req->body_len);
}

static void route_header(const swx_http_request_t *req,
                         swx_http_response_t *resp)
{
    char name[128];
    size_t len = 0;
    snprintf(name, sizeof(name), "%.*s", (int)req->query_len,
             req->query ? req->query : "");
    const char *v = swx_http_get_header(req, name, &len);
    if (v == NULL) {
        reply(resp, 404, "no such header\n");
        return;
    }
    swx_http_end(resp, v, len);
}

static hold_t *hold_find(uint64_t session)
{
    for (int i = 0; i < HOLD_MAX; i++)
        if (holds[i].resp != NULL && holds[i].session == session)
            return &holds[i];
    return NULL;
}

static hold_t *hold_new(uint64_t session, swx_http_response_t *resp)
{
    hold_t *h = NULL;
    for (int i = 0; i < HOLD_MAX && h == NULL; i++)
        if (holds[i].resp == NULL)
            h = &holds[i];
    if (h != NULL) {
        *h = (hold_t){session, resp, 0, 0};
        held_count++;
    }
    return h;
}

static void slow_done(int64_t id, void *arg)
{
    (void)id;
    hold_t *h = arg;
    char body[64];
    int n = snprintf(body, sizeof(body), "slow %ld\n", h->ms);
    h->timer = 0;
    late_rc = swx_http_end(h->resp, body, (size_t)n);
    h->resp = NULL;
}

/* /slow and /hold-timer: ended by a timer. */
static void route_timer(const swx_http_request_t *req,
                        swx_http_response_t *resp)
{
    long ms = query_num(req, 100);
    hold_t *h = hold_new(req->session, resp);
    if (h == NULL) {
        reply(resp, 503, "too many held\n");
        return;
    }
    h->ms = ms;
    h->timer = swx_timer_after(ms, slow_done, h);
    if (h->timer < 0) {
        h->resp = NULL;
        reply(resp, 500, "timer failed\n");
    }
}

static void route_stream(const swx_http_request_t *req,
                         swx_http_response_t *resp, int with_length)
{
    long n = query_num(req, 3);
    char part[32];
    if (with_length) {
        long total = 0;
        for (long i = 1; i <= n; i++)
            total += snprintf(part, sizeof(part), "part %ld\n", i);
        add_num_header(resp, "Content-Length", total + 4);
    }
    for (long i = 1; i <= n; i++) {
        int len = snprintf(part, sizeof(part), "part %ld\n", i);
        swx_http_write(resp, part, (size_t)len);
    }
    swx_http_end(resp, "end\n", 4);
}

static void route_param(const swx_http_request_t *req,
                        swx_http_response_t *resp)
{
    const char *name = swx_http_get_header(req, "X-Name", NULL);
    char out[3 * 256], v[256];
    int n = 0, rc;
    if (name == NULL) {
        reply(resp, 400, "no X-Name\n");
        return;
    }
    rc = swx_http_query_param(req, name, v, sizeof(v));
    n += snprintf(out + n, sizeof(out) - (size_t)n, "query=%d:%s\n", rc,
                  rc >= 0 ? v : "");
    rc = swx_http_form_param(req, name, v, sizeof(v));
    n += snprintf(out + n, sizeof(out) - (size_t)n, "form=%d:%s\n", rc,
                  rc >= 0 ? v : "");
    rc = swx_http_cookie(req, name, v, sizeof(v));
    snprintf(out + n, sizeof(out) - (size_t)n, "cookie=%d:%s\n", rc,
             rc >= 0 ? v : "");
    reply(resp, 200, out);
}

static void route_multipart(const swx_http_request_t *req,
                            swx_http_response_t *resp)
{
    char out[8192];
    size_t n = 0, cursor = 0;
    swx_http_part_t part;
    int rc;
    while ((rc = swx_http_multipart_next(req, &cursor, &part)) == 1 &&
           n < sizeof(out) - 512) {
        uint32_t sum = 0;
        for (size_t i = 0; i < part.len; i++)
            sum += ((const unsigned char *)part.data)[i];
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s|%.*s|%.*s|%zu|%u\n",
                              part.name ? (int)part.name_len : 1,
                              part.name ? part.name : "-",
                              part.filename ? (int)part.filename_len : 1,
                              part.filename ? part.filename : "-",
                              part.type ? (int)part.type_len : 1,
                              part.type ? part.type : "-", part.len, sum);
    }
    snprintf(out + n, sizeof(out) - n, "end %d\n", rc);
    reply(resp, 200, out);
}

static void route_text(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    static const char words[] = "the quick brown fox jumps over the lazy "
                                "dog and keeps running through the field; ";
    long n = query_num(req, 1000);
    if (n < 0 || n > 64L * 1024 * 1024) {
        reply(resp, 400, "bad size\n");
        return;
    }
    char *body = malloc(n > 0 ? (size_t)n : 1);
    if (body == NULL) {
        reply(resp, 500, "no memory\n");
        return;
    }
    for (long i = 0; i < n; i++)
        body[i] = words[i % (long)(sizeof(words) - 1)];
    const char *type = swx_http_get_header(req, "X-Type", NULL);
    const char *coding = swx_http_get_header(req, "X-Set-Coding", NULL);
    swx_http_header(resp, "Content-Type", type ? type : "text/plain");
    if (coding != NULL)
        swx_http_header(resp, "Content-Encoding", coding);
    if (swx_http_get_header(req, "X-Set-Length", NULL) != NULL)
        add_num_header(resp, "Content-Length", n);
    if (swx_http_get_header(req, "X-Stream", NULL) != NULL) {
        swx_http_write(resp, body, (size_t)n / 2);
        swx_http_end(resp, body + n / 2, (size_t)(n - n / 2));
    } else {
        swx_http_end(resp, body, (size_t)n);
    }
    free(body);
}

static void route_big(const swx_http_request_t *req,
                      swx_http_response_t *resp)
{
    long n = query_num(req, 1000);
    char *body = malloc(n > 0 ? (size_t)n : 1);
    for (long i = 0; body != NULL && i < n; i++)
        body[i] = (char)(i % 251);
    int rc = body ? swx_http_end(resp, body, (size_t)n) : -ENOMEM;
    free(body);
    if (rc < 0) {
        char msg[32];
        snprintf(msg, sizeof(msg), "end %d\n", rc);
        reply(resp, 500, msg);
    }
}

static void route_file(const swx_http_request_t *req,
                       swx_http_response_t *resp, const char *path)
{
    unsigned long long off = 0, len = 0;
    if (req->query != NULL)
        sscanf(req->query, "%llu,%llu", &off, &len);
    int rc = swx_http_sendfile(resp, path, off, len);
    if (rc < 0) {
        char msg[32];
        snprintf(msg, sizeof(msg), "sendfile %d\n", rc);
        reply(resp, rc == -ENOENT ? 404 : 400, msg);
    }
}

/* Misuses, each with the code it must return. */
static void route_errors(swx_http_response_t *resp)
{
    char out[512];
    int n = snprintf(out, sizeof(out),
                     "status99=%d\nstatus600=%d\nbadname=%d\ncrlf=%d\n"
                     "te=%d\nbadlen=%d\nconn=%d\n",
                     swx_http_status(resp, 99), swx_http_status(resp, 600),
                     swx_http_header(resp, "Bad Name", "x"),
                     swx_http_header(resp, "X-Evil", "a\r\nInjected: 1"),
                     swx_http_header(resp, "Transfer-Encoding", "gzip"),
                     swx_http_header(resp, "Content-Length", "12x"),
                     swx_http_header(resp, "Connection", "upgrade"));
    swx_http_header(resp, "Content-Type", "text/plain");
    swx_http_end(resp, out, (size_t)n);
    snprintf(after, sizeof(after), "end=%d write=%d status=%d\n",
             swx_http_end(resp, "x", 1), swx_http_write(resp, "x", 1),
             swx_http_status(resp, 200));
}

static void route_held(swx_http_response_t *resp)
{
    char out[96];
    snprintf(out, sizeof(out), "held=%d gone=%d late=%d\n", held_count,
             gone_count, late_rc);
    reply(resp, 200, out);
}

static void route_misc(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    char out[64];
    if (route(req, "/worker")) {
        snprintf(out, sizeof(out), "%d", swx_worker_id());
        reply(resp, 200, out);
    } else if (route(req, "/close")) {
        swx_http_header(resp, "Connection", "close");
        swx_http_end(resp, "bye\n", 4);
    } else if (route(req, "/hold")) {
        if (hold_new(req->session, resp) == NULL)
            reply(resp, 503, "too many held\n");
    } else if (route(req, "/partial")) {
        swx_http_write(resp, "part 1\n", 7);
        if (hold_new(req->session, resp) == NULL)
            swx_http_end(resp, "too many held\n", 14);
    } else if (route(req, "/crash")) {
        long ms = query_num(req, 0);
        if (ms > 0 && ms < 10000)
            usleep((useconds_t)ms * 1000);
        raise(SIGSEGV);
    } else if (route(req, "/abort")) {
        abort();
    } else if (route(req, "/note")) {
        snprintf(out, sizeof(out), "noted %.*s\n",
                 (int)(req->query_len < 40 ? req->query_len : 40),
                 req->query ? req->query : "");
        swx_log(SWX_LOG_INFO, "http_probe: note %.*s",
                (int)(req->query_len < 40 ? req->query_len : 40),
                req->query ? req->query : "");
        reply(resp, 200, out);
    } else if (route(req, "/after")) {
        reply(resp, 200, after);
    } else if (route(req, "/held")) {
        route_held(resp);
    } else if (route(req, "/wsclose")) {
        snprintf(out, sizeof(out), "%d", last_ws_close);
        reply(resp, 200, last_ws_close < 0 ? "none" : out);
    } else if (route(req, "/sendfile-missing")) {
        route_file(req, resp, "/nonexistent/swx-file");
    } else {
        reply(resp, 404, "no route\n");
    }
}

static void probe_request(const swx_http_request_t *req,
                          swx_http_response_t *resp)
{
    if (route(req, "/echo"))
        route_echo(req, resp);
    else if (route(req, "/header"))
        route_header(req, resp);
    else if (route(req, "/slow") || route(req, "/hold-timer"))
        route_timer(req, resp);
    else if (route(req, "/stream") || route(req, "/lstream"))
        route_stream(req, resp, route(req, "/lstream"));
    else if (route(req, "/big"))
        route_big(req, resp);
    else if (route(req, "/text"))
        route_text(req, resp);
    else if (route(req, "/param"))
        route_param(req, resp);
    else if (route(req, "/multipart"))
        route_multipart(req, resp);
    else if (route(req, "/file"))
        route_file(req, resp, file ? file : "/nonexistent/swx-no-file");
    else if (route(req, "/errors"))
        route_errors(resp);
    else
        route_misc(req, resp);
}

/* The server frees a response once on_close returns: forget it here. A
 * timer still pending would end a freed response. */
static void probe_close(uint64_t session)
{
    hold_t *h;
    while ((h = hold_find(session)) != NULL) {
        if (h->timer > 0 && swx_timer_clear(h->timer) == 0)
            h->timer = 0;
        late_rc = swx_http_end(h->resp, "x", 1); /* -ENOTCONN */
        h->resp = NULL;
        gone_count++;
    }
}

/* "session", "to ID TEXT", "shut ID CODE": another session's. */
static int probe_ws_other(uint64_t session, const char *cmd)
{
    char out[96], text[33];
    unsigned long long id;
    int code, n = 0;
    if (strcmp(cmd, "session") == 0)
        n = snprintf(out, sizeof(out), "session %llu %d",
                     (unsigned long long)session, swx_worker_id());
    else if (sscanf(cmd, "to %llu %32s", &id, text) == 2)
        n = snprintf(out, sizeof(out), "pushed %d",
                     swx_ws_push(id, text, strlen(text), SWX_WS_TEXT));
    else if (sscanf(cmd, "shut %llu %d", &id, &code) == 2)
        n = snprintf(out, sizeof(out), "shut %d", swx_ws_close(id, code));
    if (n > 0)
        swx_ws_push(session, out, (size_t)n, SWX_WS_TEXT);
    return n > 0;
}

static void probe_ws_message(uint64_t session, int opcode, const void *data,
                             size_t len)
{
    char cmd[64];
    int code, n;
    snprintf(cmd, sizeof(cmd), "%.*s", (int)(len < 63 ? len : 63),
             (const char *)data);
    if (opcode == SWX_WS_TEXT && probe_ws_other(session, cmd)) {
        return;
    } else if (opcode == SWX_WS_TEXT && sscanf(cmd, "close %d", &code) == 1) {
        swx_ws_close(session, code);
    } else if (opcode == SWX_WS_TEXT && strcmp(cmd, "worker") == 0) {
        n = snprintf(cmd, sizeof(cmd), "worker %d", swx_worker_id());
        swx_ws_push(session, cmd, (size_t)n, SWX_WS_TEXT);
    } else if (opcode == SWX_WS_TEXT && sscanf(cmd, "push %d", &n) == 1) {
        for (int i = 0; i < n; i++)
            swx_ws_push(session, &i, sizeof(i), SWX_WS_BINARY);
    } else {
        swx_ws_push(session, data, len, opcode);
    }
}

static void probe_ws_close(uint64_t session, int code)
{
    (void)session;
    last_ws_close = code;
    swx_log(SWX_LOG_INFO, "http_probe: ws session %llu closed with %d",
            (unsigned long long)session, code);
}

SWX_PLUGIN(.name = "http_probe",
           .on_worker_start = probe_start,
           .on_request = probe_request,
           .on_close = probe_close,
           .on_message = probe_ws_message,
           .on_ws_close = probe_ws_close);
