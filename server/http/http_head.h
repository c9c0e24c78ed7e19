/* http_head.h: the one writer of HTTP/1.1 response heads, for every
 * response the server sends (plugins', the reactor's errors and upgrades,
 * static files, the admin endpoint): status line, Server, Date, the
 * caller's fields, framing, Connection. */
#ifndef SWX_HTTP_HEAD_H
#define SWX_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* The longest head written: a plugin's 64 KiB of fields and ours. */
#define HTTP_HEAD_MAX (80 * 1024)

/* How the body is delimited. 1xx, 204 and 304 never get a framing
 * field, whatever is asked. */
typedef enum http_head_framing {
    HTTP_HEAD_UNFRAMED = 0, /* no field: no body, or one up to the close */
    HTTP_HEAD_LENGTH,       /* Content-Length: length */
    HTTP_HEAD_CHUNKED,      /* Transfer-Encoding: chunked */
} http_head_framing_t;

/* What becomes of the connection after the response (no field on an
 * interim 1xx). */
typedef enum http_head_conn {
    HTTP_HEAD_KEEP_ALIVE = 0, /* kept: "Connection: keep-alive" for an
                                 HTTP/1.0 client, nothing for HTTP/1.1 */
    HTTP_HEAD_CLOSE,          /* "Connection: close" */
    HTTP_HEAD_UPGRADE,        /* "Connection: Upgrade" (a 101) */
} http_head_conn_t;

/* Header lines the caller formatted, each "Name: value\r\n": one or
 * several. len 0 takes text as a C string; text NULL is nothing. */
typedef struct http_head_lines {
    const char *text;
    size_t len;
} http_head_lines_t;

typedef struct http_head {
    int status;                     /* 100 .. 599 */
    int http10;                     /* the request was HTTP/1.0 */
    http_head_framing_t framing;
    uint64_t length;                /* HTTP_HEAD_LENGTH's */
    http_head_conn_t conn;
    const http_head_lines_t *lines; /* the caller's fields, in order */
    size_t nlines;
    unsigned own_server : 1;        /* lines carry Server: ours left out */
    unsigned own_date : 1;          /* lines carry Date: ours left out */
} http_head_t;

/*
 * Append h's head to b: the status line (HTTP/1.1, the status and its
 * reason phrase), Server: swx, Date (the current second), the caller's
 * lines, the framing field, Connection, and the blank line. Nothing is allocated but b's growth, and only once. 0,
 * or with b unchanged: -EINVAL for a status outside 100..599, -E2BIG past
 * HTTP_HEAD_MAX bytes, -ENOMEM.
 */
int http_head_append(buf_t *b, const http_head_t *h);

/* now as an HTTP date (IMF-fixdate), formatted again only when the second
 * differs from the last call's in this thread; valid until the next call
 * in this thread. */
const char *http_head_date(time_t now);

#endif
