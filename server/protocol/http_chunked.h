/* http_chunked.h: an incremental decoder for HTTP/1.1 chunked request
 * bodies (RFC 9112 §7.1), fed any split of the bytes, in place if wanted. */
#ifndef SWX_HTTP_CHUNKED_H
#define SWX_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Everything the decoder needs between calls; no allocation. */
typedef struct http_chunked {
    int state;
    int error;          /* sticky once set */
    int digits;         /* hex digits of the current chunk-size */
    uint64_t size;      /* chunk-size being read, then bytes left of it */
    uint64_t total;     /* body bytes decoded */
    uint64_t max_body;
    size_t meta;        /* chunk-extension and trailer bytes seen */
    size_t max_meta;
} http_chunked_t;

/* max_body: decoded body limit; max_meta: extension + trailer bytes limit. */
void http_chunked_init(http_chunked_t *c, uint64_t max_body, size_t max_meta);

/*
 * Decode in[0..len) and write the body bytes to out, which must have room
 * for len bytes and may be the same buffer at or before in (writes never
 * overtake reads, so in-place decoding is fine). *used is the input
 * consumed, *out_len the body bytes written. Returns 1 when the last chunk
 * and the trailer section are complete (*used stops right after them: a
 * pipelined request follows), 0 when all input was consumed and more is
 * needed, or -400 malformed, -413 body over max_body, -431 chunk extensions
 * plus trailers over max_meta. Errors are sticky.
 */
int http_chunked_decode(http_chunked_t *c, const char *in, size_t len,
                        char *out, size_t *used, size_t *out_len);

#endif
