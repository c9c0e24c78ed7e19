/* http_form.h: reading parameters a plugin is sent: the pairs of an
 * application/x-www-form-urlencoded string (a query, or a form body) and
 * the cookies of a Cookie header (RFC 6265 §4.2). */
#ifndef SWX_HTTP_FORM_H
#define SWX_HTTP_FORM_H

#include <stddef.h>

/*
 * The value of the first pair named name (compared after decoding) in the
 * form string s[0..len), percent-decoded with '+' as a space, into out
 * (cap bytes, NUL-terminated). A pair without '=' has the value "". The
 * value's length, or -ENOENT (no such pair), -ENOSPC (out too small: the
 * value does not fit with its NUL), -EINVAL (a malformed escape in it).
 */
int http_form_param(const char *s, size_t len, const char *name, char *out,
                    size_t cap);

/*
 * The value of cookie name in a Cookie header value, as sent (cookie
 * values are not percent-decoded; surrounding double quotes are removed),
 * into out. The length, -ENOENT or -ENOSPC.
 */
int http_cookie_value(const char *s, size_t len, const char *name,
                      char *out, size_t cap);

#endif
