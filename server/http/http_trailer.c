/* http_trailer.c: which fields a response may send as trailers, and the
 * Trailer header that announces them. */
#include "http/http_trailer.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http/http_wire.h"

/* RFC 9110 6.5.1 and Go's net/http list: fields a recipient must see
 * before the content, and those that describe one connection only. */
static const char *const trailer_refused[] = {
    /* framing */
    "content-length", "transfer-encoding",
    /* routing */
    "host",
    /* request modifiers: controls and conditionals */
    "cache-control", "expect", "max-forwards", "pragma", "range", "te",
    "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
    "if-range",
    /* authentication and state */
    "authorization", "proxy-authorization", "www-authenticate",
    "proxy-authenticate", "cookie", "set-cookie",
    /* response controls */
    "age", "expires", "date", "location", "retry-after", "vary", "warning",
    /* how to process the content */
    "content-type", "content-encoding", "content-range", "trailer",
    /* connection-specific */
    "connection", "keep-alive", "proxy-connection", "upgrade",
};

int http_trailer_allowed(const char *name, size_t len)
{
    size_t n = sizeof(trailer_refused) / sizeof(trailer_refused[0]);
    for (size_t i = 0; i < n; i++)
        if (strlen(trailer_refused[i]) == len &&
            strncasecmp(trailer_refused[i], name, len) == 0)
            return 0;
    return 1;
}

int http_trailer_announce(const char *lines, size_t len, buf_t *out)
{
    const char *p = lines, *end = lines + len;
    http_wire_trailer_t t;
    if (buf_append(out, "Trailer: ", 9) < 0)
        return -ENOMEM;
    for (int first = 1; http_wire_trailer_next(&p, end, &t); first = 0)
        if ((!first && buf_append(out, ", ", 2) < 0) ||
            buf_append(out, t.name, t.name_len) < 0)
            return -ENOMEM;
    return buf_append(out, "\r\n", 2) < 0 ? -ENOMEM : 0;
}
