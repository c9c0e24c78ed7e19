/* cosock.c: the plugin the client socket tests drive: one-line commands over
 * TCP (each answered with one line) that talk to the test's upstream
 * servers with swx_co_sock_*, an HTTP handler that asks a slow upstream
 * three times at once, and the calls outside a coroutine at worker start. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <swx_plugin.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(uint64_t session, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reply(uint64_t session, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    swx_send(session, line, (size_t)n);
}

/* Connect and send the upstream its command line. 0 or -errno. */
static int open_cmd(const char *host, int port, const char *cmd,
                    swx_co_sock_t **s)
{
    int rc = swx_co_sock_connect(host, port, 2000, s);
    if (rc < 0)
        return rc;
    ssize_t w = swx_co_sock_send(*s, cmd, strlen(cmd), 2000);
    if (w < 0) {
        swx_co_sock_close(*s);
        return (int)w;
    }
    return 0;
}

/* ---- connect errors and timeouts ---- */

static void cmd_connect(uint64_t session, const char *host, int port,
                        long ms)
{
    swx_co_sock_t *s = NULL;
    long long t0 = now_ms();
    int rc = swx_co_sock_connect(host, port, ms, &s);
    reply(session, "connect rc=%d took=%lld", rc, now_ms() - t0);
    if (rc == 0)
        swx_co_sock_close(s);
}

/* recv on an upstream that never answers: -ETIMEDOUT after ms */
static void cmd_rtimeout(uint64_t session, int port, long ms)
{
    swx_co_sock_t *s;
    char b[16];
    int rc = open_cmd("127.0.0.1", port, "silent\n", &s);
    long long t0 = now_ms();
    ssize_t r = rc < 0 ? rc : swx_co_sock_recv(s, b, sizeof(b), ms);
    reply(session, "rtimeout rc=%zd took=%lld", r, now_ms() - t0);
    if (rc == 0)
        swx_co_sock_close(s);
}

/* ---- lines, exact, echo ---- */

/* Read lines until EOF or an error: each line's length and text. */
static void cmd_lines(uint64_t session, int port, long max)
{
    swx_co_sock_t *s;
    char out[800] = "", line[512];
    size_t n = 0;
    int rc = open_cmd("127.0.0.1", port, "lines\n", &s);
    ssize_t r = rc;
    if (max > (long)sizeof(line))
        max = (long)sizeof(line);
    while (rc == 0 && n < sizeof(out) - 100) {
        r = swx_co_sock_recv_until(s, "\n", 1, line, (size_t)max, 3000);
        if (r <= 0 && r != -EMSGSIZE)
            break;
        int shown = r > 0 ? (int)(r - (line[r - 1] == '\n')) : 0;
        n += (size_t)snprintf(out + n, sizeof(out) - n, " %zd:%.*s", r,
                              shown, line);
    }
    reply(session, "lines last=%zd%s", r, out);
    if (rc == 0)
        swx_co_sock_close(s);
}

/* recv_exact n bytes sent in small pieces: the count and their sum. */
static void cmd_exact(uint64_t session, int port, long n)
{
    swx_co_sock_t *s;
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "exact %ld\n", n);
    int rc = open_cmd("127.0.0.1", port, cmd, &s);
    unsigned char *buf = malloc((size_t)n + 1);
    ssize_t r = rc < 0 ? rc : swx_co_sock_recv_exact(s, buf, (size_t)n + 1,
                                                     5000);
    unsigned long sum = 0;
    for (ssize_t i = 0; i < r; i++)
        sum += buf[i];
    reply(session, "exact rc=%zd sum=%lu", r, sum);
    free(buf);
    if (rc == 0)
        swx_co_sock_close(s);
}

/* One echo round trip to host (a Unix path or an IPv6 address). */
static void cmd_echo(uint64_t session, const char *host, int port)
{
    swx_co_sock_t *s;
    char line[128] = "";
    int rc = open_cmd(host, port, "echo\nhello over the socket\n", &s);
    ssize_t r = rc < 0 ? rc : swx_co_sock_recv_until(s, "\n", 1, line,
                                                     sizeof(line) - 1, 3000);
    if (r > 0)
        line[r - 1] = '\0';
    reply(session, "echo rc=%zd line=%s", r, line);
    if (rc == 0)
        swx_co_sock_close(s);
}

/* ---- a socket waiting at reload ---- */

static void parked_recv(void *arg)
{
    swx_co_sock_t *s;
    char b[16];
    int rc = open_cmd("127.0.0.1", (int)(intptr_t)arg, "silent\n", &s);
    if (rc < 0) {
        swx_log(SWX_LOG_ERROR, "cosock: parked connect failed rc=%d", rc);
        return;
    }
    ssize_t r = swx_co_sock_recv(s, b, sizeof(b), -1);
    ssize_t again = swx_co_sock_recv(s, b, sizeof(b), -1);
    swx_log(SWX_LOG_NOTICE, "cosock: parked recv woke rc=%zd again=%zd "
            "close=%d", r, again, swx_co_sock_close(s));
}

