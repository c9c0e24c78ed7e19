/* http_coding.h: response compression (Swoole's http_compression): which
 * content codings a request accepts (Accept-Encoding, RFC 9110 §12.5.3),
 * which media types are worth compressing, and gzip/deflate with zlib. */
#ifndef SWX_HTTP_CODING_H
#define SWX_HTTP_CODING_H

#include <stddef.h>

#include "core/buf.h"

#define HTTP_CODING_GZIP 1
#define HTTP_CODING_DEFLATE 2

/* The codings of HTTP_CODING_* that an Accept-Encoding value accepts (a
 * q of 0 refuses; "*" stands for any not named). 0 for none. */
int http_accept_coding(const char *value, size_t len);

/* Is a response of this Content-Type worth compressing: text, JSON,
 * JavaScript, XML, SVG and the like (not images, audio, archives)? */
int http_compressible_type(const char *type, size_t len);

/* data compressed with coding (one HTTP_CODING_*) at level 1..9, appended
 * to out. 0, -ENOMEM, or -EIO from zlib. */
int http_compress(int coding, int level, const void *data, size_t len,
                  buf_t *out);

/* permessage-deflate (RFC 7692 §7.2.1): data as raw DEFLATE with a window
 * of window_bits (9..15), flushed, without the final 00 00 ff ff,
 * appended to out. 0, -ENOMEM or -EIO. */
int ws_deflate_message(int level, int window_bits, const void *data,
                       size_t len, buf_t *out);

/* The other way: a message's raw DEFLATE bytes (the 00 00 ff ff tail
 * added back) inflated into out, at most max bytes. 0, -E2BIG past max,
 * -EINVAL for data that is not DEFLATE, -ENOMEM. */
int ws_inflate_message(const void *data, size_t len, size_t max,
                       buf_t *out);

#endif
