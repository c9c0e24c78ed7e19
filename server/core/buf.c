/* buf.c: a growable byte buffer with a read offset, for pending output. */
#include "core/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int buf_reserve(buf_t *b, size_t extra)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + extra <= b->cap)
        return 0;
    /* Reclaim consumed space before growing. */
    if (b->off > 0 && buf_pending(b) + extra <= b->cap) {
        memmove(b->data, b->data + b->off, buf_pending(b));
        b->len -= b->off;
        b->off = 0;
        return 0;
    }
    size_t need = buf_pending(b) + extra;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *p = malloc(cap);
    if (p == NULL)
        return -ENOMEM;
    if (b->data != NULL)
        memcpy(p, b->data + b->off, buf_pending(b));
    free(b->data);
    b->len -= b->off;
    b->off = 0;
    b->data = p;
    b->cap = cap;
    return 0;
}

char *buf_room(buf_t *b, size_t n)
{
    return buf_reserve(b, n) < 0 ? NULL : b->data + b->len;
}

int buf_append(buf_t *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    int rc = buf_reserve(b, len);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void buf_consume(buf_t *b, size_t len)
{
    b->off += len;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void buf_reset(buf_t *b)
{
    b->off = b->len = 0;
}

void buf_trim(buf_t *b, size_t keep)
{
    size_t pending = buf_pending(b);
    if (b->cap <= keep || pending > keep / 2)
        return;
    if (pending == 0) {
        buf_free(b);
        return;
    }
    char *p = malloc(keep);
    if (p == NULL)
        return;
    memcpy(p, buf_head(b), pending);
    free(b->data);
    b->data = p;
    b->off = 0;
    b->len = pending;
    b->cap = keep;
}

void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}
