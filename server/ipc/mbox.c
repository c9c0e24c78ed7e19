/* mbox.c: whole messages between processes over SOCK_SEQPACKET, with big
 * payloads in a memfd passed by SCM_RIGHTS. */
#include "ipc/mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"

#define MBOX_FRAME_MAX (sizeof(mbox_hdr_t) + MBOX_INLINE_MAX)
#define MBOX_SOCKBUF (4 * 1024 * 1024)

int mbox_socketpair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   fds) < 0) {
        int err = errno;
        log_error("socketpair(mailbox): %s", strerror(err));
        return -err;
    }
    int size = MBOX_SOCKBUF;
    for (int i = 0; i < 2; i++) {
        if (setsockopt(fds[i], SOL_SOCKET, SO_SNDBUFFORCE, &size,
                       sizeof(size)) < 0)
            (void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        if (setsockopt(fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &size,
                       sizeof(size)) < 0)
            (void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    return 0;
}

int mbox_init(mbox_t *m, int fd, size_t max_len)
{
    memset(m, 0, sizeof(*m));
    m->fd = fd;
    m->max_len = max_len;
    m->rx = malloc(MBOX_FRAME_MAX);
    return m->rx == NULL ? -ENOMEM : 0;
}

static void mbox_unmap(mbox_t *m)
{
    if (m->map != NULL)
        munmap(m->map, m->map_len);
    m->map = NULL;
    m->map_len = 0;
}

void mbox_free(mbox_t *m)
{
    mbox_unmap(m);
    free(m->rx);
    m->rx = NULL;
}

/* A sealed memfd holding data; the fd or -errno. */
static int mbox_memfd(const void *data, size_t len)
{
    int fd = memfd_create("swx-mbox", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        off += (size_t)n;
    }
    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    return fd;
}

static int mbox_sendmsg(int fd, struct msghdr *mh)
{
    for (;;) {
        if (sendmsg(fd, mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        return errno == ENOBUFS ? -EAGAIN : -errno;
    }
}

int mbox_send(int fd, const mbox_hdr_t *h, const void *data, size_t len)
{
    mbox_hdr_t hdr = *h;
    hdr.len = len;
    hdr.flags &= (uint8_t)~MBOX_MEMFD;
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)data, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (len <= MBOX_INLINE_MAX)
        return mbox_sendmsg(fd, &mh);
    int mfd = mbox_memfd(data, len);
    if (mfd < 0)
        return mfd;
    hdr.flags |= MBOX_MEMFD;
    union {
        struct cmsghdr c;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    mh.msg_iovlen = 1;
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof(cm.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &mfd, sizeof(int));
    int rc = mbox_sendmsg(fd, &mh);
    close(mfd);
    return rc;
}

static int mbox_take_fd(struct msghdr *mh)
{
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
         c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fd < 0)
                fd = got;
            else
                close(got); /* only one is ever sent */
        }
    }
    return fd;
}

/* Map the payload's memfd; 0, or -1 when it does not hold len bytes. */
static int mbox_map(mbox_t *m, int fd, size_t len, mbox_msg_t *msg)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0 || (size_t)size != len) {
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    m->map = p;
    m->map_len = len;
    msg->data = p;
    msg->len = len;
    return 0;
}

/* Check and fill one received frame; 1 when good. */
static int mbox_accept(mbox_t *m, ssize_t n, int fd, mbox_msg_t *msg)
{
    mbox_hdr_t *h = &msg->hdr;
    memcpy(h, m->rx, sizeof(*h));
    int memfd = (h->flags & MBOX_MEMFD) != 0;
    int bad = h->type == 0 || h->type >= MBOX_TYPE_END ||
              h->len > m->max_len || memfd != (fd >= 0) ||
              (!memfd && (size_t)n != sizeof(*h) + h->len) ||
              (memfd && (size_t)n != sizeof(*h));
    if (bad) {
        log_warn("mailbox: malformed or oversized message (type %u, %llu "
                 "bytes) dropped", h->type, (unsigned long long)h->len);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (!memfd) {
        msg->data = m->rx + sizeof(*h);
        msg->len = h->len;
        return 1;
    }
    if (mbox_map(m, fd, h->len, msg) < 0) {
        log_warn("mailbox: payload of %llu bytes could not be read, dropped",
                 (unsigned long long)h->len);
        return 0;
    }
    return 1;
}

int mbox_recv(mbox_t *m, mbox_msg_t *msg)
{
    mbox_unmap(m);
    for (;;) {
        union {
            struct cmsghdr c;
            char buf[CMSG_SPACE(4 * sizeof(int))];
        } cm;
        struct iovec iov = {m->rx, MBOX_FRAME_MAX};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = cm.buf,
                            .msg_controllen = sizeof(cm.buf)};
        ssize_t n = recvmsg(m->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -errno;
        if (n == 0)
            return -EPIPE;
        int fd = mbox_take_fd(&mh);
        if ((size_t)n < sizeof(mbox_hdr_t) || (mh.msg_flags & MSG_TRUNC)) {
            log_warn("mailbox: short or truncated frame dropped");
            if (fd >= 0)
                close(fd);
            continue;
        }
        if (mbox_accept(m, n, fd, msg))
            return 1;
    }
}
