/* ipc.c: the IPC transport's socketpairs and its reading side: every frame
 * checked, chunks reassembled per writer, memfd payloads mapped. */
#include "ipc/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rawsys.h"

/* Room for the fds one frame may carry: one is used, the others closed. */
#define IPC_RX_FDS 4
#define IPC_WHOLE (IPC_FIRST | IPC_LAST)
#define IPC_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static void ipc_set_bufsize(int fd, int size)
{
    /* FORCE works as root past wmem_max; otherwise take what we get. */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

int ipc_socketpair(int fds[2], int sockbuf)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   fds) < 0) {
        int err = errno;
        log_error("socketpair(AF_UNIX, SOCK_SEQPACKET): %s", strerror(err));
        return -err;
    }
    ipc_set_bufsize(fds[0], sockbuf);
    ipc_set_bufsize(fds[1], sockbuf);
    return 0;
}

int ipc_init(ipc_t *c, int fd, size_t max_msg, uint64_t accept)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->pid = (uint32_t)getpid();
    c->max_msg = max_msg;
    c->accept = accept;
    c->rx_fd = -1;
    c->rx = malloc(IPC_FRAME_MAX);
    return c->rx == NULL ? -ENOMEM : 0;
}

static void ipc_unmap(ipc_t *c)
{
    if (c->map != NULL)
        munmap(c->map, c->map_len);
    c->map = NULL;
    c->map_len = 0;
}

void ipc_free(ipc_t *c)
{
    ipc_unmap(c);
    if (c->rx_fd >= 0)
        close(c->rx_fd);
    c->rx_fd = -1;
    buf_free(&c->out);
    if (c->sh == NULL)
        free(c->tx);
    c->tx = NULL;
    c->tx_len = 0;
    for (int i = 0; i < IPC_SENDERS; i++)
        buf_free(&c->part[i].buf);
    free(c->rx);
    c->rx = NULL;
}

/* The records of a frame of n bytes that begin a message. */
static long ipc_count_firsts(const char *frame, size_t n)
{
    long firsts = 0;
    ipc_hdr_t h;
    for (size_t at = 0; n - at >= sizeof(h); at += ipc_record_size(h.len)) {
        memcpy(&h, frame + at, sizeof(h));
        firsts += (h.flags & IPC_FIRST) != 0;
        if (ipc_record_size(h.len) >= n - at)
            break;
    }
    return firsts;
}

