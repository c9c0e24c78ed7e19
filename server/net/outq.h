/* outq.h: a connection's pending output: buffered bytes and file segments
 * (sent with sendfile(2)), written in order as the socket takes them. */
#ifndef SWX_OUTQ_H
#define SWX_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

typedef struct outq_seg {
    struct outq_seg *next;
    int fd;              /* a file segment's fd (owned), or -1 for bytes */
    off_t off;           /* file: the next byte to send */
    uint64_t left;       /* file: bytes still to send */
    buf_t bytes;         /* bytes: what is left of them */
} outq_seg_t;

typedef struct outq {
    outq_seg_t *head;
    outq_seg_t *tail;
    size_t bytes;        /* buffered bytes: what buffer_output_size caps */
    int nfiles;          /* file segments queued */
    uint64_t sent;       /* bytes written so far, files included: progress */
} outq_t;

/* Nothing left to write. */
static inline int outq_empty(const outq_t *q)
{
    return q->head == NULL;
}

/* Copy len bytes to the end of the queue. 0 or -ENOMEM. */
int outq_append(outq_t *q, const void *data, size_t len);

/* Queue len bytes of fd from off; the queue owns fd from now on (closed
 * when sent, or by outq_free), also when this fails. 0 or -ENOMEM. */
int outq_append_file(outq_t *q, int fd, off_t off, uint64_t len);

/* How the queue's bytes leave: the connection's transport. Each returns
 * the bytes written, or -errno (-EAGAIN: the socket is full); sendfile
 * returns 0 when the file ended early. */
typedef struct outq_io {
    ssize_t (*write)(void *arg, const void *data, size_t len);
    ssize_t (*sendfile)(void *arg, int fd, off_t *off, size_t len);
} outq_io_t;

/*
 * Write what the socket takes, in order, through io. 0 when the queue is
 * empty, -EAGAIN when the socket is full, -ENODATA when a file ended
 * before its segment did (it shrank), or the -errno of the write (-EPIPE
 * or -ECONNRESET: the client went away).
 */
int outq_flush(outq_t *q, const outq_io_t *io, void *arg);

/* Why a connection with this queue ends after outq_flush returned rc: the
 * client going away and a file shrinking are told apart, in words. */
const char *outq_strerror(const outq_t *q, int rc);

/* Drop everything queued and close the files. */
void outq_free(outq_t *q);

#endif
