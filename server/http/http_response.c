/* http_response.c: the response a plugin fills in a worker: status and
 * headers, the head they become, and the body sent whole, as chunks, or as
 * a file the reactor sends with sendfile(2). */
#include "http/http_response.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "proc/child.h"
#include "proc/worker.h"
#include "core/log.h"
#include "http/mime.h"
#include "http/http_api.h"
#include "http/http_head.h"
#include "http/http_msg.h"
#include "http/http_trailer.h"
#include "protocol/http_chars.h"
#include "protocol/http_coding.h"

/* The header lines a plugin may add to one response. */
#define RESP_FIELDS_MAX (64 * 1024)
/* Room for a chunk's size line and CRLF. */
#define RESP_CHUNK_OVERHEAD 32
/* Slices of a response's last bytes, at most. */
#define RESP_END_IOV 3
/* Slices of an HTTP_MSG_END: the flags, the trailers' length and lines,
 * the last bytes. */
#define RESP_MSG_IOV (3 + RESP_END_IOV)

/* Ended responses kept for the next ones, with their buffers' memory,
 * so that a response costs no allocation. Responses are made and freed
 * by the process's main thread only (plugin callbacks). */
#define RESP_POOL_MAX 64
/* A buffer over this much is not kept. */
#define RESP_POOL_BUF_MAX 4096
static swx_http_response_t *resp_pool;
static int resp_pooled;

static swx_http_response_t *resp_alloc(void)
{
    swx_http_response_t *r = resp_pool;
    if (r == NULL)
        return calloc(1, sizeof(*r));
    resp_pool = r->next;
    resp_pooled--;
    buf_t fields = r->fields, head = r->head, trailers = r->trailers;
    memset(r, 0, sizeof(*r));
    r->fields = fields;
    r->head = head;
    r->trailers = trailers;
    buf_reset(&r->fields);
    buf_reset(&r->head);
    buf_reset(&r->trailers);
    return r;
}

swx_http_response_t *http_response_new(uint64_t session,
                                       const swx_http_request_t *req,
                                       const http_compression_t *z)
{
    swx_http_response_t *r = resp_alloc();
    if (r == NULL)
        return NULL;
    r->session = session;
    r->status = 200;
    r->length = -1;
    r->version = 1;
    r->close = req == NULL;
    if (req != NULL) {
        r->version = req->version;
        r->keep_alive = req->keep_alive ? 1 : 0;
        r->head_only = req->method_len == 4 &&
                       memcmp(req->method, "HEAD", 4) == 0;
    }
    size_t alen;
    const char *ae = req != NULL && z != NULL && z->level > 0
                         ? http_api_get_header(req, "accept-encoding", &alen)
                         : NULL;
    if (req != NULL && z != NULL && z->level > 0) {
        r->zlevel = (unsigned)z->level & 15u;
        r->zmin = z->min_length;
    }
    if (ae != NULL)
        r->codings = (unsigned)http_accept_coding(ae, alen) & 3u;
    return r;
}

void http_response_free(swx_http_response_t *r)
{
    buf_free(&r->fields);
    buf_free(&r->head);
    buf_free(&r->trailers);
    free(r);
}

void http_response_recycle(swx_http_response_t *r)
{
    if (resp_pooled < RESP_POOL_MAX && r->fields.cap <= RESP_POOL_BUF_MAX &&
        r->head.cap <= RESP_POOL_BUF_MAX &&
        r->trailers.cap <= RESP_POOL_BUF_MAX) {
        r->next = resp_pool;
        resp_pool = r;
        resp_pooled++;
        return;
    }
    http_response_free(r);
}

/* A message of r's to the reactor: as it is for HTTP/1.x, in an
 * HTTP_MSG_STREAM envelope naming r's stream for HTTP/2. */
static int resp_sendv_now(const swx_http_response_t *r, int type,
                          const struct iovec *iov, int n)
{
    if (r->stream == 0)
        return worker_sendv(r->session, type, iov, n);
    http_msg_stream_t env = {r->stream, (uint32_t)type};
    struct iovec msg[1 + RESP_MSG_IOV] = {{&env, sizeof(env)}};
    int k = 1;
    for (int i = 0; i < n && k < (int)(sizeof(msg) / sizeof(msg[0])); i++)
        msg[k++] = iov[i];
    return worker_sendv(r->session, HTTP_MSG_STREAM, msg, k);
}

/* A send may wait (send_yield), and r's connection may close meanwhile:
 * r stays allocated for the caller, who sees it gone afterwards. */
