/* fuzz_proxy.c: libFuzzer target for proxy_parse: within bounds, and a
 * header found whole is found the same way whatever follows it, while
 * each shorter prefix asks for more. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "protocol/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proxy_header_t h, p;
    int rc = proxy_parse(data, size, &h);
    if (rc == PROXY_MORE) {
        assert(size < PROXY_MAX);
        return 0;
    }
    if (rc == PROXY_ERROR) {
        assert(h.error != NULL);
        return 0;
    }
    assert(rc == PROXY_DONE && h.len > 0 && h.len <= size);
    assert(memchr(h.src_addr, '\0', sizeof(h.src_addr)) != NULL);
    assert(h.src_port >= 0 && h.src_port <= 65535);
    assert(proxy_parse(data, h.len, &p) == PROXY_DONE && p.len == h.len);
    assert(strcmp(p.src_addr, h.src_addr) == 0 && p.local == h.local);
    size_t cuts[3] = {0, h.len / 2, h.len - 1};
    for (int i = 0; i < 3; i++)
        assert(proxy_parse(data, cuts[i], &p) == PROXY_MORE);
    return 0;
}
