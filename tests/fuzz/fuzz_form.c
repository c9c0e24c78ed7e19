/* fuzz_form.c: libFuzzer target for the form, cookie and multipart readers
 * plugins call on what clients send (swx_http_query_param, _form_param,
 * swx_http_cookie, swx_http_multipart_next): no read past the input, no
 * write past the output, results that fit what was asked and lie inside
 * the body. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/http_form.h"
#include "protocol/http_multipart.h"

/* Input: [name_len][cap][name bytes][the query, body or Cookie value]. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t nl = data[0] % 32, cap = data[1];
    if (size < 2 + nl)
        return 0;
    char name[33];
    memcpy(name, data + 2, nl);
    name[nl] = '\0';
    size_t len = size - 2 - nl;
    /* Exactly sized copies, so ASan sees any read or write past them. */
    char *s = malloc(len ? len : 1);
    char *out = malloc(cap ? cap : 1);
    memcpy(s, data + 2 + nl, len);
    int rc = http_form_param(s, len, name, out, cap);
    assert(rc == -ENOENT || rc == -ENOSPC || rc == -EINVAL ||
           (rc >= 0 && (size_t)rc < cap && out[rc] == '\0' &&
            (size_t)rc <= len));
    rc = http_cookie_value(s, len, name, out, cap);
    assert(rc == -ENOENT || rc == -ENOSPC ||
           (rc >= 0 && (size_t)rc < cap && out[rc] == '\0' &&
            (size_t)rc <= len));
    /* The same bytes as a multipart body cut by name as the boundary:
     * every part inside the body, and an end. */
    size_t cursor = 0, parts = 0;
    http_part_t p;
    while (nl > 0 && (rc = http_multipart_next(s, len, name, nl, &cursor,
                                               &p)) == 1) {
        assert(p.data >= s && p.data + p.len <= s + len);
        assert(p.name == NULL || (p.name >= s && p.name + p.name_len <= s + len));
        assert(p.filename == NULL ||
               (p.filename >= s && p.filename + p.filename_len <= s + len));
        assert(p.type == NULL || (p.type >= s && p.type + p.type_len <= s + len));
        assert(++parts <= len);
    }
    assert(nl == 0 || rc == 0 || rc == -EINVAL);
    free(out);
    free(s);
    return 0;
}
