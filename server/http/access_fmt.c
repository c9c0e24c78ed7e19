/* access_fmt.c: access_log_format compiled into operations, the request's
 * values captured escaped, and a line rendered from both without a
 * malloc: the reactor formats straight into its log buffer. */
#include "http/access_fmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A format longer than this is refused (it is compiled once, but a line
 * is at least as long). */
#define ACCESS_FMT_MAX 4096
/* The most bytes one response-side value takes. */
#define ACCESS_VALUE_MAX 40

enum access_var {
    AV_LITERAL,
    /* request side, captured when the head is read */
    AV_REMOTE_ADDR, AV_REMOTE_PORT, AV_PROXY_ADDR, AV_REQUEST, AV_METHOD,
    AV_REQUEST_URI, AV_URI, AV_ARGS, AV_HOST, AV_PROTOCOL, AV_HEADER,
    /* response side, when the line is made */
    AV_REMOTE_USER, AV_STATUS, AV_BODY_BYTES, AV_BYTES, AV_REQUEST_LENGTH,
    AV_REQUEST_TIME, AV_REQUEST_TIME_US, AV_RESPONSE_TIME_US, AV_TIME_LOCAL,
    AV_TIME_ISO, AV_MSEC, AV_PID, AV_WORKER_ID, AV_CONNECTION,
    AV_CONNECTION_REQUESTS, AV_SSL_PROTOCOL,
};

static const struct {
    const char *name;
    uint8_t var;
} access_vars[] = {
    {"remote_addr", AV_REMOTE_ADDR},
    {"remote_port", AV_REMOTE_PORT},
    {"proxy_addr", AV_PROXY_ADDR},
    {"request", AV_REQUEST},
    {"request_method", AV_METHOD},
    {"request_uri", AV_REQUEST_URI},
    {"uri", AV_URI},
    {"path", AV_URI},
    {"args", AV_ARGS},
    {"query_string", AV_ARGS},
    {"host", AV_HOST},
    {"server_protocol", AV_PROTOCOL},
    {"remote_user", AV_REMOTE_USER},
    {"status", AV_STATUS},
    {"body_bytes_sent", AV_BODY_BYTES},
    {"bytes_sent", AV_BYTES},
    {"request_length", AV_REQUEST_LENGTH},
    {"request_time", AV_REQUEST_TIME},
    {"request_time_us", AV_REQUEST_TIME_US},
    {"response_time_us", AV_RESPONSE_TIME_US},
    {"time_local", AV_TIME_LOCAL},
    {"time_iso8601", AV_TIME_ISO},
    {"msec", AV_MSEC},
    {"pid", AV_PID},
    {"worker_id", AV_WORKER_ID},
    {"connection", AV_CONNECTION},
    {"connection_requests", AV_CONNECTION_REQUESTS},
    {"ssl_protocol", AV_SSL_PROTOCOL},
};

/* ---- compiling ---- */

static int access_is_name(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_';
}

static void access_add(access_fmt_t *f, int var, size_t off, size_t len)
{
    access_op_t *op = &f->ops[f->nops++];
    *op = (access_op_t){.var = (uint8_t)var, .off = (uint32_t)off,
                        .len = (uint32_t)len};
    op->request = var >= AV_REMOTE_ADDR && var <= AV_HEADER;
    if (op->request)
        op->slot = (uint16_t)f->nslots++;
    else
        f->fixed += var == AV_LITERAL ? len : ACCESS_VALUE_MAX;
}

/* Literal bytes src[0..len) into text at *used, as one operation. */
static void access_literal(access_fmt_t *f, const char *src, size_t len,
                           size_t *used)
{
    if (len == 0)
        return;
    memcpy(f->text + *used, src, len);
    access_add(f, AV_LITERAL, *used, len);
    *used += len;
}

/* $http_NAME: the field name, '_' as '-', stored with its NUL. */
static void access_header(access_fmt_t *f, const char *name, size_t len,
                          size_t *used)
{
    char *out = f->text + *used;
    for (size_t i = 0; i < len; i++)
        out[i] = name[i] == '_' ? '-' : name[i];
    out[len] = '\0';
    access_add(f, AV_HEADER, *used, len);
    *used += len + 1;
}