long ipc_discard(int fd)
{
    char frame[IPC_FRAME_MAX];
    long messages = 0;
    for (;;) {
        /* Without room for control data, the kernel closes passed fds. */
        ssize_t n = recv(fd, frame, sizeof(frame), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return messages; /* nothing more, or the other end is gone */
        messages += ipc_count_firsts(frame, (size_t)n);
    }
}

/* ---- reassembly ---- */

static void ipc_drop_partial(ipc_t *c, ipc_partial_t *p, const char *why)
{
    if (p->active) {
        log_warn("ipc: fd %d: dropping a partial message from %u (%zu of "
                 "%llu bytes): %s", c->fd, p->hdr.pid, buf_pending(&p->buf),
                 (unsigned long long)p->hdr.total, why);
        p->active = 0;
        c->nparts--;
    }
    buf_reset(&p->buf);
}

static void ipc_fill_msg(ipc_msg_t *m, const ipc_hdr_t *h, const char *data,
                         size_t len)
{
    m->type = h->type;
    m->listener = h->index;
    m->session = h->id;
    m->data = data;
    m->len = len;
    m->hdr = *h;
}

/* The partial message of h's writer, or NULL. */
static ipc_partial_t *ipc_find_partial(ipc_t *c, const ipc_hdr_t *h)
{
    if (c->nparts == 0) /* the usual case: whole messages only */
        return NULL;
    for (int i = 0; i < IPC_SENDERS; i++)
        if (c->part[i].active && c->part[i].hdr.pid == h->pid)
            return &c->part[i];
    return NULL;
}

/* A slot for a new chunked message from h's writer. */
static ipc_partial_t *ipc_new_partial(ipc_t *c, const ipc_hdr_t *h)
{
    ipc_partial_t *p = ipc_find_partial(c, h);
    if (p != NULL) {
        ipc_drop_partial(c, p, "its sender started another");
        return p;
    }
    for (int i = 0; i < IPC_SENDERS; i++)
        if (!c->part[i].active)
            return &c->part[i];
    ipc_drop_partial(c, &c->part[0], "too many senders at once");
    return &c->part[0];
}

/* A frame of a chunked message that passed the checks. 1 when the message
 * completed. */
static int ipc_take_chunk(ipc_t *c, const ipc_hdr_t *h, const char *payload,
                          ipc_msg_t *msg)
{
    ipc_partial_t *p;
    if (h->flags & IPC_FIRST) {
        p = ipc_new_partial(c, h); /* not active: dropped if it was */
        p->hdr = *h;
        p->active = 1;
        c->nparts++;
        /* The last message's memory, if it was large, is not kept for
         * the next; this one grows its own. */
        buf_trim(&p->buf, IPC_FRAME_MAX);
    } else if ((p = ipc_find_partial(c, h)) == NULL) {
        /* The rest of a message whose start another process read. */
        return 0;
    } else if (h->id != p->hdr.id || h->type != p->hdr.type ||
               h->total != p->hdr.total) {
        ipc_drop_partial(c, p, "a frame of another message arrived");
        return 0;
    }
    if (buf_pending(&p->buf) + h->len > h->total) {
        ipc_drop_partial(c, p, "frames exceed the announced length");
        return 0;
    }
    if (buf_append(&p->buf, payload, h->len) < 0) {
        ipc_drop_partial(c, p, "out of memory");
        return 0;
    }
    if (!(h->flags & IPC_LAST))
        return 0;
    if (buf_pending(&p->buf) != h->total) {
        ipc_drop_partial(c, p, "last frame before the announced length");
        return 0;
    }
    p->active = 0;
    c->nparts--;
    ipc_fill_msg(msg, &p->hdr, buf_head(&p->buf), buf_pending(&p->buf));
    buf_reset(&p->buf); /* data stays in place until the next append */
    return 1;
}

/* The sealed memfd fd holding len bytes, mapped; NULL when it is not one.
 * fd is closed either way. */
static const char *ipc_map(ipc_t *c, int fd, size_t len)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    void *p = MAP_FAILED;
    /* Sealed, so that its writer can neither change nor shrink it under
     * the mapping. */
    if (seals >= 0 && (seals & IPC_SEALS) == IPC_SEALS &&
        fstat(fd, &st) == 0 && (size_t)st.st_size == len)
        p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    c->map = p;
    c->map_len = len;
    return p;
}

/* A record (h, then its payload) that passed the checks. 1 when a
 * message completed. */
static int ipc_take_frame(ipc_t *c, const ipc_hdr_t *h, const char *payload,
                          int fd, ipc_msg_t *msg)
{
    if ((h->flags & IPC_WHOLE) != IPC_WHOLE)
        return ipc_take_chunk(c, h, payload, msg);
    ipc_partial_t *p = ipc_find_partial(c, h);
    if (p != NULL)
        ipc_drop_partial(c, p, "its sender started another");
    if (!(h->flags & IPC_MEMFD)) {
        ipc_fill_msg(msg, h, payload, h->len);
        return 1;
    }
    const char *data = ipc_map(c, fd, h->total);
    if (data == NULL) {
        log_warn("ipc: fd %d: a payload of %llu bytes is not in a sealed "
                 "memfd of that size; dropped", c->fd,
                 (unsigned long long)h->total);
        return 0;
    }
    ipc_fill_msg(msg, h, data, h->total);
    return 1;
}

/* ---- checks ---- */

static int ipc_takes(const ipc_t *c, unsigned type)
{
    if (type >= IPC_PROTO_MIN && type < IPC_PROTO_END)
        return (c->accept & IPC_PROTOCOLS) != 0;
    return type > 0 && type < IPC_TYPE_END && (c->accept & IPC_BIT(type));
}

/* Why record h cannot be trusted, or NULL when it can: n bytes came from
 * it on (its header included), the fd passed with its frame or -1, and
 * batched when its frame holds other records too. */
