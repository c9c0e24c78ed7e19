/* buf.h: a growable byte buffer with a read offset, for pending output. */
#ifndef SWX_BUF_H
#define SWX_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;
    size_t off;  /* first unconsumed byte */
    size_t len;  /* end of valid bytes */
    size_t cap;
} buf_t;

/* Bytes appended but not yet consumed. */
static inline size_t buf_pending(const buf_t *b)
{
    return b->len - b->off;
}

/* NULL when the buffer holds no memory (never appended to, or released):
 * callers must not pass it on with a length of 0 to memchr and kin. */
static inline char *buf_head(const buf_t *b)
{
    return b->data != NULL ? b->data + b->off : NULL;
}

/* 0 or -ENOMEM (the buffer is unchanged then). */
int buf_append(buf_t *b, const void *data, size_t len);
/* Room for n more bytes at the end, to be written in place and then
 * counted with b->len += used (used <= n); NULL when out of memory. */
char *buf_room(buf_t *b, size_t n);
void buf_consume(buf_t *b, size_t len);
void buf_reset(buf_t *b);
/* Give back a capacity over keep bytes once what is pending fits in half
 * of keep (released when nothing is pending, else moved to keep bytes),
 * so that one large message does not pin its memory to a connection. A
 * failed allocation leaves the buffer as it was. */
void buf_trim(buf_t *b, size_t keep);
void buf_free(buf_t *b);

#endif