static int resp_sendv(const swx_http_response_t *r, int type,
                      const struct iovec *iov, int n)
{
    swx_http_response_t *w = (swx_http_response_t *)r;
    unsigned was = w->sending;
    w->sending = 1;
    int rc = resp_sendv_now(r, type, iov, n);
    w->sending = was;
    return rc;
}

static int resp_send(const swx_http_response_t *r, int type,
                     const void *data, size_t len)
{
    struct iovec iov = {(void *)data, len};
    return resp_sendv(r, type, &iov, 1);
}

static int resp_no_body(const swx_http_response_t *r)
{
    return r->status == 204 || r->status == 304;
}

/* The trailers go out: HTTP/2 frames them itself, HTTP/1.1 only after a
 * chunked body (RFC 9112 7.1.2); a response without a body has none. */
static int resp_trailers_go(const swx_http_response_t *r)
{
    return buf_pending(&r->trailers) > 0 && !r->head_only &&
           !resp_no_body(r) && (r->stream != 0 || r->chunked);
}

/* The end of a response: the reactor may read the next request. A byte
 * of flags, HTTP/2's trailers, then the response's last bytes (iov[0..n),
 * n <= RESP_END_IOV), which the reactor writes first: one message instead
 * of two. */
static int resp_finish(swx_http_response_t *r, int close,
                       const struct iovec *iov, int n)
{
    uint8_t flags = close || r->close ? HTTP_MSG_END_CLOSE : 0;
    uint32_t tlen = (uint32_t)buf_pending(&r->trailers);
    struct iovec msg[RESP_MSG_IOV] = {{&flags, 1}};
    int k = 1;
    if (r->stream != 0 && resp_trailers_go(r)) {
        flags |= HTTP_MSG_END_TRAILERS;
        msg[k++] = (struct iovec){&tlen, sizeof(tlen)};
        msg[k++] = (struct iovec){buf_head(&r->trailers), tlen};
    }
    for (int i = 0; i < n && k < RESP_MSG_IOV; i++)
        msg[k++] = iov[i];
    int rc = resp_sendv(r, HTTP_MSG_END, msg, k);
    r->ended = 1;
    http_api_retire(r);
    return rc;
}

/* 0 when r may be used; -EALREADY once it ended; -ENOTCONN (ending it)
 * when its connection has gone. */
static int resp_check(swx_http_response_t *r)
{
    if (r == NULL)
        return -EINVAL;
    if (r->ended)
        return -EALREADY;
    if (r->gone) {
        r->ended = 1;
        http_api_retire(r);
        return -ENOTCONN;
    }
    return 0;
}

/* How the body is framed: a Content-Length of body_len (>= 0), else
 * chunked (HTTP/1.1) or up to the close (HTTP/1.0). */
static http_head_framing_t resp_framing(swx_http_response_t *r,
                                        int64_t body_len)
{
    if (resp_no_body(r))
        return HTTP_HEAD_UNFRAMED;
    if (body_len >= 0)
        return HTTP_HEAD_LENGTH;
    if (r->stream != 0) /* HTTP/2 frames the body itself */
        return HTTP_HEAD_UNFRAMED;
    if (r->version == 0) {
        r->close = 1;
        return HTTP_HEAD_UNFRAMED;
    }
    r->chunked = 1;
    return HTTP_HEAD_CHUNKED;
}

/* The head (http_head.c), laid out in r->head: the plugin's fields, then
 * extra (lines, or NULL), then a Trailer header naming the trailers added
 * so far when they will go out. A Date or Server the plugin set replaces
 * ours. */
static int resp_head(swx_http_response_t *r, int64_t body_len,
                     const char *extra)
{
    /* A kept buffer holds memory when it is empty: a line of length 0
     * would be read as a C string. */
    size_t nf = buf_pending(&r->fields);
    buf_t announce = {0};
    http_head_lines_t lines[3] = {
        {nf > 0 ? buf_head(&r->fields) : NULL, nf},
        {extra, 0},
        {NULL, 0},
    };
    http_head_t h = {.status = r->status, .http10 = r->version == 0,
                     .lines = lines, .nlines = 3,
                     .own_server = r->has_server, .own_date = r->has_date};
    h.framing = resp_framing(r, body_len);
    if (resp_trailers_go(r)) {
        if (http_trailer_announce(buf_head(&r->trailers),
                                  buf_pending(&r->trailers), &announce) < 0) {
            buf_free(&announce);
            return -ENOMEM;
        }
        lines[2] = (http_head_lines_t){buf_head(&announce),
                                       buf_pending(&announce)};
    }
    h.length = body_len >= 0 ? (uint64_t)body_len : 0;
    if (child_winding_down())
        r->close = 1; /* the connection is not kept: the client is told */
    h.conn = r->close || !r->keep_alive ? HTTP_HEAD_CLOSE
                                        : HTTP_HEAD_KEEP_ALIVE;
    if (r->stream != 0) /* HTTP/2 has no connection fields */
        h.conn = HTTP_HEAD_KEEP_ALIVE;
    buf_reset(&r->head);
    int rc = http_head_append(&r->head, &h);
    buf_free(&announce);
    return rc;
}

