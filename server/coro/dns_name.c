/* dns_name.c: what name lookup accepts before asking c-ares: a host name's
 * syntax, and the dns_server setting's list of addresses. */
#include "coro/dns_name.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int dns_name_check(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return -EINVAL;
    size_t len = strlen(name);
    if (len > 1 && name[len - 1] == '.')
        len--; /* the root's dot: "example.com." is absolute */
    if (len > DNS_NAME_MAX)
        return -EINVAL;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (label == 0)
                return -EINVAL; /* ".a", "a..b", or "." alone */
            label = 0;
        } else if (!name_char((unsigned char)name[i]) ||
                   ++label > DNS_LABEL_MAX) {
            return -EINVAL;
        }
    }
    return label > 0 ? 0 : -EINVAL;
}

static int server_fail(char *why, size_t whylen, const char *fmt,
                       const char *item)
{
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, fmt, item);
    return -EINVAL;
}

/* "53" after a colon: 1 to 65535, digits only. */
static int parse_port(const char *s)
{
    if (*s == '\0' || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
        return -1;
    int port = atoi(s);
    return port >= 1 && port <= 65535 ? port : -1;
}

/* One item ("1.2.3.4", "1.2.3.4:53", "::1", "[::1]", "[::1]:53"),
 * edited in place. */
static int parse_item(char *item, dns_server_t *s, char *why, size_t whylen)
{
    char *host = item, *port = NULL;
    if (item[0] == '[') {
        char *end = strchr(item, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':'))
            return server_fail(why, whylen, "\"%s\": a '[' without its ']'",
                               item);
        host = item + 1;
        port = end[1] == ':' ? end + 2 : NULL;
        *end = '\0';
    } else if (strchr(item, ':') == strrchr(item, ':') &&
               strchr(item, ':') != NULL) { /* one colon: IPv4 and port */
        port = strchr(item, ':');
        *port++ = '\0';
    }
    s->port = port != NULL ? parse_port(port) : 53;
    if (s->port < 0)
        return server_fail(why, whylen, "port \"%s\" is not 1 to 65535",
                           port);
    if (inet_pton(AF_INET, host, s->addr) == 1)
        s->family = AF_INET;
    else if (inet_pton(AF_INET6, host, s->addr) == 1)
        s->family = AF_INET6;
    else
        return server_fail(why, whylen, "\"%s\" is not a numeric IPv4 or "
                           "IPv6 address", host);
    return 0;
}

int dns_servers_parse(const char *text, dns_server_t *out, int max,
                      char *why, size_t whylen)
{
    char buf[512];
    if (text == NULL || strlen(text) >= sizeof(buf))
        return server_fail(why, whylen, "%s", "a list of at most 511 bytes");
    strcpy(buf, text);
    int n = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        item += strspn(item, " ");
        size_t len = strcspn(item, " ");
        if (item[len + strspn(item + len, " ")] != '\0')
            return server_fail(why, whylen, "\"%s\": separate servers with "
                               "commas", item);
        item[len] = '\0';
        if (n == max)
            return server_fail(why, whylen, "%s", "too many servers");
        if (parse_item(item, &out[n], why, whylen) < 0)
            return -EINVAL;
        n++;
    }
    if (n == 0)
        return server_fail(why, whylen, "%s", "no address");
    return n;
}