static const char *ipc_fault(const ipc_t *c, const ipc_hdr_t *h, size_t n,
                             int fd, int batched)
{
    int memfd = (h->flags & IPC_MEMFD) != 0;
    if (!ipc_takes(c, h->type))
        return "a type this end does not take";
    if (h->flags & ~IPC_FLAGS_KNOWN)
        return "unknown flags";
    if (h->len > n - sizeof(*h))
        return "its length exceeds the bytes that came";
    if (batched && ((h->flags & IPC_WHOLE) != IPC_WHOLE || memfd || fd >= 0))
        return "a record of a batch that is not a whole inline message";
    if (h->len > h->total)
        return "its length exceeds the total";
    if (memfd != (fd >= 0))
        return memfd ? "its memfd is missing" : "an fd came unasked";
    if (memfd && (h->len != 0 || h->total == 0 ||
                  (h->flags & IPC_WHOLE) != IPC_WHOLE))
        return "a memfd that is not a whole message";
    if (!memfd && (h->flags & IPC_WHOLE) == IPC_WHOLE && h->len != h->total)
        return "a whole message whose total disagrees";
    return NULL;
}

/* 1 when record h may be used (see ipc_fault); -1 when it cannot be
 * trusted, nor what follows it in its frame; 0 when it is over max_msg
 * (the next record can be read). Logged. */
static int ipc_check(ipc_t *c, const ipc_hdr_t *h, size_t n, int fd,
                     int batched)
{
    const char *why = ipc_fault(c, h, n, fd, batched);
    if (why != NULL) {
        log_warn("ipc: fd %d: frame refused (type %u, flags 0x%x, len %u, "
                 "total %llu, %zu bytes read): %s", c->fd, h->type,
                 h->flags, h->len, (unsigned long long)h->total, n, why);
        return -1;
    }
    if (h->total > c->max_msg) {
        if (h->flags & IPC_FIRST)
            log_warn("ipc: fd %d: message of %llu bytes exceeds the limit "
                     "of %zu, dropped", c->fd, (unsigned long long)h->total,
                     c->max_msg);
        return 0;
    }
    return 1;
}

/* The fd passed with a frame, or -1; any others are closed. */
static int ipc_take_fd(struct msghdr *mh)
{
    int fd = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL;
         cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (fd < 0)
                fd = got;
            else
                close(got);
        }
    }
    return fd;
}

/* Read one frame into c->rx: its size, with *fd the fd passed along (or
 * -1) and *trunc set when it did not fit; -EAGAIN when none waits,
 * -EPIPE when the peer is gone, or -errno (logged). */
static ssize_t ipc_read_frame(ipc_t *c, int *fd, int *trunc)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(IPC_RX_FDS * sizeof(int))];
    } cm;
    /* Only mailboxes take fds (memfd payloads): a channel reads with a
     * plain recv, which costs less per frame, and any fd sent on it is
     * closed by the kernel unread. */
    int fds = (c->accept & IPC_TO_MAILBOX) != 0;
    for (;;) {
        struct iovec iov = {c->rx, IPC_FRAME_MAX};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = fds ? cm.buf : NULL,
                            .msg_controllen = fds ? sizeof(cm.buf) : 0};
        ssize_t n = fds ? recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)
                        : raw_recv(c->fd, c->rx, IPC_FRAME_MAX,
                                   MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return -EAGAIN;
        if (n < 0 && errno == ECONNRESET) /* it exited with data unread */
            return -EPIPE;
        if (n < 0) {
            int err = errno;
            log_error("ipc: recvmsg on fd %d: %s", c->fd, strerror(err));
            return -err;
        }
        *fd = fds ? ipc_take_fd(&mh) : -1;
        /* recv with MSG_TRUNC says a frame's whole size, even past rx. */
        *trunc = fds ? (mh.msg_flags & MSG_TRUNC) != 0 : n > IPC_FRAME_MAX;
        if (n > IPC_FRAME_MAX)
            n = IPC_FRAME_MAX;
        if (n == 0 && *fd >= 0)
            close(*fd);
        return n == 0 ? -EPIPE : n;
    }
}

