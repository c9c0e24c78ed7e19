/* http_wire.c: the request a reactor sends a worker, encoded and checked. */
#include "http/http_wire.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "http/http_msg.h"
#include "protocol/http_chars.h"

/* data and its NUL at p; the byte after them. */
static char *wire_put(char *p, const void *data, size_t len)
{
    if (len > 0)
        memcpy(p, data, len);
    p[len] = '\0';
    return p + len + 1;
}

/* The bytes the fields take on the wire. */
static size_t wire_fields_size(const http_request_t *req)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++)
        n += sizeof(http_wire_field_t) + req->headers[i].name_len +
             req->headers[i].value_len + 2;
    return n;
}

static char *wire_put_fields(char *p, const http_request_t *req)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        http_wire_field_t f = {(uint32_t)h->name_len, (uint32_t)h->value_len};
        memcpy(p, &f, sizeof(f));
        p = wire_put(p + sizeof(f), h->name, h->name_len);
        p = wire_put(p, h->value, h->value_len);
    }
    return p;
}

/* src into dst (size bytes), cut short and NUL-terminated. */
static void wire_copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int http_wire_encode(buf_t *out, const http_request_t *req, const char *body,
                     size_t body_len, const http_wire_peer_t *peer)
{
    http_wire_hdr_t h = {
        .method_len = (uint32_t)req->method_len,
        .path_len = (uint32_t)req->path_len,
        .query_len = (uint32_t)req->query_len,
        .nheaders = (uint32_t)req->nheaders,
        .body_len = body_len,
        .version = (uint8_t)req->version,
        .keep_alive = (uint8_t)req->keep_alive,
        .has_query = req->query != NULL,
        .peer_port = peer->port,
        .proxy_port = peer->proxy_addr != NULL ? peer->proxy_port : 0,
    };
    wire_copy_str(h.peer_addr, sizeof(h.peer_addr), peer->addr);
    if (peer->proxy_addr != NULL)
        wire_copy_str(h.proxy_addr, sizeof(h.proxy_addr), peer->proxy_addr);
    /* Sized first and written in one piece: a request of a few fields
     * took some thirty appends. */
    size_t total = sizeof(h) + req->method_len + req->path_len +
                   req->query_len + wire_fields_size(req) + body_len + 4;
    buf_reset(out);
    char *start = buf_room(out, total);
    if (start == NULL)
        return -ENOMEM;
    memcpy(start, &h, sizeof(h));
    char *p = wire_put(start + sizeof(h), req->method, req->method_len);
    p = wire_put(p, req->path, req->path_len);
    p = wire_put(p, req->query, req->query_len);
    p = wire_put_fields(p, req);
    p = wire_put(p, body, body_len);
    out->len += (size_t)(p - start);
    return 0;
}

void http_wire_set_stream(buf_t *out, uint32_t id)
{
    if (buf_pending(out) >= sizeof(http_wire_hdr_t))
        memcpy(buf_head(out) + offsetof(http_wire_hdr_t, stream), &id,
               sizeof(id));
}

uint32_t http_wire_stream(const char *data, size_t len)
{
    uint32_t id = 0;
    if (len >= sizeof(http_wire_hdr_t))
        memcpy(&id, data + offsetof(http_wire_hdr_t, stream), sizeof(id));
    return id;
}

/* A reader over the message that never moves past its end. */
typedef struct wire_rd {
    const char *p;
    size_t left;
} wire_rd_t;

/* A string of len bytes and its NUL; NULL when it does not fit. */
static const char *wire_str(wire_rd_t *rd, uint64_t len)
{
    if (len >= rd->left || rd->p[len] != '\0')
        return NULL;
    const char *s = rd->p;
    rd->p += len + 1;
    rd->left -= (size_t)len + 1;
    return s;
}

static int wire_fields(wire_rd_t *rd, swx_http_header_t *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        http_wire_field_t f;
        if (rd->left < sizeof(f))
            return -EBADMSG;
        memcpy(&f, rd->p, sizeof(f));
        rd->p += sizeof(f);
        rd->left -= sizeof(f);
        headers[i].name = wire_str(rd, f.name_len);
        headers[i].value = wire_str(rd, f.value_len);
        if (headers[i].name == NULL || headers[i].value == NULL)
            return -EBADMSG;
        headers[i].name_len = f.name_len;
        headers[i].value_len = f.value_len;
    }
    return 0;
}

