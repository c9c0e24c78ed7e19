/* http_multipart.h: multipart/form-data bodies (RFC 7578, RFC 2046 §5.1)
 * read part by part, without copying: what swx_http_multipart_next gives
 * a plugin (form fields and file uploads). */
#ifndef SWX_HTTP_MULTIPART_H
#define SWX_HTTP_MULTIPART_H

#include <stddef.h>

typedef struct http_part {
    const char *name;      /* Content-Disposition's name, NULL if none */
    size_t name_len;
    const char *filename;  /* its filename, NULL when not a file */
    size_t filename_len;
    const char *type;      /* the part's Content-Type, NULL when absent */
    size_t type_len;
    const char *data;      /* the part's content */
    size_t len;
} http_part_t;

/*
 * The boundary of a Content-Type value "multipart/form-data; boundary=X"
 * (X a token or quoted string, 1 to 70 characters): 0 with *b and *blen,
 * -ENOTSUP for another type, -EINVAL for a missing or bad boundary.
 */
int http_multipart_boundary(const char *type, size_t len, const char **b,
                            size_t *blen);

/*
 * The part after *cursor (0 to start) in body[0..len) cut by boundary: 1
 * with *part (pointers into body) and *cursor moved on, 0 after the last
 * part, -EINVAL for a body that is not well formed there (no opening
 * delimiter, a part without the blank line after its headers, or no
 * closing delimiter).
 */
int http_multipart_next(const char *body, size_t len, const char *boundary,
                        size_t blen, size_t *cursor, http_part_t *part);

#endif
