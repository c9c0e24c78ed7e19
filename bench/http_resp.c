/* http_resp.c: incremental HTTP/1.1 response parser for the load generator:
 * the status line, Content-Length and chunked bodies, read strictly (CRLF
 * line ends, one length) so that a response counted is a response whole. */
#include "http_resp.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static void resp_start(http_resp_t *r)
{
    r->state = HR_STATUS;
    r->status = 0;
    r->chunked = 0;
    r->have_length = 0;
    r->length = 0;
    r->left = 0;
    r->bytes = 0;
    r->line_len = 0;
}

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The value between leading and trailing spaces and tabs. */
static size_t trim(const char **s, size_t n)
{
    while (n > 0 && is_ows(**s)) {
        (*s)++;
        n--;
    }
    while (n > 0 && is_ows((*s)[n - 1]))
        n--;
    return n;
}

static int digit_value(char ch, int base)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (base == 16 && ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (base == 16 && ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A non-empty run of digits only, without overflow. */
static int parse_u64(const char *s, size_t n, int base, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int d = digit_value(s[i], base);

        if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* "HTTP/1.x DDD" and an optional " reason". Interim (1xx) responses are
 * refused: the load generator never asks for one. */
static int parse_status(http_resp_t *r, const char *l, size_t n)
{
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') ||
        l[8] != ' ' || (n > 12 && l[12] != ' '))
        return -1;
    for (int i = 9; i < 12; i++)
        if (l[i] < '0' || l[i] > '9')
            return -1;
    r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (r->status < 200)
        return -1;
    r->state = HR_HEADER;
    return 0;
}

/* The empty line after the head: how the body is framed. A body that runs
 * to the close cannot be counted on a kept-alive connection. */
static int head_end(http_resp_t *r)
{
    if (r->chunked && r->have_length)
        return -1;
    if (r->status == 204 || r->status == 304) {
        r->state = HR_DONE;
        return 0;
    }
    if (r->chunked) {
        r->state = HR_CHUNK_SIZE;
        return 0;
    }
    if (!r->have_length)
        return -1;
    r->left = r->length;
    r->state = r->left > 0 ? HR_BODY : HR_DONE;
    return 0;
}

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* One header field; a trailer field too when trailer is set (its framing
 * fields are ignored). */
static int parse_field(http_resp_t *r, const char *l, size_t n, bool trailer)
{
    const char *colon = memchr(l, ':', n);
    const char *v;
    size_t name_len, vn;
    uint64_t len;

    if (!colon || colon == l)
        return -1;
    name_len = (size_t)(colon - l);
    for (size_t i = 0; i < name_len; i++)
        if (is_ows(l[i]))
            return -1;  /* obs-fold, or space before the colon */
    v = colon + 1;
    vn = trim(&v, n - name_len - 1);
    if (trailer)
        return 0;
    if (name_is(l, name_len, "Content-Length")) {
        if (parse_u64(v, vn, 10, &len) < 0 || (r->have_length && len != r->length))
            return -1;
        r->have_length = 1;
        r->length = len;
    } else if (name_is(l, name_len, "Transfer-Encoding")) {
        if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
            return -1;
        r->chunked = 1;
    }
    return 0;
}

/* "HEX[;extensions]"; size 0 is the last chunk, trailers follow. */
static int parse_chunk_size(http_resp_t *r, const char *l, size_t n)
{
    const char *semi = memchr(l, ';', n);
    size_t hex = semi ? (size_t)(semi - l) : n;

    while (hex > 0 && is_ows(l[hex - 1]))
        hex--;
    if (parse_u64(l, hex, 16, &r->left) < 0)
        return -1;
    r->state = r->left > 0 ? HR_CHUNK_DATA : HR_TRAILER;
    return 0;
}

static int line_done(http_resp_t *r, const char *l, size_t n)
{
    switch (r->state) {
    case HR_STATUS:
        return parse_status(r, l, n);
    case HR_HEADER:
        return n == 0 ? head_end(r) : parse_field(r, l, n, false);
    case HR_CHUNK_SIZE:
        return parse_chunk_size(r, l, n);
    case HR_CHUNK_END:
        r->state = HR_CHUNK_SIZE;
        return n == 0 ? 0 : -1;
    case HR_TRAILER:
        if (n == 0)
            r->state = HR_DONE;
        return n == 0 ? 0 : parse_field(r, l, n, true);
    default:
        return -1;
    }
}

/* Up to and including the next LF; a whole line (CRLF, no other CR) goes
 * to line_done. Returns the bytes taken, or -1. */
static long take_line(http_resp_t *r, const unsigned char *p, size_t n)
{
    const unsigned char *lf = memchr(p, '\n', n);
    size_t copy = lf ? (size_t)(lf - p) : n;
    size_t len;

    if (copy > HTTP_RESP_LINE_MAX - r->line_len)
        return -1;
    memcpy(r->line + r->line_len, p, copy);
    r->line_len += copy;
    if (!lf)
        return (long)copy;
    len = r->line_len;
    r->line_len = 0;
    if (len == 0 || r->line[len - 1] != '\r' || memchr(r->line, '\r', len - 1))
        return -1;
    if (line_done(r, r->line, len - 1) < 0)
        return -1;
    return (long)copy + 1;
}

/* Body or chunk bytes: counted, not kept. */
static size_t take_body(http_resp_t *r, size_t n)
{
    size_t take = r->left < n ? (size_t)r->left : n;

    r->left -= take;
    if (r->left == 0)
        r->state = r->state == HR_BODY ? HR_DONE : HR_CHUNK_END;
    return take;
}

enum http_resp_rc http_resp_feed(http_resp_t *r, const unsigned char *buf, size_t len,
                                 size_t *used)
{
    size_t off = 0;

    if (r->state == HR_DONE)
        resp_start(r);
    while (off < len && r->state != HR_DONE) {
        long n;

        if (r->state == HR_BODY || r->state == HR_CHUNK_DATA)
            n = (long)take_body(r, len - off);
        else
            n = take_line(r, buf + off, len - off);
        if (n < 0) {
            *used = off;
            return HTTP_RESP_BAD;
        }
        off += (size_t)n;
        r->bytes += (uint64_t)n;
    }
    *used = off;
    return r->state == HR_DONE ? HTTP_RESP_DONE : HTTP_RESP_MORE;
}
