/* http_parser.c: a zero-copy HTTP/1.1 request parser, strict about framing. */
#include "protocol/http_parser.h"
#include "protocol/http_chars.h"

#include <limits.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* The path of an absolute-form target that has none: the one slice that
 * does not point into the parsed bytes. */
static const char root_path[] = "/";

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* p[0..len) is lit, in any case. lit is a literal of lower-case letters,
 * digits and '-', and p a field name or value that passed its checks:
 * there, setting bit 5 turns only an upper-case letter into another
 * byte (a control character, which could become '-' or a digit, is
 * refused first), so no call to strncasecmp is needed. */
static inline int slice_eq(const char *p, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (n != len)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] | 0x20) != (unsigned char)lit[i])
            return 0;
    return 1;
}

static void resolve_limits(const http_limits_t *in, http_limits_t *out)
{
    out->max_head = in && in->max_head ? in->max_head : HTTP_DEFAULT_MAX_HEAD;
    out->max_uri = in && in->max_uri ? in->max_uri : HTTP_DEFAULT_MAX_URI;
    out->max_headers = in && in->max_headers ? in->max_headers : HTTP_MAX_HEADERS;
    if (out->max_headers > HTTP_MAX_HEADERS)
        out->max_headers = HTTP_MAX_HEADERS;
    if (out->max_head > INT_MAX)  /* the head length is returned as int */
        out->max_head = INT_MAX;
}

/* The field slots are left as they were: only the first nheaders are
 * ever read, and clearing all of them cost more than parsing a short
 * head. */
void http_request_init(http_request_t *req)
{
    memset(req, 0, offsetof(http_request_t, headers));
    memset((char *)req + offsetof(http_request_t, nheaders), 0,
           sizeof(*req) - offsetof(http_request_t, nheaders));
    req->content_length = -1;
}

/*
 * Look for the blank line ending the head within the first max_head bytes,
 * resuming at req->scan_line. Every LF must close a CRLF. Empty lines
 * before the request line are skipped (RFC 9112 §2.2) but count against
 * max_head. Returns the head end, 0 for more, or -400/-414/-431; the answer
 * depends only on the bytes, never on how they were split.
 */
static ssize_t find_head_end(http_request_t *req, const char *buf, size_t len,
                             size_t max_head)
{
    size_t line = req->scan_line, lead = req->scan_lead;
    size_t limit = len < max_head ? len : max_head;
    if (line > limit || lead > line)
        line = lead = 0;
    const char *lf;
    while ((lf = memchr(buf + line, '\n', limit - line)) != NULL) {
        size_t i = (size_t)(lf - buf);
        if (i == line || buf[i - 1] != '\r')
            return -400;
        if (i - 1 == line && line == lead) {
            lead = i + 1;
        } else if (i - 1 == line) {
            req->scan_lead = lead;
            return (ssize_t)(i + 1);
        }
        line = i + 1;
    }
    if (len >= max_head)
        return line == lead ? -414 : -431;
    req->scan_line = line;
    req->scan_lead = lead;
    return 0;
}

static http_method_t method_id(const char *m, size_t len)
{
    static const char *const names[] = {
        [HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST",
        [HTTP_PUT] = "PUT", [HTTP_DELETE] = "DELETE",
        [HTTP_OPTIONS] = "OPTIONS", [HTTP_PATCH] = "PATCH",
        [HTTP_TRACE] = "TRACE", [HTTP_CONNECT] = "CONNECT",
    };
    for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == len && memcmp(names[i], m, len) == 0)
            return (http_method_t)i;
    }
    return HTTP_OTHER;
}

/* Split path and query out of p[0..len), which starts with '/'. */
static void split_query(http_request_t *req, const char *p, size_t len)
{
    const char *q = memchr(p, '?', len);
    req->path = p;
    req->path_len = q ? (size_t)(q - p) : len;
    req->query = q ? q + 1 : NULL;
    req->query_len = q ? len - req->path_len - 1 : 0;
}

/* absolute-form: http(s)://authority[/path][?query]; no userinfo. */
static int parse_absolute(http_request_t *req, const char *t, size_t len)
{
    size_t skip;
    if (len > 7 && strncasecmp(t, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncasecmp(t, "https://", 8) == 0)
        skip = 8;
    else
        return -400;
    const char *a = t + skip, *end = t + len, *p = a;
    while (p < end && *p != '/' && *p != '?') {
        if (*p == '@')
            return -400;
        p++;
    }
    if (p == a)
        return -400;
    req->host = a;
    req->host_len = (size_t)(p - a);
    split_query(req, p, (size_t)(end - p));
    if (req->path_len == 0) {
        req->path = root_path;
        req->path_len = 1;
    }
    return 0;
}

/* origin-form, asterisk-form (OPTIONS only) or absolute-form. */
static int parse_target(http_request_t *req, const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return -400;
    }
    req->target = t;
    req->target_len = len;
    if (t[0] == '/') {
        split_query(req, t, len);
        return 0;
    }
    if (len == 1 && t[0] == '*') {
        if (req->method_id != HTTP_OPTIONS)
            return -400;
        req->path = t;
        req->path_len = 1;
        return 0;
    }
    return parse_absolute(req, t, len);
}

