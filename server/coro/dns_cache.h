/* dns_cache.h: a process's cache of name lookup answers: by name and
 * family, each for its time to live, at most a set number of entries with
 * the least recently used one dropped first. Pure: the caller gives the
 * time. */
#ifndef SWX_CORO_DNS_CACHE_H
#define SWX_CORO_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "swx_plugin.h"

#define DNS_ADDRS_MAX 32 /* addresses kept of one answer */

typedef struct dns_entry dns_entry_t;

typedef struct dns_cache {
    size_t capacity;       /* entries at most; 0: nothing is kept */
    size_t count;
    dns_entry_t **buckets; /* chains by hash; allocated on the first put */
    size_t nbuckets;       /* a power of two */
    dns_entry_t *head;     /* most recently used */
    dns_entry_t *tail;     /* least recently used: dropped first */
} dns_cache_t;

void dns_cache_init(dns_cache_t *c, size_t capacity);
/* Drop every entry and the table. */
void dns_cache_free(dns_cache_t *c);
/* Drop every entry; the cache stays usable. */
void dns_cache_clear(dns_cache_t *c);

/* The answer for (name, family) when it has not expired at now_ms: up to
 * max addresses into out and their count (>= 1), the entry becoming the
 * most recently used. 0 when there is none (an expired one is dropped).
 * Names compare without regard to case. */
int dns_cache_get(dns_cache_t *c, const char *name, int family,
                  int64_t now_ms, swx_co_addr_t *out, size_t max);

/* Keep the first DNS_ADDRS_MAX of n addresses for (name, family) until
 * expires_ms, replacing an older answer; when full, the least recently
 * used entry goes. 0 (also when nothing is kept: capacity 0, n 0), or
 * -ENOMEM. */
int dns_cache_put(dns_cache_t *c, const char *name, int family,
                  const swx_co_addr_t *addrs, size_t n, int64_t expires_ms);

#endif
