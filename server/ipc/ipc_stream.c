/* ipc_stream.c: sending on a stream: messages cut into frames across the
 * caller's slices, or small ones gathered into one frame, written directly
 * or queued in order until the socket takes them. */
#include "ipc/ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rawsys.h"

/* Slices of the caller's data in one frame, at most: a message of many
 * small slices takes more frames, never a copy. */
#define IPC_FRAME_IOV 64

/* Where ipc_sendv is in the caller's slices. */
typedef struct ipc_cursor {
    const struct iovec *iov;
    int n;
    int i;
    size_t off;  /* into iov[i] */
} ipc_cursor_t;

/* Up to cap slices of at most max bytes in all, from the cursor on, into
 * out; their count, with *bytes their size. */
static int ipc_take_slices(ipc_cursor_t *cur, struct iovec *out, int cap,
                           size_t max, size_t *bytes)
{
    int k = 0;
    size_t got = 0;
    while (k < cap && got < max && cur->i < cur->n) {
        const struct iovec *v = &cur->iov[cur->i];
        size_t take = v->iov_len - cur->off;
        if (take > max - got)
            take = max - got;
        if (take > 0)
            out[k++] = (struct iovec){(char *)v->iov_base + cur->off, take};
        got += take;
        cur->off += take;
        if (cur->off == v->iov_len) {
            cur->i++;
            cur->off = 0;
        }
    }
    *bytes = got;
    return k;
}

/* 1 when the frame in iov[0..n) went out, 0 when the socket is full, or
 * -errno. */
static int ipc_write_frame(int fd, const struct iovec *iov, int n)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov,
                        .msg_iovlen = (size_t)n};
    for (;;) {
        if (raw_sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == ENOBUFS)
            return 0;
        return -errno;
    }
}

/* Copy the frame in iov[0..n) to the queue, whole or not at all. */
static int ipc_queue_frame(ipc_t *c, const struct iovec *iov, int n)
{
    uint32_t size = 0;
    for (int i = 0; i < n; i++)
        size += (uint32_t)iov[i].iov_len;
    char *p = buf_room(&c->out, sizeof(size) + size);
    if (p == NULL) {
        log_error("ipc: cannot queue %u bytes: out of memory", size);
        return -ENOMEM;
    }
    memcpy(p, &size, sizeof(size));
    p += sizeof(size);
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len > 0)
            memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    c->out.len += sizeof(size) + size;
    return 0;
}

static size_t ipc_iov_total(const struct iovec *iov, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}

/* ---- batches ---- */

int ipc_batch_on(ipc_t *c)
{
    if (c->tx == NULL && (c->tx = malloc(IPC_FRAME_MAX)) == NULL)
        return -ENOMEM;
    c->batching = 1;
    return 0;
}

/* The batch's length, where a replacement would look for it too. */
static void ipc_tx_set(ipc_t *c, size_t len)
{
    c->tx_len = len;
    if (c->sh != NULL)
        atomic_store_explicit(&c->sh->tx_len, (uint32_t)len,
                              memory_order_release);
}

/* Send the batch as one frame, or queue it behind the queue. 0 or
 * -errno (logged but -EPIPE). */
static int ipc_batch_flush(ipc_t *c)
{
    size_t len = c->tx_len;
    if (len == 0)
        return 0;
    /* Marked sent first: a crash in between loses the batch, as it would
     * have lost the messages; it never sends them twice. */
    ipc_tx_set(c, 0);
    struct iovec iov = {c->tx, len};
    int rc = ipc_queued(c) == 0 ? ipc_write_frame(c->fd, &iov, 1) : 0;
    if (rc == 0)
        rc = ipc_queue_frame(c, &iov, 1);
    else if (rc == 1)
        rc = 0;
    else if (rc != -EPIPE)
        log_error("ipc: sendmsg on fd %d: %s", c->fd, strerror(-rc));
    return rc;
}

