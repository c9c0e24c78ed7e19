/* http_coding.c: Accept-Encoding, compressible types, and zlib. */
#include "protocol/http_coding.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* [s, e) without the spaces around it. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_ows(**s))
        (*s)++;
    while (*e > *s && is_ows((*e)[-1]))
        (*e)--;
}

static int token_is(const char *s, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - s) == n && strncasecmp(s, word, n) == 0;
}

/* The q of a member's parameters ";q=0.5"; 1000 per unit, 1000 when
 * absent, -1 when malformed. */
static int member_q(const char *s, const char *e)
{
    int q = 1000;
    while (s < e) {
        const char *semi = memchr(s, ';', (size_t)(e - s));
        const char *end = semi != NULL ? semi : e;
        const char *ps = s, *pe = end;
        trim(&ps, &pe);
        if (pe - ps >= 2 && (ps[0] == 'q' || ps[0] == 'Q') && ps[1] == '=') {
            ps += 2;
            if (ps >= pe || (*ps != '0' && *ps != '1'))
                return -1;
            q = (*ps - '0') * 1000;
            ps++;
            if (ps < pe && *ps == '.') {
                ps++;
                int scale = 100;
                for (; ps < pe && scale > 0; ps++, scale /= 10) {
                    if (*ps < '0' || *ps > '9')
                        return -1;
                    q += (*ps - '0') * scale;
                }
            }
            if (ps != pe || q > 1000)
                return -1;
        }
        s = semi != NULL ? semi + 1 : e;
    }
    return q;
}

int http_accept_coding(const char *value, size_t len)
{
    int yes = 0, no = 0, star = -1;
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *me = comma != NULL ? comma : end;
        const char *semi = memchr(p, ';', (size_t)(me - p));
        const char *ts = p, *te = semi != NULL ? semi : me;
        trim(&ts, &te);
        int q = member_q(semi != NULL ? semi + 1 : me, me);
        int bit = token_is(ts, te, "gzip") || token_is(ts, te, "x-gzip")
                      ? HTTP_CODING_GZIP
                  : token_is(ts, te, "deflate") ? HTTP_CODING_DEFLATE
                                                : 0;
        if (q >= 0 && token_is(ts, te, "*"))
            star = q > 0;
        else if (q > 0)
            yes |= bit;
        else if (q == 0)
            no |= bit;
        p = comma != NULL ? comma + 1 : end;
    }
    int named = yes | no;
    if (star == 1)
        yes |= (HTTP_CODING_GZIP | HTTP_CODING_DEFLATE) & ~named;
    return yes & ~no;
}

int http_compressible_type(const char *type, size_t len)
{
    const char *semi = memchr(type, ';', len);
    const char *s = type, *e = semi != NULL ? semi : type + len;
    trim(&s, &e);
    static const char *const exact[] = {
        "application/json", "application/javascript",
        "application/x-javascript", "application/xml",
        "application/xhtml+xml", "application/rss+xml",
        "application/atom+xml", "application/manifest+json",
        "application/wasm", "image/svg+xml", "image/x-icon",
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (token_is(s, e, exact[i]))
            return 1;
    if (e - s > 5 && strncasecmp(s, "text/", 5) == 0)
        return 1;
    /* Structured syntax suffixes: application/ld+json, .../foo+xml. */
    return (e - s > 5 && strncasecmp(e - 5, "+json", 5) == 0) ||
           (e - s > 4 && strncasecmp(e - 4, "+xml", 4) == 0);
}

/* data deflated in one call (window bits as deflateInit2 takes them:
 * 15 zlib, 31 gzip, negative raw), ended with flush, appended to out. */
static int deflate_all(int level, int bits, int flush, const void *data,
                       size_t len, buf_t *out)
{
    if (len > UINT_MAX / 2)
        return -E2BIG;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -ENOMEM;
    /* deflateBound is an upper bound (a sync flush adds an empty block):
     * one call writes it all, straight into out. */
    uLong bound = deflateBound(&z, (uLong)len) + 16;
    char *room = buf_room(out, bound);
    int rc = room != NULL ? 0 : -ENOMEM;
    if (rc == 0) {
        z.next_in = (Bytef *)(uintptr_t)data;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)room;
        z.avail_out = (uInt)bound;
        int zr = deflate(&z, flush);
        rc = (zr == Z_STREAM_END || (flush != Z_FINISH && zr == Z_OK)) &&
                     z.avail_in == 0
                 ? 0
                 : -EIO;
    }
    if (rc == 0)
        out->len += bound - z.avail_out;
    deflateEnd(&z);
    return rc;
}

int http_compress(int coding, int level, const void *data, size_t len,
                  buf_t *out)
{
    /* 15 window bits: a zlib stream ("deflate" in HTTP); +16: gzip. */
    return deflate_all(level, coding == HTTP_CODING_GZIP ? 15 + 16 : 15,
                       Z_FINISH, data, len, out);
}

int ws_deflate_message(int level, int window_bits, const void *data,
                       size_t len, buf_t *out)
{
    size_t start = buf_pending(out);
    int rc = deflate_all(level, -window_bits, Z_SYNC_FLUSH, data, len, out);
    size_t n = buf_pending(out) - start;
    if (rc == 0 && (n < 4 || memcmp(buf_head(out) + buf_pending(out) - 4,
                                    "\0\0\xff\xff", 4) != 0))
        rc = -EIO;
    if (rc == 0)
        out->len -= 4; /* RFC 7692 §7.2.1: the flush's tail is implied */
    return rc;
}

int ws_inflate_message(const void *data, size_t len, size_t max,
                       buf_t *out)
{
    static const unsigned char tail[4] = {0, 0, 0xff, 0xff};
    enum { STEP = 16384 };
    if (len > UINT_MAX / 2)
        return -E2BIG;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -15) != Z_OK)
        return -ENOMEM;
    size_t total = 0;
    int rc = 0, zr = Z_OK;
    for (int part = 0; part < 2 && rc == 0 && zr != Z_STREAM_END; part++) {
        z.next_in = (Bytef *)(uintptr_t)(part == 0 ? data : (const void *)tail);
        z.avail_in = (uInt)(part == 0 ? len : sizeof(tail));
        /* Until this input is used up and the output stops filling the
         * room it is given, straight into out. */
        do {
            char *room = buf_room(out, STEP);
            if (room == NULL) {
                rc = -ENOMEM;
                break;
            }
            z.next_out = (Bytef *)room;
            z.avail_out = STEP;
            zr = inflate(&z, Z_SYNC_FLUSH);
            size_t got = STEP - z.avail_out;
            if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
                rc = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
            else if (got > max - total)
                rc = -E2BIG; /* not counted: out stays within max */
            else
                out->len += got;
            total += got;
            if (zr == Z_BUF_ERROR && got == 0)
                break; /* no progress: nothing more to give */
        } while (rc == 0 && zr != Z_STREAM_END &&
                 (z.avail_in > 0 || z.avail_out == 0));
    }
    inflateEnd(&z);
    return rc;
}
