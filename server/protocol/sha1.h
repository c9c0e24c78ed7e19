/* sha1.h: SHA-1 (FIPS 180-4), for the WebSocket handshake; not for security. */
#ifndef SWX_SHA1_H
#define SWX_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20

typedef struct sha1_ctx {
    uint32_t h[5];
    uint64_t bytes;     /* message length so far */
    uint8_t block[64];
    size_t used;        /* bytes waiting in block */
} sha1_ctx_t;

void sha1_init(sha1_ctx_t *c);
void sha1_update(sha1_ctx_t *c, const void *data, size_t len);
/* Writes the digest; c must be re-initialised before reuse. */
void sha1_final(sha1_ctx_t *c, uint8_t out[SHA1_DIGEST_LEN]);
/* One-shot digest of data[0..len). */
void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LEN]);

#endif
