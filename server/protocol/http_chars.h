/* http_chars.h: HTTP character classes shared by the request and chunked
 * body parsers, form decoding and static paths. */
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

/* The value of a hex digit, or -1. */
static inline int http_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* field-vchar, SP, HTAB or obs-text: anything but a control character. */
static inline int http_is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

#endif