/* "HTTP/1.0" or "HTTP/1.1"; another well-formed version is 505. */
static int parse_version(http_request_t *req, const char *v, size_t len)
{
    if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
        v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return -400;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return -505;
    req->version = v[7] - '0';
    return 0;
}

/* method SP request-target SP HTTP-version, exactly one SP each. */
static int parse_request_line(http_request_t *req, const char *p,
                              const char *end, size_t max_uri)
{
    const char *s = p;
    while (p < end && http_is_tchar((unsigned char)*p))
        p++;
    if (p == s || p == end || *p != ' ')
        return -400;
    req->method = s;
    req->method_len = (size_t)(p - s);
    req->method_id = method_id(s, req->method_len);
    s = ++p;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL)
        return (size_t)(end - s) > max_uri ? -414 : -400;
    if (sp == s)
        return -400;
    if ((size_t)(sp - s) > max_uri)
        return -414;
    int rc = parse_target(req, s, (size_t)(sp - s));
    if (rc < 0)
        return rc;
    return parse_version(req, sp + 1, (size_t)(end - sp - 1));
}

/* name ":" OWS value OWS; no space before the colon, no obs-fold. */
static int parse_field(http_header_t *h, const char *p, const char *end)
{
    const char *s = p;
    while (p < end && http_is_tchar((unsigned char)*p))
        p++;
    if (p == s || p == end || *p != ':')
        return -400;
    h->name = s;
    h->name_len = (size_t)(p - s);
    p++;
    while (p < end && is_ows(*p))
        p++;
    if (!http_all_field_chars(p, (size_t)(end - p)))
        return -400;
    while (end > p && is_ows(end[-1]))
        end--;
    h->value = p;
    h->value_len = (size_t)(end - p);
    return 0;
}

/* Next non-empty element of a comma list, OWS trimmed; 0 when none left. */
static int list_next(const char **cur, const char *end, const char **tok,
                     size_t *toklen)
{
    const char *p = *cur;
    while (p < end && (is_ows(*p) || *p == ','))
        p++;
    if (p == end)
        return 0;
    const char *s = p;
    while (p < end && *p != ',')
        p++;
    const char *e = p;
    while (e > s && is_ows(e[-1]))
        e--;
    *cur = p;
    *tok = s;
    *toklen = (size_t)(e - s);
    return 1;
}

/* What the framing and connection fields said, before it is judged. */
typedef struct head_facts {
    int cl_seen;
    int te_seen;
    int te_codings;     /* all transfer codings, in order, over all lines */
    int te_chunked;     /* how many of them were chunked */
    int te_last_chunked;
    int hosts;
    int conn_close;
    int conn_keep_alive;
    int conn_upgrade;
    int upgrade_ws;
    int expect_continue;
} head_facts_t;

/* 1*DIGIT that fits int64_t; equal duplicates are allowed (RFC 9110 §8.6). */
static int apply_content_length(http_request_t *req, head_facts_t *f,
                                const char *v, size_t len)
{
    int64_t n = 0;
    if (len == 0)
        return -400;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -400;
        if (n > (INT64_MAX - (v[i] - '0')) / 10)
            return -400;
        n = n * 10 + (v[i] - '0');
    }
    if (f->cl_seen && n != req->content_length)
        return -400;
    f->cl_seen = 1;
    req->content_length = n;
    return 0;
}

/* Does the comma list in h's value hold token (any case)? */
static int list_has(const http_header_t *h, const char *token)
{
    const char *cur = h->value, *end = h->value + h->value_len, *t;
    size_t tl;
    while (list_next(&cur, end, &t, &tl)) {
        if (slice_eq(t, tl, token))
            return 1;
    }
    return 0;
}

/* Transfer codings accumulate over all Transfer-Encoding lines, in order. */
static void apply_te(head_facts_t *f, const http_header_t *h)
{
    const char *cur = h->value, *end = h->value + h->value_len, *t;
    size_t tl;
    f->te_seen = 1;
    while (list_next(&cur, end, &t, &tl)) {
        int ch = slice_eq(t, tl, "chunked");
        f->te_codings++;
        f->te_chunked += ch;
        f->te_last_chunked = ch;
    }
}

