/* sock.c: client stream sockets for coroutines: non-blocking sockets whose
 * every EAGAIN becomes a coro_wait_fd, so plugin code reads top to bottom
 * and its worker goes on serving. A small buffer per socket holds what a
 * read brought past a delimiter. */
#include "coro/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "coro/coro.h"
#include "coro/wait.h"

enum { SOCK_RD, SOCK_WR };

struct swx_co_sock {
    int fd;
    int closing;         /* coro_sock_close runs: no new waits */
    coro_t *waiter[2];   /* who waits to read, to write (woken at close) */
    size_t off, len;     /* buffered bytes: buf[off, off + len) */
    char buf[CORO_SOCK_BUF];
};

typedef struct sock_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} sock_addr_t;

/* ---- addresses ---- */

static int addr_unix(const char *path, sock_addr_t *a)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
    if (path[0] == '\0')
        return -EINVAL;
    if (strlen(path) >= sizeof(un->sun_path))
        return -ENAMETOOLONG;
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, path);
    a->len = sizeof(*un);
    return 0;
}

/* A numeric address only: names need a lookup that does not block (the
 * loop's resolver), which the caller does first. */
static int addr_ip(const char *host, int port, sock_addr_t *a)
{
    char h[INET6_ADDRSTRLEN];
    size_t n = strlen(host);
    if (port <= 0 || port > 65535)
        return -EINVAL;
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    else if (n > 2 && n - 2 < sizeof(h) && host[0] == '[' &&
             host[n - 1] == ']') { /* [::1], as in URLs */
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
        host = h;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        a->len = sizeof(*in);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        a->len = sizeof(*in6);
    } else {
        return -EINVAL;
    }
    return 0;
}

static int sock_addr(const char *host, int port, sock_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    if (strncmp(host, "unix:", 5) == 0)
        return addr_unix(host + 5, a);
    if (host[0] == '/')
        return addr_unix(host, a);
    return addr_ip(host, port, a);
}

/* ---- waiting ---- */

/* Time left until deadline (ms of loop_now(); -1: none) for one wait. */
static long sock_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - loop_now();
    return left > 0 ? (long)left : 0;
}

static int64_t sock_deadline(long timeout_ms)
{
    return timeout_ms < 0 ? -1 : loop_now() + timeout_ms;
}

/* Wait for the fd to be readable (SOCK_RD) or writable, noting who
 * waits so that coro_sock_close can wake it. */
static int sock_wait(coro_sock_t *s, int dir, int64_t deadline)
{
    s->waiter[dir] = coro_self();
    int rc = coro_wait_fd(s->fd, dir == SOCK_RD ? LOOP_READ : LOOP_WRITE,
                          sock_left(deadline));
    s->waiter[dir] = NULL;
    return rc < 0 ? rc : 0;
}

/* Whether a call on s may go on: in a coroutine (checked first, so that
 * the error is the same whether or not the call would have waited), s
 * open. */
static int sock_usable(const coro_sock_t *s)
{
    if (coro_self() == NULL)
        return -EPERM;
    if (s == NULL)
        return -EINVAL;
    return s->closing ? -EBADF : 0;
}

/* ---- connect ---- */

