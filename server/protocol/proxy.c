/* proxy.c: the PROXY protocol header, versions 1 (a text line) and 2 (a
 * binary block), parsed strictly: a header that does not follow the
 * specification to the byte is refused with the reason. */
#include "protocol/proxy.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

static const char proxy_v1_sig[] = "PROXY ";
static const unsigned char proxy_v2_sig[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

static int proxy_fail(proxy_header_t *h, const char *why)
{
    h->error = why;
    return PROXY_ERROR;
}

/* ---- version 1 ---- */

/* A port: 1 to 5 digits, no leading zero, at most 65535; -1 if not. */
static int proxy_v1_port(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

/* An address of family af, rewritten in its canonical form. */
static int proxy_v1_addr(int af, const char *s, char *out, size_t cap)
{
    unsigned char bin[16];
    if (inet_pton(af, s, bin) != 1)
        return -1;
    return inet_ntop(af, bin, out, (socklen_t)cap) != NULL ? 0 : -1;
}

/* Split line (NUL-terminated) at single spaces into at most max tokens;
 * the count, or -1 for an empty token (two spaces, a trailing space). */
static int proxy_v1_split(char *line, char **tok, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *sp = strchr(p, ' ');
        tok[n++] = p;
        if (sp == NULL)
            break;
        *sp = '\0';
        if (sp == p)
            return -1;
        p = sp + 1;
    }
    return *tok[n - 1] == '\0' ? -1 : n;
}

/* The line after "PROXY ", without its CRLF. */
static int proxy_v1_fields(char *line, proxy_header_t *h)
{
    char *tok[6];
    if (strncmp(line, "UNKNOWN", 7) == 0 && (line[7] == '\0' ||
                                             line[7] == ' ')) {
        h->local = 1; /* the rest of the line is to be ignored */
        h->family = AF_UNSPEC;
        return PROXY_DONE;
    }
    int n = proxy_v1_split(line, tok, 6);
    if (n < 0)
        return proxy_fail(h, "v1: an empty field");
    int af = strcmp(tok[0], "TCP4") == 0   ? AF_INET
             : strcmp(tok[0], "TCP6") == 0 ? AF_INET6
                                           : AF_UNSPEC;
    if (af == AF_UNSPEC)
        return proxy_fail(h, "v1: the protocol is not TCP4, TCP6 or UNKNOWN");
    if (n != 5)
        return proxy_fail(h, "v1: not 4 fields after the protocol");
    if (proxy_v1_addr(af, tok[1], h->src_addr, sizeof(h->src_addr)) < 0 ||
        proxy_v1_addr(af, tok[2], h->dst_addr, sizeof(h->dst_addr)) < 0)
        return proxy_fail(h, "v1: an address that is not of the protocol's "
                             "family");
    h->src_port = proxy_v1_port(tok[3]);
    h->dst_port = proxy_v1_port(tok[4]);
    if (h->src_port < 0 || h->dst_port < 0)
        return proxy_fail(h, "v1: a port that is not 0 to 65535");
    h->family = af;
    return PROXY_DONE;
}

static int proxy_v1(const unsigned char *p, size_t len, proxy_header_t *h)
{
    size_t n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' && i + 1 == PROXY_V1_MAX)
            break; /* its LF would be byte 108 */
        if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
            char line[PROXY_V1_MAX];
            size_t m = i - (sizeof(proxy_v1_sig) - 1);
            memcpy(line, p + sizeof(proxy_v1_sig) - 1, m);
            line[m] = '\0';
            h->len = i + 2;
            return proxy_v1_fields(line, h);
        }
        if (p[i] == '\r' && i + 1 == len)
            break;
        if (p[i] < 0x20 || p[i] > 0x7e)
            return proxy_fail(h, "v1: a byte that is not printable before "
                                 "the CRLF");
    }
    if (len >= PROXY_V1_MAX)
        return proxy_fail(h, "v1: no CRLF within 107 bytes");
    return PROXY_MORE;
}