static int apply_field(http_request_t *req, head_facts_t *f,
                       const http_header_t *h)
{
    const char *n = h->name;
    size_t nl = h->name_len;
    if (slice_eq(n, nl, "content-length"))
        return apply_content_length(req, f, h->value, h->value_len);
    if (slice_eq(n, nl, "transfer-encoding")) {
        apply_te(f, h);
    } else if (slice_eq(n, nl, "connection")) {
        f->conn_close |= list_has(h, "close");
        f->conn_keep_alive |= list_has(h, "keep-alive");
        f->conn_upgrade |= list_has(h, "upgrade");
    } else if (slice_eq(n, nl, "upgrade")) {
        f->upgrade_ws |= list_has(h, "websocket");
    } else if (slice_eq(n, nl, "expect")) {
        f->expect_continue |= slice_eq(h->value, h->value_len, "100-continue");
    } else if (slice_eq(n, nl, "host")) {
        if (++f->hosts == 1 && req->host == NULL) {
            req->host = h->value;
            req->host_len = h->value_len;
        }
    }
    return 0;
}

/*
 * RFC 9112 §6.1, §6.3: TE with CL, TE on HTTP/1.0, chunked twice or not
 * last are 400 (ambiguous framing); chunked after other codings is 501.
 */
static int judge_framing(http_request_t *req, const head_facts_t *f)
{
    if (f->hosts > 1 || (req->version == 1 && f->hosts == 0))
        return -400;
    if (!f->te_seen)
        return 0;
    if (f->cl_seen || req->version == 0)
        return -400;
    if (f->te_chunked != 1 || !f->te_last_chunked)
        return -400;
    if (f->te_codings != 1)
        return -501;
    req->chunked = 1;
    return 0;
}

static int judge(http_request_t *req, const head_facts_t *f)
{
    int rc = judge_framing(req, f);
    if (rc < 0)
        return rc;
    if (req->version == 1) {
        req->keep_alive = !f->conn_close;
        req->expect_continue = f->expect_continue;
        req->upgrade_websocket = f->upgrade_ws && f->conn_upgrade;
    } else {
        req->keep_alive = f->conn_keep_alive && !f->conn_close;
    }
    return 0;
}

/*
 * The line at p ends at the first CRLF before end: its content is
 * [p, *eol). Bare LFs were refused by find_head_end; checked again here so
 * nothing rests on scan state alone.
 */
static int next_line(const char *p, const char *end, const char **eol)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (lf == NULL || lf == p || lf[-1] != '\r')
        return -400;
    *eol = lf - 1;
    return 0;
}

/* Fields from p to end (just past the last field's CRLF). */
static int parse_fields(http_request_t *req, const char *p, const char *end,
                        size_t max_headers)
{
    head_facts_t f = {0};
    const char *eol;
    while (p < end) {
        if (next_line(p, end, &eol) < 0)
            return -400;
        if (req->nheaders == max_headers)
            return -431;
        http_header_t *h = &req->headers[req->nheaders];
        int rc = parse_field(h, p, eol);
        if (rc < 0)
            return rc;
        req->nheaders++;
        rc = apply_field(req, &f, h);
        if (rc < 0)
            return rc;
        p = eol + 2;
    }
    return judge(req, &f);
}

/* The head is buf[lead..end): CRLF lines, then the blank line. */
static int parse_complete(http_request_t *req, const char *buf, size_t lead,
                          size_t end, const http_limits_t *lim)
{
    const char *p = buf + lead, *stop = buf + end - 2, *eol;
    if (next_line(p, stop, &eol) < 0)
        return -400;
    int rc = parse_request_line(req, p, eol, lim->max_uri);
    if (rc < 0)
        return rc;
    return parse_fields(req, eol + 2, stop, lim->max_headers);
}

int http_parse_head(const char *buf, size_t len, const http_limits_t *limits,
                    http_request_t *req)
{
    http_limits_t lim;
    resolve_limits(limits, &lim);
    ssize_t end = find_head_end(req, buf, len, lim.max_head);
    if (end == 0)
        return 0;
    size_t lead = req->scan_lead;
    http_request_init(req);
    if (end < 0)
        return (int)end;
    int rc = parse_complete(req, buf, lead, (size_t)end, &lim);
    return rc < 0 ? rc : (int)end;
}

void http_request_rebase(http_request_t *req, const char *from,
                         const char *to)
{
    const char **slices[] = {&req->method, &req->target, &req->path,
                             &req->query, &req->host};
    for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
        const char *p = *slices[i];
        if (p != NULL && p != root_path)
            *slices[i] = to + (p - from);
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        req->headers[i].name = to + (req->headers[i].name - from);
        req->headers[i].value = to + (req->headers[i].value - from);
    }
}

const char *http_header_get(const http_request_t *req, const char *name,
                            size_t *len)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len == nl && strncasecmp(h->name, name, nl) == 0) {
            if (len != NULL)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}