/* Message h (whole, small) with the bytes of iov[0..n), into the batch. */
static int ipc_batch_add(ipc_t *c, const ipc_hdr_t *h, const struct iovec *iov,
                         int n)
{
    size_t rec = ipc_record_size(h->len);
    if (c->tx_len + rec > IPC_FRAME_MAX) {
        int rc = ipc_batch_flush(c);
        if (rc < 0)
            return rc;
    }
    char *p = c->tx + c->tx_len;
    memcpy(p, h, sizeof(*h));
    p += sizeof(*h);
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len > 0)
            memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    memset(p, 0, rec - sizeof(*h) - h->len); /* the padding */
    ipc_tx_set(c, c->tx_len + rec); /* the whole record, then its length */
    return 0;
}

/* ---- sending ---- */

int ipc_sendv(ipc_t *c, int type, int listener, uint64_t session,
              const struct iovec *iov, int n)
{
    size_t total = ipc_iov_total(iov, n), sent = 0;
    ipc_hdr_t h = {.type = (uint8_t)type, .index = (uint16_t)listener,
                   .id = session, .total = total, .pid = c->pid, .src = -1};
    if (c->batching && total <= IPC_BATCH_MSG) {
        h.flags = IPC_FIRST | IPC_LAST;
        h.len = (uint32_t)total;
        return ipc_batch_add(c, &h, iov, n);
    }
    int rc = ipc_batch_flush(c); /* what was batched goes first */
    if (rc < 0)
        return rc;
    ipc_cursor_t cur = {iov, n, 0, 0};
    do {
        struct iovec frame[1 + IPC_FRAME_IOV];
        size_t bytes;
        int k = ipc_take_slices(&cur, frame + 1, IPC_FRAME_IOV, IPC_CHUNK_MAX,
                                &bytes);
        h.len = (uint32_t)bytes;
        h.flags = (sent == 0 ? IPC_FIRST : 0) |
                  (sent + bytes == total ? IPC_LAST : 0);
        frame[0] = (struct iovec){&h, sizeof(h)};
        rc = ipc_queued(c) == 0 ? ipc_write_frame(c->fd, frame, k + 1) : 0;
        if (rc < 0) {
            /* EPIPE: the other side is gone, which the caller judges. */
            if (rc != -EPIPE)
                log_error("ipc: sendmsg on fd %d: %s", c->fd, strerror(-rc));
            return rc;
        }
        if (rc == 0 && ipc_queue_frame(c, frame, k + 1) < 0)
            return -ENOMEM;
        sent += bytes;
    } while (sent < total);
    return 0;
}

int ipc_send(ipc_t *c, int type, int listener, uint64_t session,
             const void *data, size_t len)
{
    struct iovec iov = {(void *)data, len};
    return ipc_sendv(c, type, listener, session, &iov, 1);
}

int ipc_flush(ipc_t *c)
{
    int rc = ipc_batch_flush(c);
    if (rc < 0)
        return rc;
    while (ipc_queued(c) > 0) {
        uint32_t size;
        memcpy(&size, buf_head(&c->out), sizeof(size));
        const char *frame = buf_head(&c->out) + sizeof(size);
        ssize_t n = raw_send(c->fd, frame, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == ENOBUFS)
                return -EAGAIN;
            int err = errno;
            log_error("ipc: send on fd %d: %s", c->fd, strerror(err));
            return -err;
        }
        buf_consume(&c->out, sizeof(size) + size);
    }
    buf_trim(&c->out, 4 * IPC_FRAME_MAX); /* a backlog's memory goes */
    return 0;
}

size_t ipc_drop_queued(ipc_t *c)
{
    size_t n = ipc_pending(c);
    buf_reset(&c->out);
    buf_trim(&c->out, 4 * IPC_FRAME_MAX);
    if (c->tx_len > 0)
        ipc_tx_set(c, 0);
    return n;
}

int ipc_notice(int fd, int type, const void *data, size_t len)
{
    ipc_hdr_t h = {.type = (uint8_t)type, .flags = IPC_FIRST | IPC_LAST,
                   .len = (uint32_t)len, .total = len,
                   .pid = (uint32_t)getpid(), .src = -1};
    if (len > IPC_CHUNK_MAX)
        return -EMSGSIZE;
    struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)data, len}};
    int rc = ipc_write_frame(fd, iov, len > 0 ? 2 : 1);
    if (rc < 0)
        log_error("ipc: sendmsg on fd %d: %s", fd, strerror(-rc));
    return rc < 0 ? rc : rc == 0 ? -EAGAIN : 0;
}