/* One variable name (without '$' or braces); 0, or -1 with err. */
static int access_variable(access_fmt_t *f, const char *name, size_t len,
                           size_t *used, char *err, size_t errlen)
{
    if (len > 5 && strncmp(name, "http_", 5) == 0) {
        access_header(f, name + 5, len - 5, used);
        return 0;
    }
    for (size_t i = 0; i < sizeof(access_vars) / sizeof(access_vars[0]);
         i++) {
        if (strlen(access_vars[i].name) == len &&
            memcmp(access_vars[i].name, name, len) == 0) {
            access_add(f, access_vars[i].var, 0, 0);
            return 0;
        }
    }
    snprintf(err, errlen, "unknown variable $%.*s", (int)(len > 64 ? 64 : len),
             name);
    return -1;
}

/* The variable at src[*i] ('$'): its name, braced or not. */
static int access_dollar(access_fmt_t *f, const char *src, size_t *i,
                         size_t *used, char *err, size_t errlen)
{
    size_t at = *i, start = at + 1, end;
    int braced = src[start] == '{';
    if (braced)
        start++;
    for (end = start; access_is_name(src[end]); end++)
        ;
    if (end == start || (braced && src[end] != '}')) {
        snprintf(err, errlen, "a variable name after the '$' at offset %zu "
                 "(a literal '$' cannot be written)", at);
        return -1;
    }
    *i = braced ? end + 1 : end;
    return access_variable(f, src + start, end - start, used, err, errlen);
}

int access_fmt_compile(access_fmt_t *f, const char *src, char *err,
                       size_t errlen)
{
    memset(f, 0, sizeof(*f));
    size_t n = strlen(src), used = 0, lit = 0;
    if (n == 0 || n > ACCESS_FMT_MAX) {
        snprintf(err, errlen, "a format of 1 to %d bytes", ACCESS_FMT_MAX);
        return -1;
    }
    f->ops = calloc(n, sizeof(*f->ops));
    f->text = malloc(2 * n + 1);
    if (f->ops == NULL || f->text == NULL) {
        snprintf(err, errlen, "out of memory");
        access_fmt_free(f);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        if (src[i] != '$') {
            i++;
            continue;
        }
        access_literal(f, src + lit, i - lit, &used);
        if (access_dollar(f, src, &i, &used, err, errlen) < 0) {
            access_fmt_free(f);
            return -1;
        }
        lit = i;
    }
    access_literal(f, src + lit, n - lit, &used);
    return 0;
}

void access_fmt_free(access_fmt_t *f)
{
    free(f->ops);
    free(f->text);
    memset(f, 0, sizeof(*f));
}

/* ---- the request's values ---- */

/* src escaped as nginx's default escape: ", \ and bytes outside
 * 0x20..0x7e as \xHH. 0 or -ENOMEM. */
static int access_put_escaped(buf_t *b, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = buf_room(b, 4 * len);
    if (out == NULL)
        return len == 0 ? 0 : -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        } else {
            out[n++] = (char)ch;
        }
    }
    b->len += n;
    return 0;
}

static int access_put_str(buf_t *b, const char *s)
{
    return s == NULL ? buf_append(b, "-", 1)
                     : access_put_escaped(b, s, strlen(s));
}

/* Every field named name (lower case), joined by ", "; "-" when none. */
static int access_put_header(buf_t *b, const http_request_t *req,
                             const char *name, size_t len)
{
    int found = 0, rc = 0;
    for (size_t i = 0; req != NULL && i < req->nheaders && rc == 0; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len != len || strncasecmp(h->name, name, len) != 0)
            continue;
        if (found++)
            rc = buf_append(b, ", ", 2);
        if (rc == 0)
            rc = access_put_escaped(b, h->value, h->value_len);
    }
    return rc == 0 && !found ? buf_append(b, "-", 1) : rc;
}

