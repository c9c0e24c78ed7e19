/* sock.h: client stream sockets for coroutines (Swoole's Coroutine\Client /
 * Coroutine\Socket): connect over TCP, TCP6 or a Unix path with a timeout,
 * send all, receive some, exactly n, or up to a delimiter. */
#ifndef SWX_CORO_SOCK_H
#define SWX_CORO_SOCK_H

#include <stddef.h>
#include <sys/types.h>

typedef struct swx_co_sock coro_sock_t; /* the SDK's swx_co_sock_t */

/* Bytes a socket buffers for coro_sock_recv_until (what follows a
 * delimiter waits there for the next call). */
#define CORO_SOCK_BUF 4096

/*
 * Connect to host:port: host a numeric IPv4 or IPv6 address ("::1" or
 * "[::1]"), "localhost" (127.0.0.1), or a Unix socket path ("unix:PATH"
 * or an absolute path; port ignored). Waits up to timeout_ms (-1: no
 * limit). 0 and *out set, or -EPERM (not in a coroutine), -EINVAL (bad
 * port, or host is a name: look it up first), -ENAMETOOLONG (Unix path),
 * -ETIMEDOUT, -ECONNREFUSED, -ECANCELED (the process stops), -ENOENT (no
 * such Unix socket), -EAGAIN (a Unix listener's backlog is full), another
 * -errno of connect(2).
 */
int coro_sock_connect(const char *host, int port, long timeout_ms,
                      coro_sock_t **out);
/* Send all len bytes, waiting while the kernel's buffer is full. len, or
 * -ETIMEDOUT, -ECANCELED, -EPERM, -EPIPE / -ECONNRESET (the peer went),
 * -EBADF (being closed); after an error what was sent is unknown. */
ssize_t coro_sock_send(coro_sock_t *s, const void *buf, size_t len,
                       long timeout_ms);
/* Receive 1..n bytes: those buffered, else what one read brings. Bytes,
 * 0 at EOF, or -ETIMEDOUT, -ECANCELED, -EPERM, -EBADF, -ECONNRESET. */
ssize_t coro_sock_recv(coro_sock_t *s, void *buf, size_t n, long timeout_ms);
/* Receive exactly n bytes. n, fewer at EOF (what came), or the errors of
 * coro_sock_recv (the bytes read before it are lost). */
ssize_t coro_sock_recv_exact(coro_sock_t *s, void *buf, size_t n,
                             long timeout_ms);
/*
 * Receive up to and including the first delim (dlen bytes) into buf, at
 * most max bytes; bytes after the delimiter stay buffered for the next
 * call. The length, or at EOF what came without a delimiter (0: nothing),
 * -EMSGSIZE (max bytes without the delimiter; they are dropped), -EINVAL,
 * or the errors of coro_sock_recv.
 */
ssize_t coro_sock_recv_until(coro_sock_t *s, const char *delim, size_t dlen,
                             void *buf, size_t max, long timeout_ms);
/* Close and free s. A coroutine waiting on it wakes with -ECANCELED. 0,
 * -EINVAL (NULL), -EBADF (another coroutine is closing it). */
int coro_sock_close(coro_sock_t *s);
/* The socket's fd (for setsockopt, getpeername), or -EINVAL. */
int coro_sock_fd(const coro_sock_t *s);

/* How many bytes of data[0, len) end the first delim, when have[0, nhave)
 * (no delimiter in it) comes before them; 0: none ends in data. */
size_t coro_sock_scan(const char *have, size_t nhave, const char *data,
                      size_t len, const char *delim, size_t dlen);

#endif