/* Sends r->head, the head resp_head laid out there. */
static int resp_send_head_buf(swx_http_response_t *r)
{
    return resp_send(r, IPC_SEND, buf_head(&r->head), buf_pending(&r->head));
}

int http_response_status(swx_http_response_t *r, int status)
{
    int rc = resp_check(r);
    if (rc < 0)
        return rc;
    if (r->head_sent)
        return -EALREADY;
    if (status < 200 || status > 599)
        return -EINVAL;
    r->status = status;
    return 0;
}

static int resp_is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!http_is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A field name and value a plugin gave: their lengths, or -EINVAL. */
static int resp_field_ok(const char *name, const char *value, size_t *nlen,
                         size_t *vlen)
{
    if (name == NULL || value == NULL)
        return -EINVAL;
    *nlen = strlen(name);
    *vlen = strlen(value);
    if (!resp_is_token(name, *nlen) || !http_all_field_chars(value, *vlen))
        return -EINVAL;
    return 0;
}

/* Content-Length and Connection are the server's to write. */
static int resp_special(swx_http_response_t *r, const char *name,
                        const char *value)
{
    if (strcasecmp(name, "transfer-encoding") == 0)
        return -EINVAL;
    if (strcasecmp(name, "connection") == 0) {
        if (strcasecmp(value, "close") != 0)
            return -EINVAL;
        r->close = 1;
        return 0;
    }
    char *end;
    if (value[0] < '0' || value[0] > '9')
        return -EINVAL;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (*end != '\0' || errno != 0)
        return -EINVAL;
    r->length = n;
    return 0;
}

/* name is key (lower case, klen bytes), in any case. */
static int resp_name_is(const char *name, size_t len, const char *key,
                        size_t klen)
{
    return len == klen && strncasecmp(name, key, klen) == 0;
}

#define RESP_NAME_IS(name, len, key) \
    resp_name_is(name, len, key, sizeof(key) - 1)

/* "name: value\r\n" at the end of b. 0 or -ENOMEM. */
static int resp_add_line(buf_t *b, const char *name, size_t nlen,
                         const char *value, size_t vlen)
{
    char *at = buf_room(b, nlen + vlen + 4);
    if (at == NULL)
        return -ENOMEM;
    memcpy(at, name, nlen);
    memcpy(at + nlen, ": ", 2);
    memcpy(at + nlen + 2, value, vlen);
    memcpy(at + nlen + 2 + vlen, "\r\n", 2);
    b->len += nlen + vlen + 4;
    return 0;
}

int http_response_header(swx_http_response_t *r, const char *name,
                         const char *value)
{
    int rc = resp_check(r);
    if (rc < 0)
        return rc;
    if (r->head_sent)
        return -EALREADY;
    size_t nlen, vlen;
    if (resp_field_ok(name, value, &nlen, &vlen) < 0)
        return -EINVAL;
    if (RESP_NAME_IS(name, nlen, "transfer-encoding") ||
        RESP_NAME_IS(name, nlen, "connection") ||
        RESP_NAME_IS(name, nlen, "content-length"))
        return resp_special(r, name, value);
    if (buf_pending(&r->fields) + nlen + vlen + 4 > RESP_FIELDS_MAX)
        return -E2BIG;
    if (resp_add_line(&r->fields, name, nlen, value, vlen) < 0)
        return -ENOMEM;
    r->has_type |= RESP_NAME_IS(name, nlen, "content-type");
    r->has_date |= RESP_NAME_IS(name, nlen, "date");
    r->has_server |= RESP_NAME_IS(name, nlen, "server");
    r->has_coding |= RESP_NAME_IS(name, nlen, "content-encoding");
    return 0;
}