static int wire_head(const http_wire_hdr_t *h, swx_http_request_t *req,
                     size_t max_headers)
{
    if (h->nheaders > max_headers || h->version > 1 || h->keep_alive > 1 ||
        h->has_query > 1 ||
        memchr(h->peer_addr, '\0', sizeof(req->peer_addr)) == NULL ||
        memchr(h->proxy_addr, '\0', sizeof(req->proxy_addr)) == NULL)
        return -EBADMSG;
    req->version = h->version;
    req->keep_alive = h->keep_alive;
    req->peer_port = h->peer_port;
    memcpy(req->peer_addr, h->peer_addr, sizeof(req->peer_addr));
    req->proxy_port = h->proxy_port;
    memcpy(req->proxy_addr, h->proxy_addr, sizeof(req->proxy_addr));
    return 0;
}

int http_wire_decode(const char *data, size_t len, swx_http_request_t *req,
                     swx_http_header_t *headers, size_t max_headers)
{
    http_wire_hdr_t h;
    if (len < sizeof(h))
        return -EBADMSG;
    memcpy(&h, data, sizeof(h));
    memset(req, 0, sizeof(*req));
    if (wire_head(&h, req, max_headers) < 0)
        return -EBADMSG;
    wire_rd_t rd = {data + sizeof(h), len - sizeof(h)};
    req->method = wire_str(&rd, h.method_len);
    req->path = wire_str(&rd, h.path_len);
    req->query = wire_str(&rd, h.query_len);
    if (req->method == NULL || req->path == NULL || req->query == NULL ||
        wire_fields(&rd, headers, h.nheaders) < 0)
        return -EBADMSG;
    req->body = wire_str(&rd, h.body_len);
    if (req->body == NULL || rd.left != 0)
        return -EBADMSG;
    req->method_len = h.method_len;
    req->path_len = h.path_len;
    req->query_len = h.query_len;
    if (!h.has_query)
        req->query = NULL;
    req->headers = headers;
    req->nheaders = h.nheaders;
    req->body_len = (size_t)h.body_len;
    return 0;
}

/* ---- HTTP_MSG_END: the flags, the trailers, the last bytes ---- */

/* The length of the trailer line at p ("token: value\r\n", at most n
 * bytes), or 0 when there is none such. */
static size_t wire_trailer_line(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && http_is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i + 2 > n || p[i] != ':' || p[i + 1] != ' ')
        return 0;
    for (i += 2; i < n && p[i] != '\r'; i++)
        if (!http_is_field_char((unsigned char)p[i]))
            return 0;
    return i + 1 < n && p[i + 1] == '\n' ? i + 2 : 0;
}

static int wire_trailers_ok(const char *p, size_t n)
{
    while (n > 0) {
        size_t l = wire_trailer_line(p, n);
        if (l == 0)
            return 0;
        p += l;
        n -= l;
    }
    return 1;
}

int http_wire_end_decode(const char *data, size_t len, http_wire_end_t *end)
{
    memset(end, 0, sizeof(*end));
    if (len < 1 || ((uint8_t)data[0] &
                    ~(HTTP_MSG_END_CLOSE | HTTP_MSG_END_TRAILERS)) != 0)
        return -EBADMSG;
    end->flags = (uint8_t)data[0];
    size_t at = 1;
    if (end->flags & HTTP_MSG_END_TRAILERS) {
        uint32_t tl;
        if (len - at < sizeof(tl))
            return -EBADMSG;
        memcpy(&tl, data + at, sizeof(tl));
        at += sizeof(tl);
        if (tl > len - at || !wire_trailers_ok(data + at, tl))
            return -EBADMSG;
        end->trailers = data + at;
        end->trailers_len = tl;
        at += tl;
    }
    end->data = data + at;
    end->len = len - at;
    return 0;
}

int http_wire_trailer_next(const char **p, const char *end,
                           http_wire_trailer_t *t)
{
    size_t l = *p < end ? wire_trailer_line(*p, (size_t)(end - *p)) : 0;
    if (l == 0)
        return 0;
    const char *colon = memchr(*p, ':', l);
    t->name = *p;
    t->name_len = (size_t)(colon - *p);
    t->value = colon + 2;
    t->value_len = l - t->name_len - 4;
    *p += l;
    return 1;
}
