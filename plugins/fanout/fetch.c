/* fetch.c: a plain HTTP/1.1 GET on the coroutine client sockets: connect,
 * send the request, read the head up to "\r\n\r\n", then the body by its
 * Content-Length, in chunks, or to EOF, counting its bytes. Everything
 * that waits takes the time left of one deadline. */
#include "fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <swx_plugin.h>

#define HEAD_MAX 16384

typedef struct conn {
    swx_co_sock_t *s;
    long long deadline; /* ms, CLOCK_MONOTONIC */
    fetch_result_t *out;
} conn_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long left(const conn_t *c)
{
    long long ms = c->deadline - now_ms();
    return ms > 0 ? (long)ms : 0;
}

/* Fail with rc (< 0), saying why: the protocol's words, or strerror. */
static int fail(conn_t *c, int rc, const char *why)
{
    c->out->error = why != NULL ? why : strerror(-rc);
    return rc;
}

/* ---- the head ---- */

/* "HTTP/1.x DDD ...": the status, or -1. */
static int parse_status(const char *head)
{
    int status;
    char sp;
    if (strncmp(head, "HTTP/1.", 7) != 0 || head[7] < '0' || head[7] > '9' ||
        sscanf(head + 8, "%c%3d", &sp, &status) != 2 || sp != ' ' ||
        status < 100 || status > 999)
        return -1;
    return status;
}

/* The value of header name in head (NUL-terminated), or NULL. */
static const char *header(const char *head, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL;
         p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':')
            return p + 3 + n + strspn(p + 3 + n, " \t");
    }
    return NULL;
}

/* ---- the body ---- */

/* Read and count n bytes (or to EOF when n < 0). */
static int body_count(conn_t *c, long long n)
{
    char buf[16384];
    while (n != 0) {
        size_t want = n < 0 || n > (long long)sizeof(buf) ? sizeof(buf)
                                                          : (size_t)n;
        ssize_t r = swx_co_sock_recv(c->s, buf, want, left(c));
        if (r < 0)
            return fail(c, (int)r, NULL);
        if (r == 0)
            return n < 0 ? 0 : fail(c, -EPROTO, "closed inside the body");
        c->out->bytes += r;
        if (n > 0)
            n -= r;
    }
    return 0;
}

/* One line of a chunked body ("1a;ext\r\n", the "\r\n" after data). */
static int chunk_line(conn_t *c, char *line, size_t size)
{
    ssize_t r = swx_co_sock_recv_until(c->s, "\r\n", 2, line, size - 1,
                                       left(c));
    if (r < 0 && r != -EMSGSIZE)
        return fail(c, (int)r, NULL);
    if (r < 2 || line[r - 2] != '\r')
        return fail(c, -EPROTO, "bad chunked encoding");
    line[r - 2] = '\0';
    return 0;
}

/* Chunks until the last (size 0), then the trailer up to its empty line. */
static int body_chunked(conn_t *c)
{
    char line[256], *end;
    int rc;
    for (;;) {
        if ((rc = chunk_line(c, line, sizeof(line))) < 0)
            return rc;
        long long n = strtoll(line, &end, 16);
        if (end == line || n < 0 || (*end != '\0' && *end != ';'))
            return fail(c, -EPROTO, "bad chunk size");
        if (n == 0)
            break;
        if ((rc = body_count(c, n)) < 0 ||
            (rc = chunk_line(c, line, sizeof(line))) < 0)
            return rc;
        if (line[0] != '\0')
            return fail(c, -EPROTO, "bad chunked encoding");
    }
    do {
        if ((rc = chunk_line(c, line, sizeof(line))) < 0)
            return rc;
    } while (line[0] != '\0');
    return 0;
}

/* The body as the head says (RFC 9112, 6.3): none for 1xx, 204, 304. */
static int body(conn_t *c, const char *head)
{
    int st = c->out->status;
    if (st < 200 || st == 204 || st == 304)
        return 0;
    const char *te = header(head, "Transfer-Encoding");
    if (te != NULL && strncasecmp(te, "chunked", 7) == 0)
        return body_chunked(c);
    const char *cl = header(head, "Content-Length");
    if (cl == NULL)
        return body_count(c, -1);
    char *end;
    long long n = strtoll(cl, &end, 10);
    if (end == cl || n < 0 || (*end != '\r' && *end != ' '))
        return fail(c, -EPROTO, "bad Content-Length");
    return body_count(c, n);
}

/* ---- the exchange ---- */

static int request(conn_t *c, const char *host, int port, const char *path)
{
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "User-Agent: swx-fanout\r\nAccept: */*\r\n"
                     "Connection: close\r\n\r\n", path, host, port);
    if (n < 0 || n >= (int)sizeof(req))
        return fail(c, -EINVAL, "the path is too long");
    ssize_t w = swx_co_sock_send(c->s, req, (size_t)n, left(c));
    return w < 0 ? fail(c, (int)w, NULL) : 0;
}

/* The head, NUL-terminated in head[0, HEAD_MAX], its status parsed. */
static int response_head(conn_t *c, char *head)
{
    ssize_t r = swx_co_sock_recv_until(c->s, "\r\n\r\n", 4, head, HEAD_MAX,
                                       left(c));
    if (r < 0)
        return fail(c, (int)r, r == -EMSGSIZE ? "the head is too large"
                                              : NULL);
    if (r < 4 || memcmp(head + r - 4, "\r\n\r\n", 4) != 0)
        return fail(c, -EPROTO, "closed before the end of the head");
    head[r] = '\0';
    c->out->status = parse_status(head);
    if (c->out->status < 0)
        return fail(c, -EPROTO, "not an HTTP/1.x status line");
    return 0;
}

static int response(conn_t *c)
{
    char *head = malloc(HEAD_MAX + 1);
    if (head == NULL)
        return fail(c, -ENOMEM, NULL);
    int rc = response_head(c, head);
    if (rc == 0)
        rc = body(c, head);
    free(head);
    return rc;
}

int fetch_get(const char *host, int port, const char *path, long timeout_ms,
              fetch_result_t *out)
{
    *out = (fetch_result_t){0, 0, NULL};
    conn_t c = {NULL, now_ms() + timeout_ms, out};
    int rc = swx_co_sock_connect(host, port, timeout_ms, &c.s);
    if (rc < 0)
        return fail(&c, rc, NULL);
    rc = request(&c, host, port, path);
    if (rc == 0)
        rc = response(&c);
    swx_co_sock_close(c.s);
    return rc;
}
