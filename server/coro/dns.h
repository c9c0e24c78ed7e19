/* dns.h: name lookup for coroutines (Swoole's getaddrinfo and dnsLookup):
 * c-ares driven by the process's loop, the hosts file first, answers
 * cached per process for their time to live. */
#ifndef SWX_CORO_DNS_H
#define SWX_CORO_DNS_H

#include <stddef.h>

#include "event/loop.h"
#include "swx_plugin.h"

/* How long an answer without a TTL of its own (the hosts file's) is kept,
 * so that an edit of the file is seen within seconds. */
#define DNS_HOSTS_TTL_MS 5000

/* Set up for loop: a cache of capacity entries (0: none), answers kept at
 * most expire_s seconds, DNS servers from the dns_server setting (NULL:
 * /etc/resolv.conf's). Nothing of c-ares is made until the first lookup.
 * 0 or -EINVAL (servers unparsable; logged). */
int coro_dns_init(loop_t *loop, size_t capacity, int expire_s,
                  const char *servers);
/* Stopping or reloading: lookups in flight are cancelled (their waiters
 * wake with -ECANCELED) and later ones fail with -ECANCELED. */
void coro_dns_stop(void);
/* Destroy the resolver and the cache (at exit, after coro_dns_stop). */
void coro_dns_free(void);

/* swx_co_dns_lookup: see sdk/swx_plugin.h. */
int coro_dns_lookup(const char *name, int family, swx_co_addr_t *out,
                    size_t max, long timeout_ms);
/* swx_co_dns_cache_clear. 0. */
int coro_dns_cache_clear(void);

#endif
