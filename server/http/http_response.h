/* http_response.h: the response a plugin fills in a worker (shared by
 * http_response.c, which builds and sends it, and http_api.c, which keeps
 * the open ones per session). */
#ifndef SWX_HTTP_RESPONSE_H
#define SWX_HTTP_RESPONSE_H

#include <stdint.h>

#include "core/buf.h"
#include "swx_plugin.h"

struct swx_http_response {
    uint64_t session;
    uint32_t stream;         /* HTTP/2: the request's stream, else 0 */
    int status;
    int version;             /* the request's: 0 for HTTP/1.0 */
    int64_t length;          /* a Content-Length the plugin set, or -1 */
    uint64_t sent;           /* body bytes sent */
    buf_t fields;            /* header lines the plugin added */
    buf_t head;              /* the head as it goes out (kept with the
                                object in the pool, as fields is) */
    buf_t trailers;          /* trailer lines the plugin added (kept
                                in the pool too) */
    unsigned keep_alive : 1; /* the request allows another after it */
    unsigned head_only : 1;  /* HEAD: no body goes out */
    unsigned head_sent : 1;  /* streaming has begun */
    unsigned chunked : 1;    /* the body goes as chunks */
    unsigned close : 1;      /* close the connection after it */
    unsigned has_type : 1;   /* the plugin set Content-Type */
    unsigned has_date : 1;   /* the plugin set Date */
    unsigned has_server : 1; /* the plugin set Server */
    unsigned has_coding : 1; /* the plugin set Content-Encoding */
    unsigned codings : 2;    /* HTTP_CODING_* the client takes, 0 when
                                compression is off */
    unsigned zlevel : 4;     /* http_compression_level */
    size_t zmin;             /* http_compression_min_length */
    unsigned ended : 1;
    unsigned gone : 1;       /* the connection closed */
    unsigned sending : 1;    /* a send of it waits in a coroutine
                                (send_yield): IPC_CLOSE leaves it to
                                that send, which retires it */
    struct swx_http_response *next; /* retired: freed after the callback */
    struct swx_http_response *sibling; /* open: the session's next one
                                          (HTTP/2 streams) */
};

/* How a listener compresses whole responses: level 0 for not at all. */
typedef struct http_compression {
    int level;
    size_t min_length;
} http_compression_t;

/* A response to req (NULL: a request that could not be read; the
 * connection closes after it), compressed as z says (NULL: never). NULL
 * when out of memory. */
swx_http_response_t *http_response_new(uint64_t session,
                                       const swx_http_request_t *req,
                                       const http_compression_t *z);
void http_response_free(swx_http_response_t *r);
/* r has ended and nothing refers to it any more: kept for a next
 * response (its memory reused), or freed. */
void http_response_recycle(swx_http_response_t *r);

/* swx_http_status .. swx_http_sendfile, swx_http_trailer (see
 * swx_plugin.h). */
int http_response_status(swx_http_response_t *r, int status);
int http_response_header(swx_http_response_t *r, const char *name,
                         const char *value);
int http_response_write(swx_http_response_t *r, const void *data,
                        size_t len);
int http_response_end(swx_http_response_t *r, const void *data, size_t len);
int http_response_sendfile(swx_http_response_t *r, const char *path,
                           uint64_t offset, uint64_t length);
int http_response_trailer(swx_http_response_t *r, const char *name,
                          const char *value);

/* http_api.c: r has ended; free it once the current callback is over. */
void http_api_retire(swx_http_response_t *r);

#endif
