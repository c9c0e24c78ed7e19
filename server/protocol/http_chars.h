/* http_chars.h: HTTP character classes shared by the request and chunked
 * body parsers (internal to server/protocol). */
#ifndef SWX_HTTP_CHARS_H
#define SWX_HTTP_CHARS_H

#include <string.h>

/* RFC 9110 §5.6.2 token characters. */
static inline int http_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP, HTAB or obs-text: anything but a control character. */
static inline int http_is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

#endif
