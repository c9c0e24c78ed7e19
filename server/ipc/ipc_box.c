/* ipc_box.c: one-shot messages into a mailbox: one datagram each, whatever
 * their size, a large payload in a sealed memfd passed with SCM_RIGHTS. */
#include "ipc/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

/* A sealed memfd holding data; the fd or -errno. */
static int ipc_memfd(const void *data, size_t len)
{
    int fd = memfd_create("swx-ipc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
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
    /* The reader maps it only sealed: nobody may change it under them. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) <
        0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static int ipc_box_sendmsg(int fd, const struct msghdr *mh)
{
    for (;;) {
        if (sendmsg(fd, mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        return errno == ENOBUFS ? -EAGAIN : -errno;
    }
}

/* The header alone, with memfd passed along. */
static int ipc_box_send_fd(int fd, ipc_hdr_t *h, int memfd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct iovec iov = {h, sizeof(*h)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cm.buf,
                        .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &memfd, sizeof(int));
    return ipc_box_sendmsg(fd, &mh);
}

int ipc_box_send(int fd, const ipc_hdr_t *h, const void *data, size_t len)
{
    ipc_hdr_t hdr = *h;
    hdr.flags = (uint8_t)((h->flags & ~IPC_MEMFD) | IPC_FIRST | IPC_LAST);
    hdr.total = len;
    if (len <= IPC_INLINE_MAX) {
        hdr.len = (uint32_t)len;
        struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)data, len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};
        return ipc_box_sendmsg(fd, &mh);
    }
    int mfd = ipc_memfd(data, len);
    if (mfd < 0) {
        log_error("ipc: a memfd for %zu bytes: %s", len, strerror(-mfd));
        return mfd;
    }
    hdr.len = 0;
    hdr.flags |= IPC_MEMFD;
    int rc = ipc_box_send_fd(fd, &hdr, mfd);
    close(mfd);
    return rc;
}
