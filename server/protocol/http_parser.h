/* http_parser.h: a zero-copy HTTP/1.1 request head parser, strict about
 * message framing per RFC 9112 (bodies: Content-Length or http_chunked.h). */
#ifndef SWX_HTTP_PARSER_H
#define SWX_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 100
#define HTTP_DEFAULT_MAX_HEAD (8 * 1024)
#define HTTP_DEFAULT_MAX_URI (4 * 1024)

/* A field left 0 takes the default. */
typedef struct http_limits {
    size_t max_head;     /* leading CRLFs + request line + fields + CRLF,
                            at most INT_MAX */
    size_t max_uri;      /* request-target bytes */
    size_t max_headers;  /* field lines, at most HTTP_MAX_HEADERS */
} http_limits_t;

typedef enum http_method {
    HTTP_OTHER = 0,  /* any other token: the application decides */
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
    HTTP_TRACE,
    HTTP_CONNECT,
} http_method_t;

/* Slices into the caller's buffer; values have surrounding SP/HTAB cut. */
typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} http_header_t;

typedef struct http_request {
    const char *method;
    size_t method_len;
    http_method_t method_id;
    const char *target;      /* the request-target as sent */
    size_t target_len;
    const char *path;        /* raw, not percent-decoded; "*" for OPTIONS * */
    size_t path_len;
    const char *query;       /* after '?', NULL when there is no '?' */
    size_t query_len;
    const char *host;        /* absolute-form authority, else Host; may be NULL */
    size_t host_len;
    int version;             /* minor version: 0 or 1 */
    http_header_t headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    int64_t content_length;  /* -1 when absent */
    int chunked;             /* Transfer-Encoding: chunked */
    int keep_alive;
    int expect_continue;     /* Expect: 100-continue on HTTP/1.1 */
    int upgrade_websocket;   /* HTTP/1.1, Upgrade: websocket, Connection: upgrade */
    /* Parser state between calls that return 0; see http_parse_head. */
    size_t scan_line;
    size_t scan_lead;
} http_request_t;

/* Ready for the first http_parse_head on a connection. */
void http_request_init(http_request_t *req);

/*
 * Parse the request head at buf[0..len). Returns its length through the
 * blank line (leading CRLFs included) when complete, 0 when more bytes are
 * needed, or a negative status for the response before closing: -400
 * malformed or ambiguous framing, -414 request-target (or an unterminated
 * request line) too long, -431 head or field count over the limit, -501
 * transfer coding other than chunked, -505 HTTP version not 1.0/1.1.
 *
 * After a 0, call again with the same buffer front and more bytes: req
 * remembers how far it has looked, so a head arriving bytewise costs O(n).
 * Any non-zero return resets that state, so the next request on the
 * connection (pipelined at buf + result) can reuse req. limits may be NULL.
 */
int http_parse_head(const char *buf, size_t len, const http_limits_t *limits,
                    http_request_t *req);

/* The same bytes were copied from from to to (the head at least, from
 * the start of the buffer given to http_parse_head): aim req's slices at
 * the copy. from must still hold the parsed bytes. */
void http_request_rebase(http_request_t *req, const char *from,
                         const char *to);

/* The first field named name (any case), or NULL; *len gets its length. */
const char *http_header_get(const http_request_t *req, const char *name,
                            size_t *len);

#endif