/* ---- version 2 ---- */

static uint16_t proxy_be16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The address block of a PROXY command, alen bytes at a. */
static int proxy_v2_addrs(int fam, const unsigned char *a, size_t alen,
                          proxy_header_t *h)
{
    static const struct {
        int af;
        size_t addr; /* bytes of one address */
        size_t need; /* bytes of the block */
    } fams[4] = {
        {AF_UNSPEC, 0, 0}, {AF_INET, 4, 12}, {AF_INET6, 16, 36},
        {AF_UNIX, 108, 216},
    };
    if (fam > 3)
        return proxy_fail(h, "v2: an unknown address family");
    h->family = fams[fam].af;
    if (fam == 0) {
        h->local = 1; /* unspecified: the connection's own addresses */
        return PROXY_DONE;
    }
    if (alen < fams[fam].need)
        return proxy_fail(h, "v2: the address block is shorter than its "
                             "family needs");
    if (fam == 3) {
        strcpy(h->src_addr, "unix");
        strcpy(h->dst_addr, "unix");
        return PROXY_DONE;
    }
    size_t sz = fams[fam].addr;
    inet_ntop(h->family, a, h->src_addr, sizeof(h->src_addr));
    inet_ntop(h->family, a + sz, h->dst_addr, sizeof(h->dst_addr));
    h->src_port = proxy_be16(a + 2 * sz);
    h->dst_port = proxy_be16(a + 2 * sz + 2);
    return PROXY_DONE;
}

static int proxy_v2(const unsigned char *p, size_t len, proxy_header_t *h)
{
    if (len < PROXY_V2_HEAD)
        return PROXY_MORE;
    int ver = p[12] >> 4, cmd = p[12] & 0x0f;
    int fam = p[13] >> 4, proto = p[13] & 0x0f;
    size_t alen = proxy_be16(p + 14);
    if (ver != 2)
        return proxy_fail(h, "v2: the version is not 2");
    if (cmd > 1)
        return proxy_fail(h, "v2: the command is neither LOCAL nor PROXY");
    if (proto > 2)
        return proxy_fail(h, "v2: an unknown transport protocol");
    if (PROXY_V2_HEAD + alen > PROXY_MAX)
        return proxy_fail(h, "v2: the header is longer than 2048 bytes");
    if (len < PROXY_V2_HEAD + alen)
        return PROXY_MORE;
    h->len = PROXY_V2_HEAD + alen;
    if (cmd == 0) { /* LOCAL: the proxy's own connection, e.g. a check */
        h->local = 1;
        h->family = AF_UNSPEC;
        return PROXY_DONE;
    }
    /* What follows the addresses are TLVs, which nothing here needs. */
    return proxy_v2_addrs(fam, p + PROXY_V2_HEAD, alen, h);
}

/* ---- either ---- */

int proxy_parse(const void *data, size_t len, proxy_header_t *h)
{
    const unsigned char *p = data;
    memset(h, 0, sizeof(*h));
    size_t n1 = sizeof(proxy_v1_sig) - 1, n2 = sizeof(proxy_v2_sig);
    if (len > 0 && p[0] == 'P') {
        h->version = 1;
        if (memcmp(p, proxy_v1_sig, len < n1 ? len : n1) != 0)
            return proxy_fail(h, "not a PROXY protocol header");
        return len < n1 ? PROXY_MORE : proxy_v1(p, len, h);
    }
    if (len > 0 && p[0] == proxy_v2_sig[0]) {
        h->version = 2;
        if (memcmp(p, proxy_v2_sig, len < n2 ? len : n2) != 0)
            return proxy_fail(h, "v2: a bad signature");
        return proxy_v2(p, len, h);
    }
    return len == 0 ? PROXY_MORE
                    : proxy_fail(h, "not a PROXY protocol header");
}
