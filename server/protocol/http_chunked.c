/* http_chunked.c: an incremental decoder for HTTP/1.1 chunked request bodies. */
#include "protocol/http_chunked.h"
#include "protocol/http_chars.h"

#include <string.h>

enum {
    CK_SIZE = 0,       /* chunk-size hex digits */
    CK_SIZE_WS,        /* BWS after the size: only ';' may follow */
    CK_EXT,            /* chunk-ext, skipped up to CR */
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TRAILER,        /* start of a trailer line, or the final CRLF */
    CK_TRAILER_NAME,
    CK_TRAILER_VALUE,
    CK_TRAILER_LF,
    CK_END_LF,
    CK_DONE,
};

/* 16 hex digits fill a uint64_t; more (even leading zeros) are refused. */
#define CK_SIZE_DIGITS_MAX 16

void http_chunked_init(http_chunked_t *c, uint64_t max_body, size_t max_meta)
{
    memset(c, 0, sizeof(*c));
    c->state = CK_SIZE;
    c->max_body = max_body;
    c->max_meta = max_meta;
}

static int meta_byte(http_chunked_t *c)
{
    return ++c->meta > c->max_meta ? -431 : 0;
}

static int to(http_chunked_t *c, int state)
{
    c->state = state;
    return 0;
}

/* The chunk-size line up to its CR: 1*HEXDIG [ BWS ";" chunk-ext ]. */
static int step_size(http_chunked_t *c, unsigned char ch)
{
    int d = http_hex_digit(ch);
    if (c->state == CK_SIZE && d >= 0) {
        if (c->digits++ == CK_SIZE_DIGITS_MAX)
            return -400;
        c->size = c->size * 16 + (uint64_t)d;
        /* Refuse a too-large body before any of it is read. */
        return c->size > c->max_body - c->total ? -413 : 0;
    }
    if (c->digits == 0)
        return -400;
    if (ch == ';')
        return to(c, CK_EXT);
    if (ch == ' ' || ch == '\t')
        return to(c, CK_SIZE_WS);
    if (ch == '\r' && c->state == CK_SIZE)
        return to(c, CK_SIZE_LF);
    return -400;
}

static int step_ext(http_chunked_t *c, unsigned char ch)
{
    if (ch == '\r')
        return to(c, CK_SIZE_LF);
    if (!http_is_field_char(ch))
        return -400;
    return meta_byte(c);
}

static int step_lf(http_chunked_t *c, unsigned char ch)
{
    if (ch != '\n')
        return -400;
    switch (c->state) {
    case CK_SIZE_LF:
        return to(c, c->size == 0 ? CK_TRAILER : CK_DATA);
    case CK_DATA_LF:
        c->digits = 0;
        c->size = 0;
        return to(c, CK_SIZE);
    case CK_TRAILER_LF:
        return to(c, CK_TRAILER);
    default:
        return to(c, CK_DONE);
    }
}

/* trailer-section: field lines skipped, but checked and bounded. */
static int step_trailer(http_chunked_t *c, unsigned char ch)
{
    switch (c->state) {
    case CK_TRAILER:
        if (ch == '\r')
            return to(c, CK_END_LF);
        if (!http_is_tchar(ch))
            return -400;
        c->state = CK_TRAILER_NAME;
        return meta_byte(c);
    case CK_TRAILER_NAME:
        if (ch == ':')
            c->state = CK_TRAILER_VALUE;
        else if (!http_is_tchar(ch))
            return -400;
        return meta_byte(c);
    default:
        if (ch == '\r')
            return to(c, CK_TRAILER_LF);
        if (!http_is_field_char(ch))
            return -400;
        return meta_byte(c);
    }
}

static int step(http_chunked_t *c, unsigned char ch)
{
    switch (c->state) {
    case CK_SIZE:
    case CK_SIZE_WS:
        return step_size(c, ch);
    case CK_EXT:
        return step_ext(c, ch);
    case CK_DATA_CR:
        return ch == '\r' ? to(c, CK_DATA_LF) : -400;
    case CK_TRAILER:
    case CK_TRAILER_NAME:
    case CK_TRAILER_VALUE:
        return step_trailer(c, ch);
    default:
        return step_lf(c, ch);
    }
}

/* Copy as much of the current chunk as is here. */
static size_t data_run(http_chunked_t *c, const char *in, size_t len, char *out)
{
    size_t n = c->size < len ? (size_t)c->size : len;
    memmove(out, in, n);
    c->size -= n;
    c->total += n;
    if (c->size == 0)
        c->state = CK_DATA_CR;
    return n;
}

int http_chunked_decode(http_chunked_t *c, const char *in, size_t len,
                        char *out, size_t *used, size_t *out_len)
{
    size_t i = 0, o = 0;
    int rc = c->error;
    while (rc == 0 && i < len && c->state != CK_DONE) {
        if (c->state == CK_DATA) {
            size_t n = data_run(c, in + i, len - i, out + o);
            i += n;
            o += n;
        } else {
            rc = step(c, (unsigned char)in[i++]);
        }
    }
    *used = i;
    *out_len = o;
    if (rc < 0) {
        c->error = rc;
        return rc;
    }
    return c->state == CK_DONE ? 1 : 0;
}