/* The connect(2) in progress ends: writable, then its SO_ERROR. */
static int sock_connected(coro_sock_t *s, long timeout_ms)
{
    int rc = sock_wait(s, SOCK_WR, sock_deadline(timeout_ms));
    if (rc < 0)
        return rc;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

static int sock_open(const sock_addr_t *a, long timeout_ms, coro_sock_t *s)
{
    s->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                   SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        int rc = -errno;
        log_warn("coroutine socket: socket: %s", strerror(-rc));
        return rc;
    }
    if (connect(s->fd, (const struct sockaddr *)&a->ss, a->len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -errno; /* EAGAIN: a Unix listener's backlog is full */
    return sock_connected(s, timeout_ms);
}

int coro_sock_connect(const char *host, int port, long timeout_ms,
                      coro_sock_t **out)
{
    if (out == NULL || host == NULL)
        return -EINVAL;
    *out = NULL;
    if (coro_self() == NULL)
        return -EPERM;
    sock_addr_t a;
    int rc = sock_addr(host, port, &a);
    if (rc < 0)
        return rc;
    coro_sock_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    rc = sock_open(&a, timeout_ms, s);
    if (rc < 0) {
        log_debug("coroutine socket: connect %s:%d: %s", host, port,
                  strerror(-rc));
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- send ---- */

ssize_t coro_sock_send(coro_sock_t *s, const void *buf, size_t len,
                       long timeout_ms)
{
    int rc = sock_usable(s);
    if (rc < 0)
        return rc;
    int64_t deadline = sock_deadline(timeout_ms);
    size_t done = 0;
    while (done < len) {
        ssize_t w = send(s->fd, (const char *)buf + done, len - done,
                         MSG_NOSIGNAL);
        if (w >= 0) {
            done += (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((rc = sock_wait(s, SOCK_WR, deadline)) < 0)
            return rc;
    }
    return (ssize_t)len;
}

/* ---- receive ---- */

/* One recv(2) into p, waiting until something comes: bytes, 0 at EOF. */
static ssize_t sock_read(coro_sock_t *s, void *p, size_t n, int64_t deadline)
{
    for (;;) {
        ssize_t r = recv(s->fd, p, n, 0);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int rc = sock_wait(s, SOCK_RD, deadline);
        if (rc < 0)
            return rc;
    }
}

/* Move up to n buffered bytes to p: how many. */
static size_t sock_take(coro_sock_t *s, void *p, size_t n)
{
    if (n > s->len)
        n = s->len;
    memcpy(p, s->buf + s->off, n);
    s->off += n;
    s->len -= n;
    if (s->len == 0)
        s->off = 0;
    return n;
}

ssize_t coro_sock_recv(coro_sock_t *s, void *buf, size_t n, long timeout_ms)
{
    int rc = sock_usable(s);
    if (rc < 0)
        return rc;
    if (n == 0)
        return 0;
    if (s->len > 0)
        return (ssize_t)sock_take(s, buf, n);
    return sock_read(s, buf, n, sock_deadline(timeout_ms));
}

ssize_t coro_sock_recv_exact(coro_sock_t *s, void *buf, size_t n,
                             long timeout_ms)
{
    int rc = sock_usable(s);
    if (rc < 0)
        return rc;
    int64_t deadline = sock_deadline(timeout_ms);
    size_t got = sock_take(s, buf, n);
    while (got < n) {
        ssize_t r = sock_read(s, (char *)buf + got, n - got, deadline);
        if (r <= 0)
            return r < 0 ? r : (ssize_t)got;
        got += (size_t)r;
    }
    return (ssize_t)n;
}

/* Whether delim sits at offset at of have[0, nhave) followed by data. */
static int scan_match(const char *have, size_t nhave, const char *data,
                      size_t at, const char *delim, size_t dlen)
{
    for (size_t k = 0; k < dlen; k++) {
        size_t pos = at + k;
        char c = pos < nhave ? have[pos] : data[pos - nhave];
        if (c != delim[k])
            return 0;
    }
    return 1;
}

size_t coro_sock_scan(const char *have, size_t nhave, const char *data,
                      size_t len, const char *delim, size_t dlen)
{
    const char *p = data, *end = data + len;
    char last = delim[dlen - 1];
    /* a delimiter can only end where its last byte is */
    while (p < end && (p = memchr(p, last, (size_t)(end - p))) != NULL) {
        size_t upto = (size_t)(p - data) + 1; /* bytes of data to take */
        if (nhave + upto >= dlen &&
            scan_match(have, nhave, data, nhave + upto - dlen, delim, dlen))
            return upto;
        p++;
    }
    return 0;
}

/* Move buffered bytes to buf[*got, max) up to the end of the delimiter:
 * 1 when it came, 0 when more is needed, -EMSGSIZE past max. */
static int until_take(coro_sock_t *s, const char *delim, size_t dlen,
                      char *buf, size_t *got, size_t max)
{
    size_t end = coro_sock_scan(buf, *got, s->buf + s->off, s->len, delim,
                                dlen);
    size_t want = end > 0 ? end : s->len;
    size_t n = sock_take(s, buf + *got, want < max - *got ? want : max - *got);
    *got += n;
    if (end > 0 && n == end)
        return 1;
    return *got == max ? -EMSGSIZE : 0;
}

ssize_t coro_sock_recv_until(coro_sock_t *s, const char *delim, size_t dlen,
                             void *buf, size_t max, long timeout_ms)
{
    int rc = sock_usable(s);
    if (rc < 0)
        return rc;
    if (delim == NULL || dlen == 0 || max == 0)
        return -EINVAL;
    int64_t deadline = sock_deadline(timeout_ms);
    size_t got = 0;
    for (;;) {
        if (s->len > 0 && (rc = until_take(s, delim, dlen, buf, &got, max)))
            return rc < 0 ? rc : (ssize_t)got;
        /* the buffer is empty here: refill it whole */
        ssize_t r = sock_read(s, s->buf, sizeof(s->buf), deadline);
        if (r <= 0)
            return r < 0 ? r : (ssize_t)got;
        s->off = 0;
        s->len = (size_t)r;
    }
}

/* ---- close ---- */

int coro_sock_close(coro_sock_t *s)
{
    if (s == NULL)
        return -EINVAL;
    if (s->closing)
        return -EBADF;
    s->closing = 1;
    /* a woken waiter runs now, finds s closing, and goes its way before
     * the memory goes */
    for (int dir = SOCK_RD; dir <= SOCK_WR; dir++)
        if (s->waiter[dir] != NULL)
            coro_wake(s->waiter[dir], -ECANCELED);
    close(s->fd);
    free(s);
    return 0;
}

int coro_sock_fd(const coro_sock_t *s)
{
    return s != NULL ? s->fd : -EINVAL;
}