static int resp_send_head(swx_http_response_t *r)
{
    int rc = resp_head(r, r->length, NULL);
    if (rc < 0)
        return rc;
    r->head_sent = 1;
    return resp_send_head_buf(r);
}

/* Body bytes after the head: as they are, or as one chunk. */
static int resp_send_body(swx_http_response_t *r, const void *data,
                          size_t len)
{
    if (len == 0 || r->head_only || resp_no_body(r))
        return 0;
    r->sent += len;
    if (!r->chunked)
        return resp_send(r, IPC_SEND, data, len);
    char line[RESP_CHUNK_OVERHEAD];
    int n = snprintf(line, sizeof(line), "%zx\r\n", len);
    struct iovec chunk[3] = {
        {line, (size_t)n}, {(void *)data, len}, {(void *)"\r\n", 2}};
    return resp_sendv(r, IPC_SEND, chunk, 3);
}

int http_response_write(swx_http_response_t *r, const void *data, size_t len)
{
    int rc = resp_check(r);
    if (rc < 0)
        return rc;
    if (len + RESP_CHUNK_OVERHEAD > worker_output_max())
        return -E2BIG;
    if (r->length >= 0 && r->sent + len > (uint64_t)r->length)
        return -EINVAL;
    if (!r->head_sent && (rc = resp_send_head(r)) < 0)
        return rc;
    return resp_send_body(r, data, len);
}

/* Nothing streamed yet: head and body in one message. */
/* The value of a header line the plugin added, or NULL. */
static const char *resp_field(const swx_http_response_t *r, const char *name,
                              size_t *len)
{
    size_t nl = strlen(name);
    const char *p = buf_head(&r->fields);
    if (p == NULL)
        return NULL;
    const char *end = p + buf_pending(&r->fields);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > nl + 1 && p[nl] == ':' &&
            strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < eol && *v == ' ')
                v++;
            *len = (size_t)(eol - v) - (eol > v && eol[-1] == '\r');
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

/* http_compression of a whole body: replaces *data and *len by the
 * compressed bytes (kept in z) when the listener compresses, the plugin
 * left the body's encoding and length to the server, its type is worth
 * it, it is long enough, the client takes gzip or deflate, and the result
 * is smaller. The header lines to add, or NULL: Vary whenever the answer
 * depends on the client. They go into the head only, so that a response
 * refused here (-E2BIG) is left as the plugin made it. */
static const char *resp_compress(swx_http_response_t *r, const void **data,
                                 size_t *len, buf_t *z)
{
    size_t tl;
    const char *type = resp_field(r, "content-type", &tl);
    if (r->zlevel == 0 || r->has_coding || r->length >= 0 ||
        resp_no_body(r) || *len < r->zmin || *len == 0 || type == NULL ||
        !http_compressible_type(type, tl))
        return NULL;
    static const char vary[] = "Vary: Accept-Encoding\r\n";
    if (r->codings == 0)
        return vary;
    int gzip = (r->codings & HTTP_CODING_GZIP) != 0;
    if (http_compress(gzip ? HTTP_CODING_GZIP : HTTP_CODING_DEFLATE,
                      (int)r->zlevel, *data, *len, z) < 0 ||
        buf_pending(z) >= *len)
        return vary; /* sent as it is */
    *data = buf_head(z);
    *len = buf_pending(z);
    return gzip ? "Vary: Accept-Encoding\r\nContent-Encoding: gzip\r\n"
                : "Vary: Accept-Encoding\r\nContent-Encoding: deflate\r\n";
}

static int resp_end_whole(swx_http_response_t *r, const void *data,
                          size_t len)
{
    if (r->length >= 0 && (uint64_t)r->length != len && !r->head_only)
        return -EINVAL;
    buf_t z = {0};
    const char *extra = resp_compress(r, &data, &len, &z);
    int64_t announce = r->head_only && r->length >= 0 ? r->length
                                                      : (int64_t)len;
    size_t body = r->head_only || resp_no_body(r) ? 0 : len;
    int rc = resp_head(r, announce, extra);
    size_t trailers = r->stream != 0 ? buf_pending(&r->trailers) : 0;
    if (rc == 0 &&
        buf_pending(&r->head) + body + trailers > worker_output_max())
        rc = -E2BIG;
    if (rc == 0) {
        /* Head and body go out as they lie, in one message. */
        struct iovec iov[2] = {{buf_head(&r->head), buf_pending(&r->head)},
                               {(void *)data, body}};
        r->head_sent = 1;
        rc = resp_finish(r, 0, iov, 2);
    }
    buf_free(&z);
    return rc;
}