/* A chunked message has begun arriving and not yet ended. */
static int ipc_mid_message(const ipc_t *c)
{
    return c->nparts > 0;
}

int ipc_receiving(const ipc_t *c)
{
    return ipc_buffered(c) || ipc_mid_message(c);
}

/* A frame failed its checks: the message of its writer that it belonged
 * to cannot complete. */
static void ipc_refused(ipc_t *c, const ipc_hdr_t *h)
{
    ipc_partial_t *p = ipc_find_partial(c, h);
    if (p != NULL && h->id == p->hdr.id)
        ipc_drop_partial(c, p, "a frame of it was dropped");
}

/* ---- batches kept for a replacement ---- */

static void ipc_span_set(ipc_t *c)
{
    uint64_t span = c->rx_at < c->rx_end
                        ? (uint64_t)c->rx_at | (uint64_t)c->rx_end << 32
                        : 0;
    atomic_store_explicit(&c->sh->rx_span, span, memory_order_release);
}

/* A frame of several records just read: copied where a replacement finds
 * it, should this process die before taking them all. */
static void ipc_mirror(ipc_t *c)
{
    ipc_hdr_t h;
    memcpy(&h, c->rx, sizeof(h));
    c->rx_mirror = c->sh != NULL && h.len < c->rx_end - sizeof(h);
    if (!c->rx_mirror)
        return;
    memcpy(c->sh->rx, c->rx, c->rx_end);
    ipc_span_set(c);
}

int ipc_share(ipc_t *c, ipc_shared_t *sh)
{
    if (c->sh == NULL)
        free(c->tx);
    c->sh = sh;
    c->tx = sh->tx;
    c->batching = 1;
    c->tx_len = atomic_load_explicit(&sh->tx_len, memory_order_acquire);
    if (c->tx_len > IPC_FRAME_MAX)
        c->tx_len = 0;
    uint64_t span = atomic_load_explicit(&sh->rx_span, memory_order_acquire);
    size_t at = (size_t)(uint32_t)span, end = (size_t)(span >> 32);
    if (at >= end || end > IPC_FRAME_MAX || end - at < sizeof(ipc_hdr_t)) {
        atomic_store(&sh->rx_span, 0);
        return 0;
    }
    memcpy(c->rx + at, sh->rx + at, end - at);
    c->rx_at = at;
    c->rx_end = end;
    c->rx_mirror = 1;
    return 1;
}

