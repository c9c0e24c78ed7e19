/* http_multipart.c: multipart/form-data, part by part. */
#include "protocol/http_multipart.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70
#define CURSOR_END SIZE_MAX

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && is_ws(**s))
        (*s)++;
    while (*e > *s && is_ws((*e)[-1]))
        (*e)--;
}

/* The value of parameter name in "; a=b; c="d"" [s, e): unquoted (no
 * unescaping), or NULL. */
static const char *param(const char *s, const char *e, const char *name,
                         size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = s;
    while (p < e) {
        const char *semi = memchr(p, ';', (size_t)(e - p));
        if (semi == NULL)
            return NULL;
        p = semi + 1;
        while (p < e && is_ws(*p))
            p++;
        if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 &&
            p[nl] == '=') {
            const char *v = p + nl + 1, *ve;
            if (v < e && *v == '"') {
                v++;
                for (ve = v; ve < e && *ve != '"'; ve++)
                    if (*ve == '\\' && ve + 1 < e)
                        ve++;
                if (ve >= e)
                    return NULL; /* unterminated */
            } else {
                ve = v;
                while (ve < e && *ve != ';' && !is_ws(*ve))
                    ve++;
            }
            *vlen = (size_t)(ve - v);
            return v;
        }
    }
    return NULL;
}

int http_multipart_boundary(const char *type, size_t len, const char **b,
                            size_t *blen)
{
    const char *e = type + len, *semi = memchr(type, ';', len);
    const char *ts = type, *te = semi != NULL ? semi : e;
    trim(&ts, &te);
    if ((size_t)(te - ts) != 19 || strncasecmp(ts, "multipart/form-data",
                                               19) != 0)
        return -ENOTSUP;
    const char *v = param(type, e, "boundary", blen);
    if (v == NULL || *blen == 0 || *blen > BOUNDARY_MAX)
        return -EINVAL;
    *b = v;
    return 0;
}

/* Past the delimiter at d: after its CRLF (1), or the closing "--" (0);
 * -1 when malformed. *next gets the offset after it. */
static int after_delim(const char *body, size_t len, size_t d, size_t blen,
                       size_t *next)
{
    size_t p = d + 2 + blen;
    if (p + 2 <= len && body[p] == '-' && body[p + 1] == '-') {
        *next = len;
        return 0;
    }
    while (p < len && is_ws(body[p])) /* transport padding */
        p++;
    if (p + 2 > len || body[p] != '\r' || body[p + 1] != '\n')
        return -1;
    *next = p + 2;
    return 1;
}

/* The first delimiter at or after from: "--boundary" at a line start,
 * followed by "--" or by optional spaces and CRLF (a line that merely
 * starts with it is content). Its offset, or -1. */
static long find_delim(const char *body, size_t len, const char *b,
                       size_t blen, size_t from)
{
    for (size_t i = from; i + 2 + blen <= len; i++) {
        const char *hit = memchr(body + i, '-', len - i);
        if (hit == NULL)
            return -1;
        i = (size_t)(hit - body);
        if (i + 2 + blen > len)
            return -1;
        size_t next;
        if ((i == 0 || (i >= 2 && body[i - 2] == '\r' && body[i - 1] == '\n'))
            && body[i + 1] == '-' && memcmp(body + i + 2, b, blen) == 0 &&
            after_delim(body, len, i, blen, &next) >= 0)
            return (long)i;
    }
    return -1;
}

/* The part's header fields [s, e): Content-Disposition, Content-Type. */
static int part_headers(const char *s, const char *e, http_part_t *part)
{
    while (s < e) {
        const char *eol = s;
        while (eol + 1 < e && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (eol + 1 >= e)
            eol = e;
        const char *colon = memchr(s, ':', (size_t)(eol - s));
        if (colon == NULL)
            return -EINVAL;
        const char *ns = s, *ne = colon, *vs = colon + 1, *ve = eol;
        trim(&ns, &ne);
        trim(&vs, &ve);
        if ((size_t)(ne - ns) == 19 &&
            strncasecmp(ns, "content-disposition", 19) == 0) {
            part->name = param(vs, ve, "name", &part->name_len);
            part->filename = param(vs, ve, "filename", &part->filename_len);
        } else if ((size_t)(ne - ns) == 12 &&
                   strncasecmp(ns, "content-type", 12) == 0) {
            part->type = vs;
            part->type_len = (size_t)(ve - vs);
        }
        s = eol + 2;
    }
    return 0;
}

int http_multipart_next(const char *body, size_t len, const char *boundary,
                        size_t blen, size_t *cursor, http_part_t *part)
{
    if (*cursor == CURSOR_END)
        return 0;
    size_t start = *cursor;
    if (start == 0) {
        long d = find_delim(body, len, boundary, blen, 0);
        if (d < 0)
            return -EINVAL;
        int rc = after_delim(body, len, (size_t)d, blen, &start);
        if (rc <= 0) {
            *cursor = CURSOR_END;
            return rc;
        }
    }
    if (start > len)
        return -EINVAL;
    /* Headers end with an empty line (none at all: the CRLF at once). */
    size_t h = start;
    const char *hend = NULL;
    if (h + 2 <= len && body[h] == '\r' && body[h + 1] == '\n')
        hend = body + h;
    for (size_t i = h; hend == NULL && i + 4 <= len; i++)
        if (memcmp(body + i, "\r\n\r\n", 4) == 0)
            hend = body + i + 2;
    if (hend == NULL)
        return -EINVAL;
    size_t data = (size_t)(hend - body) + 2;
    long d = find_delim(body, len, boundary, blen, data);
    if (d < 0)
        return -EINVAL;
    memset(part, 0, sizeof(*part));
    if (part_headers(body + start, hend, part) < 0)
        return -EINVAL;
    part->data = body + data;
    /* The CRLF before the delimiter is the delimiter's; an empty content
     * may share it with the blank line. */
    part->len = (size_t)d >= data + 2 ? (size_t)d - 2 - data : 0;
    size_t next;
    int rc = after_delim(body, len, (size_t)d, blen, &next);
    if (rc < 0)
        return -EINVAL;
    *cursor = rc == 0 ? CURSOR_END : next;
    return 1;
}