/* After swx_http_write: the last part, the last chunk, the end. */
static int resp_end_stream(swx_http_response_t *r, const void *data,
                           size_t len)
{
    int rc = len > 0 ? http_response_write(r, data, len) : 0;
    if (rc < 0 && rc != -EINVAL)
        return rc;
    int bad = rc == -EINVAL ||
              (r->length >= 0 && r->sent != (uint64_t)r->length &&
               !r->head_only);
    /* The last chunk, and the trailer section (RFC 9112 7.1.2). */
    struct iovec last[3] = {{(void *)"0\r\n\r\n", 5}};
    int n = r->chunked && !r->head_only && !resp_no_body(r) ? 1 : 0;
    if (n == 1 && resp_trailers_go(r)) {
        last[0].iov_len = 3;
        last[1] = (struct iovec){buf_head(&r->trailers),
                                 buf_pending(&r->trailers)};
        last[2] = (struct iovec){(void *)"\r\n", 2};
        n = 3;
    }
    rc = resp_finish(r, bad, last, n);
    return bad ? -EINVAL : rc;
}

int http_response_end(swx_http_response_t *r, const void *data, size_t len)
{
    int rc = resp_check(r);
    if (rc < 0)
        return rc;
    if (data == NULL && len > 0)
        return -EINVAL;
    return r->head_sent ? resp_end_stream(r, data, len)
                        : resp_end_whole(r, data, len);
}

/* Check the file as this worker sees it, and say which one it is. */
static int resp_file(const char *path, uint64_t off, uint64_t len,
                     http_msg_sendfile_t *sf, char real[PATH_MAX])
{
    struct stat st;
    if (path == NULL)
        return -EINVAL;
    if (realpath(path, real) == NULL)
        return -errno;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    uint64_t size = ok ? (uint64_t)st.st_size : 0;
    if (!ok || off > size)
        return -EINVAL;
    if (len == 0)
        len = size - off;
    if (len > size - off)
        return -EINVAL;
    *sf = (http_msg_sendfile_t){off, len, (uint64_t)st.st_dev,
                                (uint64_t)st.st_ino};
    return 0;
}

static int resp_send_file(swx_http_response_t *r,
                          const http_msg_sendfile_t *sf, const char *real)
{
    struct iovec iov[2] = {{(void *)sf, sizeof(*sf)},
                           {(void *)real, strlen(real) + 1}};
    return resp_sendv(r, HTTP_MSG_SENDFILE, iov, 2);
}

int http_response_sendfile(swx_http_response_t *r, const char *path,
                           uint64_t offset, uint64_t length)
{
    http_msg_sendfile_t sf;
    char real[PATH_MAX];
    int rc = resp_check(r);
    if (rc < 0)
        return rc;
    if (r->head_sent)
        return -EALREADY;
    if ((rc = resp_file(path, offset, length, &sf, real)) < 0)
        return rc;
    if (r->length >= 0 && (uint64_t)r->length != sf.length)
        return -EINVAL;
    if (!r->has_type &&
        (rc = http_response_header(r, "Content-Type", mime_type(real))) < 0)
        return rc;
    if ((rc = resp_head(r, (int64_t)sf.length, NULL)) < 0)
        return rc;
    r->head_sent = 1;
    if ((rc = resp_send_head_buf(r)) == 0 && !r->head_only &&
        !resp_no_body(r) && sf.length > 0)
        rc = resp_send_file(r, &sf, real);
    return rc < 0 ? rc : resp_finish(r, 0, NULL, 0);
}

/* Trailers are refused once the response has ended (RFC 9110 6.5.1 for
 * the names); they may be added while the body streams. */
int http_response_trailer(swx_http_response_t *r, const char *name,
                          const char *value)
{
    int rc = resp_check(r);
    if (rc < 0)
        return rc;
    size_t nlen, vlen;
    if (resp_field_ok(name, value, &nlen, &vlen) < 0)
        return -EINVAL;
    if (!http_trailer_allowed(name, nlen))
        return -EINVAL;
    size_t total = buf_pending(&r->trailers) + nlen + vlen + 4;
    if (total > RESP_FIELDS_MAX ||
        total + RESP_CHUNK_OVERHEAD > worker_output_max())
        return -E2BIG;
    return resp_add_line(&r->trailers, name, nlen, value, vlen);
}
