/* cidr.h: address ranges ("10.0.0.0/8", "2001:db8::/32", a single
 * address, or "unix:" for Unix-socket peers) and whether an address, as
 * text, falls in one of them. */
#ifndef SWX_CIDR_H
#define SWX_CIDR_H

#include <stddef.h>
#include <stdint.h>

typedef struct cidr {
    int family;          /* AF_INET, AF_INET6, or AF_UNIX ("unix:") */
    int bits;            /* prefix length */
    uint8_t addr[16];    /* the network, host bits cleared */
} cidr_t;

/* A list of them, as a config holds it. */
typedef struct cidr_list {
    cidr_t *v;
    size_t n;
} cidr_list_t;

/* Parse s into *out. 0, or -1 with *why set to what was wrong. */
int cidr_parse(const char *s, cidr_t *out, const char **why);
/* Is addr (numeric text, or "unix") in one of list[0..n)? An IPv4 address
 * mapped into IPv6 ("::ffff:10.1.2.3") is matched as IPv4 too. */
int cidr_match(const cidr_t *list, size_t n, const char *addr);

#endif