/* ---- three slow requests at once, from an HTTP handler ---- */

typedef struct fetch {
    swx_co_wg_t *wg;
    int port;
    long ms;
    ssize_t rc;
    char body[64];
} fetch_t;

/* GET /delay/MS from the upstream: rc is the body's length or -errno. */
static void fetch_one(void *arg)
{
    fetch_t *f = arg;
    swx_co_sock_t *s;
    char req[128], head[1024];
    snprintf(req, sizeof(req), "GET /delay/%ld HTTP/1.1\r\nHost: up\r\n"
             "Connection: close\r\n\r\n", f->ms);
    f->rc = open_cmd("127.0.0.1", f->port, req, &s);
    if (f->rc == 0) {
        f->rc = swx_co_sock_recv_until(s, "\r\n\r\n", 4, head, sizeof(head),
                                       5000);
        if (f->rc > 0)
            f->rc = swx_co_sock_recv(s, f->body, sizeof(f->body) - 1, 5000);
        if (f->rc > 0)
            f->body[f->rc - (f->body[f->rc - 1] == '\n')] = '\0';
        swx_co_sock_close(s);
    }
    swx_co_wg_done(f->wg);
}

static void three(swx_http_response_t *resp, int port)
{
    fetch_t *f = calloc(3, sizeof(*f));
    swx_co_wg_t *wg = swx_co_wg_new();
    long long t0 = now_ms();
    swx_co_wg_add(wg, 3);
    for (int i = 0; i < 3; i++) {
        f[i] = (fetch_t){.wg = wg, .port = port, .ms = 1000 + 500 * i};
        swx_go(fetch_one, &f[i]);
    }
    int rc = swx_co_wg_wait(wg, 10000);
    char out[512];
    int n = snprintf(out, sizeof(out), "three rc=%d took=%lld a=%zd:%s "
                     "b=%zd:%s c=%zd:%s\n", rc, now_ms() - t0, f[0].rc,
                     f[0].body, f[1].rc, f[1].body, f[2].rc, f[2].body);
    swx_co_wg_free(wg);
    free(f);
    swx_http_end(resp, out, (size_t)n);
}

static void on_request(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    char port[16] = "0";
    swx_http_query_param(req, "port", port, sizeof(port));
    if (req->path_len == 6 && memcmp(req->path, "/three", 6) == 0) {
        three(resp, atoi(port));
        return;
    }
    swx_http_status(resp, 404);
    swx_http_end(resp, "no\n", 3);
}

/* ---- commands ---- */

static void on_receive(uint64_t session, const void *data, size_t len)
{
    char line[256], host[200];
    snprintf(line, sizeof(line), "%.*s", (int)len, (const char *)data);
    line[strcspn(line, "\r\n")] = '\0';
    long a = 0, b = 0;
    if (sscanf(line, "connect %199s %ld %ld", host, &a, &b) == 3)
        cmd_connect(session, host, (int)a, b);
    else if (sscanf(line, "rtimeout %ld %ld", &a, &b) == 2)
        cmd_rtimeout(session, (int)a, b);
    else if (sscanf(line, "lines %ld %ld", &a, &b) == 2)
        cmd_lines(session, (int)a, b);
    else if (sscanf(line, "exact %ld %ld", &a, &b) == 2)
        cmd_exact(session, (int)a, b);
    else if (sscanf(line, "echo %199s %ld", host, &a) == 2)
        cmd_echo(session, host, (int)a);
    else if (sscanf(line, "park %ld", &a) == 1)
        reply(session, "park id=%lld",
              (long long)swx_go(parked_recv, (void *)(intptr_t)a));
    else if (strcmp(line, "ping") == 0)
        reply(session, "pong");
    else
        reply(session, "unknown %s", line);
}

/* Outside a coroutine every call but close fails at once with -EPERM. */
static int on_worker_start(int worker_id)
{
    swx_co_sock_t *s = NULL;
    swx_log(SWX_LOG_NOTICE, "cosock: outside id=%lld connect=%d "
            "send=%zd recv=%zd until=%zd close=%d", (long long)swx_co_id(),
            swx_co_sock_connect("127.0.0.1", 9, 100, &s),
            swx_co_sock_send(s, "x", 1, 100), swx_co_sock_recv(s, NULL, 1, 100),
            swx_co_sock_recv_until(s, "\n", 1, NULL, 1, 100),
            swx_co_sock_close(s));
    (void)worker_id;
    return 0;
}

SWX_PLUGIN(.name = "cosock", .on_receive = on_receive,
           .on_request = on_request, .on_worker_start = on_worker_start);
