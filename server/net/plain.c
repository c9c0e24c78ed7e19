/* plain.c: the plain socket transport: a connection's bytes move with
 * recv, sendmsg and sendfile on its fd, unencrypted. */
#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/rawsys.h"
#include "net/conn.h"

static ssize_t plain_read(conn_t *c, void *buf, size_t len)
{
    ssize_t n;
    do {
        n = raw_recv(c->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static ssize_t plain_writev(conn_t *c, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov,
                        .msg_iovlen = (size_t)iovcnt};
    ssize_t n;
    do { /* one slice, the common case, costs less as a send */
        n = iovcnt == 1 ? raw_send(c->fd, iov[0].iov_base, iov[0].iov_len,
                                   MSG_NOSIGNAL)
                        : raw_sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static ssize_t plain_sendfile(conn_t *c, int fd, off_t *off, size_t len)
{
    ssize_t n;
    do {
        n = sendfile(c->fd, fd, off, len);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static void plain_shutdown(conn_t *c)
{
    shutdown(c->fd, SHUT_WR);
}

/* For TCP: bytes not yet acknowledged; for a Unix socket: not yet read. */
static int plain_unacked(const conn_t *c)
{
    int n;
    return ioctl(c->fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

static void plain_close(conn_t *c)
{
    close(c->fd);
}

const conn_transport_t plain_transport = {
    .name = "plain",
    .read = plain_read,
    .writev = plain_writev,
    .sendfile = plain_sendfile,
    .shutdown = plain_shutdown,
    .unacked = plain_unacked,
    .close = plain_close,
};
