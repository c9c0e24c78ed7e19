/* http_trailer.h: which fields a response may send as trailers, and the
 * Trailer header that announces them (swx_http_trailer). */
#ifndef SWX_HTTP_TRAILER_H
#define SWX_HTTP_TRAILER_H

#include <stddef.h>

#include "core/buf.h"

/* 1 when a field named name[0..len) may be a trailer; 0 for those RFC
 * 9110 6.5.1 keeps in the head (framing, routing, request modifiers,
 * authentication, response controls, how to process the content) and
 * the connection-specific ones. */
int http_trailer_allowed(const char *name, size_t len);

/* Append "Trailer: a, b\r\n" naming the fields of lines[0..len) ("Name:
 * value\r\n" lines, as http_wire_end_decode checks them) to out. 0 or
 * -ENOMEM. */
int http_trailer_announce(const char *lines, size_t len, buf_t *out);

#endif
