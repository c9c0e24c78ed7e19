/* http_wire.h: an HTTP request as the reactor sends it to a worker
 * (HTTP_MSG_REQUEST, WS_MSG_OPEN): encoded from the parsed head, decoded
 * and checked byte by byte before the worker builds a single pointer. */
#ifndef SWX_HTTP_WIRE_H
#define SWX_HTTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "protocol/http_parser.h"
#include "swx_plugin.h"

/*
 * Layout: http_wire_hdr_t, then the method, path and query, then for each
 * header its name and value, then the body; every string and the body is
 * followed by a NUL, so the worker hands out C strings without copying.
 */
typedef struct http_wire_hdr {
    uint32_t method_len;
    uint32_t path_len;
    uint32_t query_len;
    uint32_t nheaders;
    uint64_t body_len;
    uint8_t version;      /* minor: 0 or 1 */
    uint8_t keep_alive;
    uint8_t has_query;
    uint8_t reserved;
    int32_t peer_port;
    char peer_addr[48];   /* NUL-terminated */
    int32_t proxy_port;
    char proxy_addr[48];  /* NUL-terminated, "" when no proxy named it */
    uint32_t stream;      /* HTTP/2: the stream the response answers; 0 for
                             HTTP/1.x (http_wire_set_stream) */
    uint32_t reserved2;
} http_wire_hdr_t;

/* Who sent the request: the client, and the proxy that named it (NULL
 * when the client is the socket's own peer). */
typedef struct http_wire_peer {
    const char *addr;
    int port;
    const char *proxy_addr;
    int proxy_port;
} http_wire_peer_t;

/* Each header: name_len, value_len, then the two strings. */
typedef struct http_wire_field {
    uint32_t name_len;
    uint32_t value_len;
} http_wire_field_t;

/* Append the encoding of req (its slices), body and peer to out (reset
 * first). 0 or -ENOMEM. */
int http_wire_encode(buf_t *out, const http_request_t *req, const char *body,
                     size_t body_len, const http_wire_peer_t *peer);

/* Mark an encoded request (out, from http_wire_encode) as HTTP/2 stream
 * id's: the worker answers it with HTTP_MSG_STREAM messages. */
void http_wire_set_stream(buf_t *out, uint32_t id);
/* The stream id of an encoded request (0: HTTP/1.x, or too short). */
uint32_t http_wire_stream(const char *data, size_t len);

/*
 * Fill *req from data[0..len): its pointers point into data, headers into
 * headers[0..max_headers). 0, or -EBADMSG when a length runs past the
 * message, a NUL is missing, a count is over max_headers or bytes are left
 * over: nothing of such a message may be used.
 */
int http_wire_decode(const char *data, size_t len, swx_http_request_t *req,
                     swx_http_header_t *headers, size_t max_headers);

/* The body of an HTTP_MSG_END (http_msg.h), told apart. */
typedef struct http_wire_end {
    uint8_t flags;         /* HTTP_MSG_END_* */
    const char *trailers;  /* "Name: value\r\n" lines, or NULL */
    size_t trailers_len;
    const char *data;      /* the response's last bytes */
    size_t len;
} http_wire_end_t;

/* One trailer field, pointing into the lines (not NUL-terminated). */
typedef struct http_wire_trailer {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} http_wire_trailer_t;

/* Fill *end from an HTTP_MSG_END's data[0..len). 0, or -EBADMSG when it
 * is empty, the trailers' length runs past it, flags unknown are set, or
 * a trailer line is not "token: value CRLF" with a value free of CR, LF
 * and NUL: nothing of such a message may be used. */
int http_wire_end_decode(const char *data, size_t len, http_wire_end_t *end);

/* The next field of trailer lines [*p, end) (as http_wire_end_decode
 * checked them) into *t, moving *p past it. 1, or 0 after the last. */
int http_wire_trailer_next(const char **p, const char *end,
                           http_wire_trailer_t *t);

#endif
