/* outq.c: a connection's pending output: bytes and file segments in order. */
#include "net/outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* sendfile(2) moves at most this much per call. */
#define OUTQ_SENDFILE_MAX (1u << 30)

static outq_seg_t *outq_push(outq_t *q, int fd)
{
    outq_seg_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->fd = fd;
    if (q->tail != NULL)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
    return s;
}

static void outq_pop(outq_t *q)
{
    outq_seg_t *s = q->head;
    q->head = s->next;
    if (q->head == NULL)
        q->tail = NULL;
    if (s->fd >= 0) {
        close(s->fd);
        q->nfiles--;
    }
    q->bytes -= buf_pending(&s->bytes);
    buf_free(&s->bytes);
    free(s);
}

int outq_append(outq_t *q, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    outq_seg_t *s = q->tail;
    if (s == NULL || s->fd >= 0)
        s = outq_push(q, -1);
    if (s == NULL || buf_append(&s->bytes, data, len) < 0)
        return -ENOMEM;
    q->bytes += len;
    return 0;
}

int outq_append_file(outq_t *q, int fd, off_t off, uint64_t len)
{
    if (len == 0) {
        close(fd);
        return 0;
    }
    outq_seg_t *s = outq_push(q, fd);
    if (s == NULL) {
        close(fd);
        return -ENOMEM;
    }
    s->off = off;
    s->left = len;
    q->nfiles++;
    return 0;
}

/* One write from the head segment: bytes sent (> 0), or -errno. */
static ssize_t outq_write_head(outq_t *q, const outq_io_t *io, void *arg)
{
    outq_seg_t *s = q->head;
    if (s->fd < 0)
        return io->write(arg, buf_head(&s->bytes), buf_pending(&s->bytes));
    size_t n = s->left < OUTQ_SENDFILE_MAX ? (size_t)s->left
                                           : OUTQ_SENDFILE_MAX;
    ssize_t w = io->sendfile(arg, s->fd, &s->off, n);
    return w == 0 ? -ENODATA : w; /* 0: the file is shorter than it was */
}

int outq_flush(outq_t *q, const outq_io_t *io, void *arg)
{
    while (q->head != NULL) {
        ssize_t n = outq_write_head(q, io, arg);
        if (n < 0)
            return (int)n;
        outq_seg_t *s = q->head;
        q->sent += (uint64_t)n;
        if (s->fd >= 0) {
            s->left -= (uint64_t)n;
        } else {
            buf_consume(&s->bytes, (size_t)n);
            q->bytes -= (size_t)n;
        }
        if (s->fd >= 0 ? s->left == 0 : buf_pending(&s->bytes) == 0)
            outq_pop(q);
    }
    return 0;
}

const char *outq_strerror(const outq_t *q, int rc)
{
    if (rc == -ENODATA)
        return "the file shrank while being sent";
    if ((rc == -EPIPE || rc == -ECONNRESET) && q->nfiles > 0)
        return "the client went away during a file transfer";
    return strerror(-rc);
}

void outq_free(outq_t *q)
{
    while (q->head != NULL)
        outq_pop(q);
}
