/* http_text.h: HTTP response vocabulary the reactor and the workers share:
 * reason phrases and IMF-fixdate dates (RFC 9110 §5.6.7). */
#ifndef SWX_HTTP_TEXT_H
#define SWX_HTTP_TEXT_H

#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* The reason phrase of a status, or "Unknown" for one without. */
const char *http_reason(int status);

/* t as an IMF-fixdate into out (HTTP_DATE_LEN chars + NUL). */
void http_date(time_t t, char out[HTTP_DATE_LEN + 1]);

/* Parse an IMF-fixdate of len bytes; 0 with *t, or -EINVAL. */
int http_date_parse(const char *s, size_t len, time_t *t);

#endif
