/* fuzz_form.c: libFuzzer target for the form and cookie readers plugins
 * call on what clients send (swx_http_query_param, _form_param,
 * swx_http_cookie): no read past the input, no write past the output, and
 * a result that fits what was asked. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/http_form.h"

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
    free(out);
    free(s);
    return 0;
}
