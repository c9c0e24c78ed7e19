/* base64.c: RFC 4648 base64 (standard alphabet, padded), strict decoding. */
#include "protocol/base64.h"

#include <errno.h>
#include <stdint.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const void *in, size_t len, char *out)
{
    const uint8_t *p = in;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* One quad into up to 3 bytes; pad is how many '=' end it (last quad only). */
static int decode_quad(const char *q, int pad, uint8_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int s = i < 4 - pad ? sextet(q[i]) : 0;
        if (s < 0)
            return -EINVAL;
        v = v << 6 | (uint32_t)s;
    }
    /* Canonical form: bits below the last whole byte must be zero. */
    if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
        return -EINVAL;
    out[0] = (uint8_t)(v >> 16);
    out[1] = (uint8_t)(v >> 8);
    out[2] = (uint8_t)v;
    return 3 - pad;
}

ssize_t base64_decode(const char *in, size_t len, void *out, size_t cap)
{
    uint8_t *o = out;
    size_t n = 0;
    if (len % 4 != 0)
        return -EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        int pad = 0;
        if (i + 4 == len)
            pad = in[i + 3] != '=' ? 0 : in[i + 2] != '=' ? 1 : 2;
        uint8_t b[3];
        int got = decode_quad(in + i, pad, b);
        if (got < 0)
            return got;
        if ((size_t)got > cap - n)
            return -ENOBUFS;
        for (int k = 0; k < got; k++)
            o[n++] = b[k];
    }
    return (ssize_t)n;
}
