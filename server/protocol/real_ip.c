/* real_ip.c: the client address named in X-Forwarded-For (or another
 * header) by trusted proxies: the rightmost hop that is not trusted. */
#include "protocol/real_ip.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* One item, s[0..len) with blanks around it removed, as canonical text in
 * out. 0, or -1 when it is not a numeric address. */
static int real_ip_item(const char *s, size_t len, char *out)
{
    char tmp[REAL_IP_LEN];
    unsigned char bin[16];
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    int af = memchr(tmp, ':', len) != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(af, tmp, bin) != 1)
        return -1;
    return inet_ntop(af, bin, out, REAL_IP_LEN) != NULL ? 0 : -1;
}

/* Walk one field's value from its end. 1 when the walk ends here (the
 * client is in out, if any was taken), 0 to go on with the field before. */
static int real_ip_walk(const char *v, size_t len, const cidr_list_t *trusted,
                        char *out, int *found)
{
    size_t end = len;
    for (;;) {
        size_t start = end;
        while (start > 0 && v[start - 1] != ',')
            start--;
        char addr[REAL_IP_LEN];
        if (real_ip_item(v + start, end - start, addr) < 0)
            return 1;
        memcpy(out, addr, REAL_IP_LEN);
        *found = 1;
        if (!cidr_match(trusted->v, trusted->n, addr))
            return 1;
        if (start == 0)
            return 0;
        end = start - 1; /* before the comma */
    }
}

int real_ip_find(const http_request_t *req, const char *header,
                 const cidr_list_t *trusted, const char *peer,
                 char out[REAL_IP_LEN])
{
    int found = 0;
    size_t hlen = strlen(header);
    if (trusted->n == 0 || !cidr_match(trusted->v, trusted->n, peer))
        return 0;
    for (size_t i = req->nheaders; i > 0; i--) {
        const http_header_t *h = &req->headers[i - 1];
        if (h->name_len != hlen || strncasecmp(h->name, header, hlen) != 0)
            continue;
        if (real_ip_walk(h->value, h->value_len, trusted, out, &found))
            break;
    }
    return found;
}
