/* dns_cache.c: a process's cache of name lookup answers: a hash table of
 * chains by (name, family) and a list from most to least recently used,
 * each entry one allocation with its addresses and name. */
#include "coro/dns_cache.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Past this many chains an entry costs a longer walk, not more memory up
 * front (a capacity of a million would otherwise take 8 MiB at once). */
#define DNS_BUCKETS_MAX 65536u

struct dns_entry {
    dns_entry_t *chain;      /* next in its bucket */
    dns_entry_t *prev, *next; /* the recency list */
    int64_t expires_ms;
    uint32_t hash;
    int family;
    size_t naddrs;
    swx_co_addr_t *addrs;    /* just after the entry */
    char *name;              /* after the addresses */
};

/* FNV-1a over the lower-cased name, then the family. */
static uint32_t entry_hash(const char *name, int family)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ (uint32_t)tolower(*p)) * 16777619u;
    return (h ^ (uint32_t)family) * 16777619u;
}

void dns_cache_init(dns_cache_t *c, size_t capacity)
{
    *c = (dns_cache_t){.capacity = capacity};
}

void dns_cache_clear(dns_cache_t *c)
{
    for (dns_entry_t *e = c->head, *next; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    if (c->buckets != NULL)
        memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
    c->head = c->tail = NULL;
    c->count = 0;
}

void dns_cache_free(dns_cache_t *c)
{
    dns_cache_clear(c);
    free(c->buckets);
    dns_cache_init(c, c->capacity);
}

static void list_unlink(dns_cache_t *c, dns_entry_t *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push(dns_cache_t *c, dns_entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

/* The chain link that points at (name, family)'s entry, or at the NULL
 * ending its chain. */
static dns_entry_t **entry_find(dns_cache_t *c, const char *name, int family,
                                uint32_t hash)
{
    dns_entry_t **pp = &c->buckets[hash & (c->nbuckets - 1)];
    while (*pp != NULL && ((*pp)->hash != hash || (*pp)->family != family ||
                           strcasecmp((*pp)->name, name) != 0))
        pp = &(*pp)->chain;
    return pp;
}

static void entry_drop(dns_cache_t *c, dns_entry_t **pp)
{
    dns_entry_t *e = *pp;
    *pp = e->chain;
    list_unlink(c, e);
    free(e);
    c->count--;
}

int dns_cache_get(dns_cache_t *c, const char *name, int family,
                  int64_t now_ms, swx_co_addr_t *out, size_t max)
{
    if (c->count == 0 || max == 0)
        return 0;
    dns_entry_t **pp = entry_find(c, name, family, entry_hash(name, family));
    dns_entry_t *e = *pp;
    if (e == NULL)
        return 0;
    if (e->expires_ms <= now_ms) {
        entry_drop(c, pp);
        return 0;
    }
    list_unlink(c, e);
    list_push(c, e);
    size_t n = e->naddrs < max ? e->naddrs : max;
    memcpy(out, e->addrs, n * sizeof(*out));
    return (int)n;
}

static int table_alloc(dns_cache_t *c)
{
    size_t n = 16;
    while (n < c->capacity && n < DNS_BUCKETS_MAX)
        n *= 2;
    c->buckets = calloc(n, sizeof(*c->buckets));
    if (c->buckets == NULL)
        return -ENOMEM;
    c->nbuckets = n;
    return 0;
}

static dns_entry_t *entry_new(const char *name, int family, uint32_t hash,
                              const swx_co_addr_t *addrs, size_t n,
                              int64_t expires_ms)
{
    size_t len = strlen(name) + 1;
    dns_entry_t *e = malloc(sizeof(*e) + n * sizeof(*addrs) + len);
    if (e == NULL)
        return NULL;
    *e = (dns_entry_t){.expires_ms = expires_ms, .hash = hash,
                       .family = family, .naddrs = n};
    e->addrs = (swx_co_addr_t *)(e + 1);
    memcpy(e->addrs, addrs, n * sizeof(*addrs));
    e->name = (char *)(e->addrs + n);
    memcpy(e->name, name, len);
    return e;
}

int dns_cache_put(dns_cache_t *c, const char *name, int family,
                  const swx_co_addr_t *addrs, size_t n, int64_t expires_ms)
{
    if (c->capacity == 0 || n == 0)
        return 0;
    if (c->buckets == NULL && table_alloc(c) < 0)
        return -ENOMEM;
    uint32_t hash = entry_hash(name, family);
    dns_entry_t **pp = entry_find(c, name, family, hash);
    if (*pp != NULL)
        entry_drop(c, pp);
    else if (c->count >= c->capacity)
        entry_drop(c, entry_find(c, c->tail->name, c->tail->family,
                                 c->tail->hash));
    n = n < DNS_ADDRS_MAX ? n : DNS_ADDRS_MAX;
    dns_entry_t *e = entry_new(name, family, hash, addrs, n, expires_ms);
    if (e == NULL)
        return -ENOMEM;
    pp = &c->buckets[hash & (c->nbuckets - 1)];
    e->chain = *pp;
    *pp = e;
    list_push(c, e);
    c->count++;
    return 0;
}