long ipc_shared_settle(ipc_shared_t *sh, int fd)
{
    uint32_t len = atomic_exchange(&sh->tx_len, 0);
    if (len > 0 && len <= IPC_FRAME_MAX &&
        send(fd, sh->tx, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log_warn("ipc: fd %d: %u bytes of a dead worker's replies lost: %s",
                 fd, len, strerror(errno));
    uint64_t span = atomic_exchange(&sh->rx_span, 0);
    size_t at = (size_t)(uint32_t)span, end = (size_t)(span >> 32);
    if (at >= end || end > IPC_FRAME_MAX)
        return 0;
    return ipc_count_firsts(sh->rx + at, end - at);
}

void ipc_unshare(ipc_t *c)
{
    if (c->sh == NULL)
        return;
    c->batching = 0;
    c->tx = NULL;
    c->tx_len = 0;
    c->rx_mirror = 0;
    c->sh = NULL;
}

/* The next record of the frame in rx: 1 with *msg when it completed a
 * message, 0 otherwise (the frame may hold more: see c->rx_at). */
static int ipc_next_record(ipc_t *c, ipc_msg_t *msg)
{
    const char *rec = c->rx + c->rx_at;
    size_t left = c->rx_end - c->rx_at;
    int fd = c->rx_fd;
    int batched = c->rx_at > 0;
    ipc_hdr_t h;
    c->rx_fd = -1;
    memcpy(&h, rec, sizeof(h)); /* the caller saw sizeof(h) bytes */
    size_t step = ipc_record_size(h.len);
    batched |= step < left; /* more records follow */
    int ok = ipc_check(c, &h, left, fd, batched);
    if (ok < 0 || step >= left)
        c->rx_at = c->rx_end; /* the last, or the next cannot be found */
    else
        c->rx_at += step;
    /* Taken before it runs: a replacement never runs it again. */
    if (c->rx_mirror)
        ipc_span_set(c);
    if (ok <= 0) {
        if (fd >= 0)
            close(fd);
        ipc_refused(c, &h);
        return 0;
    }
    return ipc_take_frame(c, &h, rec + sizeof(h), fd, msg);
}

int ipc_recv(ipc_t *c, ipc_msg_t *msg)
{
    ipc_unmap(c);
    for (;;) {
        if (ipc_buffered(c)) {
            if (ipc_next_record(c, msg))
                return 1;
            continue;
        }
        if (c->rx_end > c->rx_at)
            log_warn("ipc: fd %d: %zu bytes after the last record of a "
                     "frame dropped", c->fd, c->rx_end - c->rx_at);
        c->rx_at = c->rx_end = 0;
        if (c->rx_spent && !ipc_mid_message(c)) {
            c->rx_spent = 0; /* the loop tells if more waits */
            return 0;
        }
        int fd = -1, trunc = 0;
        ssize_t n = ipc_read_frame(c, &fd, &trunc);
        if (n < 0) {
            c->rx_spent = 0;
            return n == -EAGAIN ? 0 : (int)n;
        }
        c->rx_spent = c->rx_one;
        if ((size_t)n < sizeof(ipc_hdr_t) || trunc) {
            log_warn("ipc: fd %d: %s frame of %zd bytes refused", c->fd,
                     trunc ? "truncated" : "short", n);
            if (fd >= 0)
                close(fd);
            if ((size_t)n >= sizeof(ipc_hdr_t)) {
                ipc_hdr_t h;
                memcpy(&h, c->rx, sizeof(h));
                ipc_refused(c, &h);
            }
            continue;
        }
        c->rx_end = (size_t)n;
        c->rx_fd = fd;
        ipc_mirror(c);
    }
}

/* ---- keeping a message past the next ipc_recv ---- */

typedef struct ipc_hold {
    void *mem;
    size_t map_len;  /* a memfd's mapping: munmap; else free */
} ipc_hold_t;

/* The memory m's data lies in, swapped out of c; NULL if none or OOM. */
static void *ipc_take_mem(ipc_t *c, const ipc_msg_t *m, size_t *map_len)
{
    void *mem = NULL;
    *map_len = 0;
    if (c->map != NULL && m->data == c->map) {
        mem = c->map;
        *map_len = c->map_len;
        c->map = NULL;
        c->map_len = 0;
        return mem;
    }
    if (m->data >= c->rx && m->data < c->rx + IPC_FRAME_MAX) {
        char *rx = malloc(IPC_FRAME_MAX);
        if (rx != NULL) {
            /* The records of its batch not yet read move along. */
            if (c->rx_end > c->rx_at)
                memcpy(rx + c->rx_at, c->rx + c->rx_at, c->rx_end - c->rx_at);
            mem = c->rx;
            c->rx = rx;
        }
        return mem;
    }
    for (int i = 0; i < IPC_SENDERS; i++) {
        buf_t *b = &c->part[i].buf;
        if (b->data != NULL && m->data >= b->data &&
            m->data < b->data + b->cap) {
            mem = b->data;
            *b = (buf_t){0};
        }
    }
    return mem;
}

void *ipc_detach(ipc_t *c, const ipc_msg_t *m)
{
    ipc_hold_t *h = malloc(sizeof(*h));
    if (h != NULL)
        h->mem = ipc_take_mem(c, m, &h->map_len);
    if (h == NULL || h->mem == NULL) {
        log_error("ipc: fd %d: out of memory keeping a message of %zu bytes "
                  "for a waiting callback", c->fd, m->len);
        free(h);
        return NULL;
    }
    return h;
}

void ipc_hold_free(void *hold)
{
    ipc_hold_t *h = hold;
    if (h->map_len > 0)
        munmap(h->mem, h->map_len);
    else
        free(h->mem);
    free(h);
}