/* version 2 is HTTP/2's (protocol/http2_conn.c), as nginx names it. */
static int access_put_protocol(buf_t *b, const http_request_t *req)
{
    return buf_append(b, req->version == 2   ? "HTTP/2.0"
                         : req->version == 1 ? "HTTP/1.1"
                                             : "HTTP/1.0", 8);
}

static int access_put_request_line(buf_t *b, const http_request_t *req)
{
    int rc = access_put_escaped(b, req->method, req->method_len);
    if (rc == 0)
        rc = buf_append(b, " ", 1);
    if (rc == 0)
        rc = access_put_escaped(b, req->target, req->target_len);
    if (rc == 0)
        rc = buf_append(b, " ", 1) == 0 ? access_put_protocol(b, req) : -1;
    return rc;
}

static int access_put_request(buf_t *b, const access_op_t *op,
                              const access_fmt_t *f,
                              const http_request_t *req)
{
    if (req == NULL)
        return buf_append(b, "-", 1);
    switch (op->var) {
    case AV_REQUEST:
        return access_put_request_line(b, req);
    case AV_METHOD:
        return access_put_escaped(b, req->method, req->method_len);
    case AV_REQUEST_URI:
        return access_put_escaped(b, req->target, req->target_len);
    case AV_URI:
        return access_put_escaped(b, req->path, req->path_len);
    case AV_ARGS:
        return access_put_escaped(b, req->query, req->query_len);
    case AV_HOST:
        return req->host != NULL
                   ? access_put_escaped(b, req->host, req->host_len)
                   : buf_append(b, "-", 1);
    case AV_PROTOCOL:
        return access_put_protocol(b, req);
    default:
        return access_put_header(b, req, f->text + op->off, op->len);
    }
}

static int access_put_value(buf_t *b, const access_op_t *op,
                            const access_fmt_t *f, const access_req_t *r)
{
    char port[16];
    switch (op->var) {
    case AV_REMOTE_ADDR:
        return access_put_str(b, r->remote_addr);
    case AV_REMOTE_PORT:
        if (r->remote_port <= 0)
            return buf_append(b, "-", 1);
        snprintf(port, sizeof(port), "%d", r->remote_port);
        return buf_append(b, port, strlen(port));
    case AV_PROXY_ADDR:
        return access_put_str(b, r->proxy_addr);
    default:
        return access_put_request(b, op, f, r->req);
    }
}

int access_fmt_capture(const access_fmt_t *f, const access_req_t *r,
                       buf_t *cap)
{
    size_t head = (size_t)f->nslots * sizeof(uint32_t);
    buf_reset(cap);
    if (f->nslots == 0)
        return 0;
    if (buf_room(cap, head) == NULL)
        return -ENOMEM;
    cap->len = head;
    for (int i = 0; i < f->nops; i++) {
        const access_op_t *op = &f->ops[i];
        if (!op->request)
            continue;
        if (access_put_value(cap, op, f, r) < 0) {
            buf_reset(cap);
            return -ENOMEM;
        }
        uint32_t end = (uint32_t)(cap->len - head);
        memcpy(cap->data + op->slot * sizeof(uint32_t), &end, sizeof(end));
    }
    return 0;
}

size_t access_fmt_bound(const access_fmt_t *f, const buf_t *cap)
{
    size_t n = f->fixed + 1 + (size_t)f->nslots; /* "-" per value, or: */
    if (buf_pending(cap) > 0)
        n += buf_pending(cap);
    return n < ACCESS_LINE_MAX ? n : ACCESS_LINE_MAX;
}

/* ---- rendering ---- */

typedef struct access_out {
    char *p;
    size_t n;
    size_t room; /* bytes before the newline's place */
} access_out_t;

static void out_put(access_out_t *o, const char *s, size_t len)
{
    if (len > o->room - o->n)
        len = o->room - o->n;
    memcpy(o->p + o->n, s, len);
    o->n += len;
}

/* Decimal digits of v, without snprintf: this runs once per value. */
static void out_u64(access_out_t *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    out_put(o, tmp + i, sizeof(tmp) - i);
}

static void out_i64(access_out_t *o, int64_t v)
{
    if (v < 0) {
        out_put(o, "-", 1);
        v = -v;
    }
    out_u64(o, (uint64_t)v);
}

