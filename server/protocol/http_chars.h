/* http_chars.h: HTTP character classes shared by the request and chunked
 * body parsers, form decoding and static paths. */
#ifndef SWX_HTTP_CHARS_H
#define SWX_HTTP_CHARS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* RFC 9110 §5.6.2 token characters: a table, since every byte of a
 * method and of each field name is looked up. */
static const unsigned char http_tchar_map[256] __attribute__((unused)) = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

static inline int http_is_tchar(unsigned char c)
{
    return http_tchar_map[c];
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

/* Whether every byte of p[0..n) is a field character: eight at a time
 * while none is below 0x20 or 0x7f (a tab among them, the one control
 * character allowed, is looked at byte by byte). */
static inline int http_all_field_chars(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = ones * 0x80;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        /* A byte below 0x20, or equal to 0x7f, sets its high bit here
         * (bytes of 0x80 and over excluded first); other bytes may too,
         * only after such a byte: then the bytes are looked at one by
         * one. */
        uint64_t low = (w - ones * 0x20) & ~w;
        uint64_t del = ((w ^ (ones * 0x7f)) - ones) & ~(w ^ (ones * 0x7f));
        if ((low | del) & highs)
            break;
    }
    for (; i < n; i++)
        if (!http_is_field_char((unsigned char)p[i]))
            return 0;
    return 1;
}

#endif
