/* dns_name.h: what name lookup accepts before asking c-ares: a host name's
 * syntax, and the dns_server setting's list of addresses. */
#ifndef SWX_CORO_DNS_NAME_H
#define SWX_CORO_DNS_NAME_H

#include <stddef.h>

#define DNS_NAME_MAX 253  /* RFC 1035: the text form, without a final dot */
#define DNS_LABEL_MAX 63
#define DNS_SERVERS_MAX 8 /* c-ares tries them in turn: a few suffice */

/* 0 when name is a host name we send to the resolver: labels of letters,
 * digits, '-' and '_' separated by single dots (a final dot allowed), at
 * most DNS_LABEL_MAX bytes each and DNS_NAME_MAX in all; else -EINVAL. */
int dns_name_check(const char *name);

/* One DNS server: an address and a UDP/TCP port. */
typedef struct dns_server {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int port;
} dns_server_t;

/*
 * Parse the dns_server setting: Swoole's "host[:port]", or several
 * separated by commas, where host is a numeric IPv4 or IPv6 address (an
 * IPv6 one in brackets when a port follows: "[::1]:5353"); port 53 when
 * none is given. The count (1 to max) into out, or -EINVAL with a reason
 * in why (why may be NULL).
 */
int dns_servers_parse(const char *text, dns_server_t *out, int max,
                      char *why, size_t whylen);

#endif
