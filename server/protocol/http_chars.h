/* http_chars.h: HTTP character classes shared by the request and chunked
 * body parsers (internal to server/protocol). */
#ifndef SWX_HTTP_CHARS_H
#define SWX_HTTP_CHARS_H

#include <stdint.h>

/* RFC 9110 §5.6.2 token characters. */
static const uint8_t http_tchar[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

static inline int http_is_tchar(unsigned char c)
{
    return http_tchar[c];
}

/* field-vchar, SP, HTAB or obs-text: anything but a control character. */
static inline int http_is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

#endif
