/* chan.c: chunked, size-checked messages over a SOCK_SEQPACKET socketpair. */
#include "ipc/chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"

#define CHAN_SOCKBUF (2 * 1024 * 1024)

static void chan_set_bufsize(int fd)
{
    int size = CHAN_SOCKBUF;
    /* FORCE works as root past wmem_max; otherwise take what we get. */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

int chan_socketpair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   fds) < 0) {
        int err = errno;
        log_error("socketpair(AF_UNIX, SOCK_SEQPACKET): %s", strerror(err));
        return -err;
    }
    chan_set_bufsize(fds[0]);
    chan_set_bufsize(fds[1]);
    return 0;
}

int chan_init(chan_t *c, int fd, size_t max_msg)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->sender = (uint32_t)getpid();
    c->max_msg = max_msg;
    c->rx = malloc(CHAN_FRAME_MAX);
    return c->rx == NULL ? -ENOMEM : 0;
}

void chan_free(chan_t *c)
{
    buf_free(&c->out);
    for (int i = 0; i < CHAN_SENDERS; i++)
        buf_free(&c->part[i].buf);
    free(c->rx);
    c->rx = NULL;
}

static int chan_queue_frame(chan_t *c, const chan_hdr_t *h, const void *data)
{
    uint32_t size = (uint32_t)(sizeof(*h) + h->len);
    if (buf_append(&c->out, &size, sizeof(size)) < 0 ||
        buf_append(&c->out, h, sizeof(*h)) < 0 ||
        buf_append(&c->out, data, h->len) < 0) {
        log_error("chan: cannot queue %u bytes: out of memory", size);
        return -ENOMEM;
    }
    return 0;
}

/* 1 when the frame went out, 0 when the socket is full, or -errno. */
static int chan_write_frame(chan_t *c, const chan_hdr_t *h, const void *data)
{
    struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)data, h->len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = h->len ? 2 : 1};
    for (;;) {
        if (sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == ENOBUFS)
            return 0;
        return -errno;
    }
}

int chan_send(chan_t *c, int type, int listener, uint64_t session,
              const void *data, size_t len)
{
    const char *p = data;
    size_t off = 0;
    chan_hdr_t h = {.type = (uint8_t)type,
                    .listener = (uint16_t)listener,
                    .session = session,
                    .total = len,
                    .sender = c->sender};
    do {
        size_t n = len - off < CHAN_CHUNK_MAX ? len - off : CHAN_CHUNK_MAX;
        h.len = (uint32_t)n;
        h.flags = (off == 0 ? CHAN_FIRST : 0) | (off + n == len ? CHAN_LAST : 0);
        int rc = 0;
        const char *chunk = p != NULL ? p + off : NULL; /* none when len 0 */
        if (chan_queued(c) == 0)
            rc = chan_write_frame(c, &h, chunk);
        if (rc < 0) {
            /* EPIPE: the other side is gone, which the caller judges. */
            if (rc != -EPIPE)
                log_error("chan: sendmsg on fd %d: %s", c->fd, strerror(-rc));
            return rc;
        }
        if (rc == 0 && chan_queue_frame(c, &h, chunk) < 0)
            return -ENOMEM;
        off += n;
    } while (off < len);
    return 0;
}

int chan_flush(chan_t *c)
{
    while (chan_queued(c) > 0) {
        uint32_t size;
        memcpy(&size, buf_head(&c->out), sizeof(size));
        const char *frame = buf_head(&c->out) + sizeof(size);
        ssize_t n = send(c->fd, frame, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == ENOBUFS)
                return -EAGAIN;
            int err = errno;
            log_error("chan: send on fd %d: %s", c->fd, strerror(err));
            return -err;
        }
        buf_consume(&c->out, sizeof(size) + size);
    }
    buf_trim(&c->out, 4 * CHAN_FRAME_MAX); /* a backlog's memory goes */
    return 0;
}

size_t chan_drop_queued(chan_t *c)
{
    size_t n = chan_queued(c);
    buf_reset(&c->out);
    buf_trim(&c->out, 4 * CHAN_FRAME_MAX);
    return n;
}

int chan_notice(int fd, int type, const void *data, size_t len)
{
    chan_t c = {.fd = fd, .sender = (uint32_t)getpid()};
    chan_hdr_t h = {.type = (uint8_t)type, .flags = CHAN_FIRST | CHAN_LAST,
                    .len = (uint32_t)len, .total = len, .sender = c.sender};
    if (len > CHAN_CHUNK_MAX)
        return -EMSGSIZE;
    int rc = chan_write_frame(&c, &h, data);
    if (rc < 0)
        log_error("chan: sendmsg on fd %d: %s", fd, strerror(-rc));
    return rc < 0 ? rc : rc == 0 ? -EAGAIN : 0;
}

