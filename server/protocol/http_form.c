/* http_form.c: form pairs and cookies. */
#include "protocol/http_form.h"

#include <errno.h>
#include <string.h>

#include "protocol/http_chars.h"

/* Decode s[0..len) into out (cap bytes, NUL added). The decoded length,
 * -EINVAL or -ENOSPC. */
static int form_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 1 < len ? http_hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? http_hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= cap)
            return -ENOSPC;
        out[n++] = c;
    }
    if (n >= cap || n > 0x7fffffff)
        return -ENOSPC;
    out[n] = '\0';
    return (int)n;
}

int http_form_param(const char *s, size_t len, const char *name, char *out,
                    size_t cap)
{
    if (s == NULL)
        return -ENOENT;
    size_t nl = strlen(name);
    char key[256];
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq != NULL ? eq : pe;
        if (ke > p && nl < sizeof(key) &&
            form_decode(p, (size_t)(ke - p), key, sizeof(key)) == (int)nl &&
            memcmp(key, name, nl) == 0) {
            const char *v = eq != NULL ? eq + 1 : pe;
            return form_decode(v, (size_t)(pe - v), out, cap);
        }
        p = amp != NULL ? amp + 1 : end;
    }
    return -ENOENT;
}

int http_cookie_value(const char *s, size_t len, const char *name,
                      char *out, size_t cap)
{
    if (s == NULL)
        return -ENOENT;
    size_t nl = strlen(name);
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pe = semi != NULL ? semi : end;
        while (p < pe && (*p == ' ' || *p == '\t'))
            p++;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        if (eq != NULL && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
            const char *v = eq + 1, *ve = pe;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') {
                v++;
                ve--;
            }
            size_t n = (size_t)(ve - v);
            if (n + 1 > cap || n > 0x7fffffff)
                return -ENOSPC;
            memcpy(out, v, n);
            out[n] = '\0';
            return (int)n;
        }
        p = semi != NULL ? semi + 1 : end;
    }
    return -ENOENT;
}