/* v thousandths as "S.mmm" (nginx's $request_time, $msec). */
static void out_millis(access_out_t *o, int64_t v)
{
    char frac[4];
    if (v < 0)
        v = 0;
    out_u64(o, (uint64_t)(v / 1000));
    frac[0] = '.';
    frac[1] = (char)('0' + v / 100 % 10);
    frac[2] = (char)('0' + v / 10 % 10);
    frac[3] = (char)('0' + v % 10);
    out_put(o, frac, 4);
}

static void out_str(access_out_t *o, const char *s)
{
    out_put(o, s, strlen(s));
}

/* Request-side value slot from cap, "-" when nothing was captured. */
static void out_slot(access_out_t *o, const access_fmt_t *f, const buf_t *cap,
                     int slot)
{
    size_t head = (size_t)f->nslots * sizeof(uint32_t);
    if (buf_pending(cap) < head) {
        out_put(o, "-", 1);
        return;
    }
    const char *base = buf_head(cap);
    uint32_t start = 0, end;
    if (slot > 0)
        memcpy(&start, base + (slot - 1) * sizeof(uint32_t), sizeof(start));
    memcpy(&end, base + slot * sizeof(uint32_t), sizeof(end));
    out_put(o, base + head + start, end - start);
}

static void out_response(access_out_t *o, int var, const access_resp_t *r)
{
    switch (var) {
    case AV_STATUS: out_i64(o, r->status); break;
    case AV_BODY_BYTES: out_u64(o, r->body_bytes_sent); break;
    case AV_BYTES: out_u64(o, r->bytes_sent); break;
    case AV_REQUEST_LENGTH: out_u64(o, r->request_length); break;
    case AV_REQUEST_TIME: out_millis(o, r->request_us / 1000); break;
    case AV_REQUEST_TIME_US: out_i64(o, r->request_us); break;
    case AV_RESPONSE_TIME_US: out_i64(o, r->response_us); break;
    case AV_TIME_LOCAL: out_str(o, r->clock->local); break;
    case AV_TIME_ISO: out_str(o, r->clock->iso); break;
    case AV_MSEC: out_millis(o, r->msec); break;
    case AV_PID: out_i64(o, r->pid); break;
    case AV_CONNECTION: out_u64(o, r->connection); break;
    case AV_CONNECTION_REQUESTS: out_u64(o, r->connection_requests); break;
    case AV_WORKER_ID:
        if (r->worker_id < 0)
            out_put(o, "-", 1);
        else
            out_i64(o, r->worker_id);
        break;
    case AV_SSL_PROTOCOL: /* TLS will fill it in */
        out_str(o, r->ssl_protocol != NULL ? r->ssl_protocol : "-");
        break;
    default: /* $remote_user: no authentication in the server */
        out_put(o, "-", 1);
    }
}

size_t access_fmt_render(const access_fmt_t *f, const buf_t *cap,
                         const access_resp_t *r, char *out, size_t size)
{
    access_out_t o = {out, 0, size - 1};
    for (int i = 0; i < f->nops && o.n < o.room; i++) {
        const access_op_t *op = &f->ops[i];
        if (op->var == AV_LITERAL)
            out_put(&o, f->text + op->off, op->len);
        else if (op->request)
            out_slot(&o, f, cap, op->slot);
        else
            out_response(&o, op->var, r);
    }
    out[o.n++] = '\n';
    return o.n;
}

/* ---- the clock ---- */

void access_clock_set(access_clock_t *clock, time_t sec)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May",
                                       "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"};
    struct tm tm;
    localtime_r(&sec, &tm);
    int off = (int)(tm.tm_gmtoff / 60) % (24 * 60);
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    clock->sec = sec;
    snprintf(clock->local, sizeof(clock->local),
             "%02d/%s/%04d:%02d:%02d:%02d %c%02d%02d", tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec, sign, off / 60, off % 60);
    snprintf(clock->iso, sizeof(clock->iso),
             "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
             off / 60, off % 60);
}
