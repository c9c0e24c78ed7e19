/* cidr.c: address ranges, parsed once at config load and matched
 * against peer addresses. */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

/* The prefix length after '/': digits only, at most max. */
static int cidr_bits(const char *s, int max)
{
    if (*s == '\0' || strlen(s) > 3 || (s[0] == '0' && s[1] != '\0'))
        return -1;
    int v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v <= max ? v : -1;
}

int cidr_parse(const char *s, cidr_t *out, const char **why)
{
    char host[64];
    memset(out, 0, sizeof(*out));
    if (strcmp(s, "unix:") == 0) {
        out->family = AF_UNIX;
        return 0;
    }
    const char *slash = strchr(s, '/');
    size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(host)) {
        *why = "an address or a network (\"10.0.0.0/8\", \"fd00::/8\", "
               "\"unix:\")";
        return -1;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    out->family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
    int max = out->family == AF_INET6 ? 128 : 32;
    if (inet_pton(out->family, host, out->addr) != 1) {
        *why = "a numeric IPv4 or IPv6 address before the '/'";
        return -1;
    }
    out->bits = slash != NULL ? cidr_bits(slash + 1, max) : max;
    if (out->bits < 0) {
        *why = out->family == AF_INET6 ? "a prefix length of 0 to 128"
                                       : "a prefix length of 0 to 32";
        return -1;
    }
    for (int i = out->bits; i < max; i++)
        out->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    return 0;
}

static int cidr_in(const cidr_t *c, const uint8_t *a)
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (c->addr[full] & mask) == (a[full] & mask);
}

int cidr_match(const cidr_t *list, size_t n, const char *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0xff, 0xff};
    uint8_t v4[4], v6[16];
    int is4 = inet_pton(AF_INET, addr, v4) == 1;
    int is6 = !is4 && inet_pton(AF_INET6, addr, v6) == 1;
    if (is6 && memcmp(v6, mapped, sizeof(mapped)) == 0) {
        memcpy(v4, v6 + 12, 4);
        is4 = 1;
    }
    int unix_peer = strcmp(addr, "unix") == 0;
    for (size_t i = 0; i < n; i++) {
        const cidr_t *c = &list[i];
        if ((c->family == AF_UNIX && unix_peer) ||
            (c->family == AF_INET && is4 && cidr_in(c, v4)) ||
            (c->family == AF_INET6 && is6 && cidr_in(c, v6)))
            return 1;
    }
    return 0;
}
