/* base64.h: RFC 4648 base64 (standard alphabet, padded), strict decoding. */
#ifndef SWX_BASE64_H
#define SWX_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Characters base64_encode writes for len bytes, without the NUL. */
static inline size_t base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

/* Encode in[0..len) into out (base64_encoded_len(len) + 1 bytes, NUL
 * terminated). Returns the characters written, NUL excluded. */
size_t base64_encode(const void *in, size_t len, char *out);

/*
 * Decode in[0..len) into out[0..cap). Strict: length a multiple of 4, '='
 * only as final padding, unused bits zero, no whitespace. Returns the byte
 * count, -EINVAL for malformed input or -ENOBUFS when cap is too small.
 */
ssize_t base64_decode(const char *in, size_t len, void *out, size_t cap);

#endif