long chan_discard(int fd)
{
    char frame[CHAN_FRAME_MAX];
    long messages = 0;
    for (;;) {
        ssize_t n = recv(fd, frame, sizeof(frame), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return messages; /* nothing more, or the other end is gone */
        chan_hdr_t h;
        if ((size_t)n >= sizeof(h)) {
            memcpy(&h, frame, sizeof(h));
            messages += (h.flags & CHAN_FIRST) != 0;
        }
    }
}

static void chan_drop_partial(chan_t *c, chan_partial_t *p, const char *why)
{
    if (p->active)
        log_warn("chan: fd %d: dropping a partial message from %u (%zu of "
                 "%llu bytes): %s", c->fd, p->hdr.sender, buf_pending(&p->buf),
                 (unsigned long long)p->hdr.total, why);
    p->active = 0;
    buf_reset(&p->buf);
}

static void chan_fill_msg(chan_msg_t *m, const chan_hdr_t *h, const char *data,
                          size_t len)
{
    m->type = h->type;
    m->listener = h->listener;
    m->session = h->session;
    m->data = data;
    m->len = len;
}

/* The partial message of h's sender, or NULL. */
static chan_partial_t *chan_find_partial(chan_t *c, const chan_hdr_t *h)
{
    for (int i = 0; i < CHAN_SENDERS; i++)
        if (c->part[i].active && c->part[i].hdr.sender == h->sender)
            return &c->part[i];
    return NULL;
}

/* A slot for a new chunked message from h's sender. */
static chan_partial_t *chan_new_partial(chan_t *c, const chan_hdr_t *h)
{
    chan_partial_t *p = chan_find_partial(c, h);
    if (p != NULL) {
        chan_drop_partial(c, p, "its sender started another");
        return p;
    }
    for (int i = 0; i < CHAN_SENDERS; i++)
        if (!c->part[i].active)
            return &c->part[i];
    chan_drop_partial(c, &c->part[0], "too many senders at once");
    return &c->part[0];
}

/* A frame that passed the header checks. 1 when a message completed. */
static int chan_take_frame(chan_t *c, const chan_hdr_t *h, chan_msg_t *msg)
{
    const char *payload = c->rx + sizeof(*h);
    chan_partial_t *p;
    if ((h->flags & (CHAN_FIRST | CHAN_LAST)) == (CHAN_FIRST | CHAN_LAST)) {
        if ((p = chan_find_partial(c, h)) != NULL)
            chan_drop_partial(c, p, "its sender started another");
        chan_fill_msg(msg, h, payload, h->len);
        return 1;
    }
    if (h->flags & CHAN_FIRST) {
        p = chan_new_partial(c, h);
        p->hdr = *h;
        p->active = 1;
        /* The last message's memory, if it was large, is not kept for
         * the next; this one grows its own. */
        buf_trim(&p->buf, CHAN_FRAME_MAX);
    } else if ((p = chan_find_partial(c, h)) == NULL) {
        /* The rest of a message whose start another process read. */
        return 0;
    } else if (h->session != p->hdr.session || h->type != p->hdr.type ||
               h->total != p->hdr.total) {
        chan_drop_partial(c, p, "a frame of another message arrived");
        return 0;
    }
    if (buf_pending(&p->buf) + h->len > h->total) {
        chan_drop_partial(c, p, "frames exceed the announced length");
        return 0;
    }
    if (buf_append(&p->buf, payload, h->len) < 0) {
        chan_drop_partial(c, p, "out of memory");
        return 0;
    }
    if (!(h->flags & CHAN_LAST))
        return 0;
    if (buf_pending(&p->buf) != h->total) {
        chan_drop_partial(c, p, "last frame before the announced length");
        return 0;
    }
    p->active = 0;
    chan_fill_msg(msg, h, buf_head(&p->buf), buf_pending(&p->buf));
    buf_reset(&p->buf); /* data stays in place until the next append */
    return 1;
}

/* 1 when the header is sound; logs and returns 0 otherwise. */
static int chan_check_hdr(chan_t *c, const chan_hdr_t *h, ssize_t n)
{
    if (h->type == 0 || h->type >= CHAN_TYPE_END ||
        (size_t)n != sizeof(*h) + h->len || h->len > h->total ||
        (h->flags & ~(CHAN_FIRST | CHAN_LAST)) != 0) {
        log_warn("chan: fd %d: malformed frame (type %u, len %u, %zd bytes "
                 "read), dropped", c->fd, h->type, h->len, n);
        return 0;
    }
    if (h->total > c->max_msg) {
        if (h->flags & CHAN_FIRST)
            log_warn("chan: fd %d: message of %llu bytes exceeds the limit "
                     "of %zu, dropped", c->fd, (unsigned long long)h->total,
                     c->max_msg);
        return 0;
    }
    return 1;
}

int chan_receiving(const chan_t *c)
{
    for (int i = 0; i < CHAN_SENDERS; i++)
        if (c->part[i].active)
            return 1;
    return 0;
}

int chan_recv(chan_t *c, chan_msg_t *msg)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rx, CHAN_FRAME_MAX, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            if (errno == ECONNRESET) /* the peer exited with data unread */
                return -EPIPE;
            int err = errno;
            log_error("chan: recv on fd %d: %s", c->fd, strerror(err));
            return -err;
        }
        if (n == 0)
            return -EPIPE;
        chan_hdr_t h;
        if ((size_t)n < sizeof(h)) {
            log_warn("chan: fd %d: short frame of %zd bytes, dropped", c->fd,
                     n);
            continue;
        }
        memcpy(&h, c->rx, sizeof(h));
        if (!chan_check_hdr(c, &h, n)) {
            chan_partial_t *p = chan_find_partial(c, &h);
            if (p != NULL && h.session == p->hdr.session)
                chan_drop_partial(c, p, "a frame of it was dropped");
            continue;
        }
        if (chan_take_frame(c, &h, msg))
            return 1;
    }
}
