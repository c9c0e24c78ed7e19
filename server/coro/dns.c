/* dns.c: name lookup for coroutines: c-ares (a well-kept resolver: retries,
 * TCP fallback, search domains, resolv.conf) driven by the process's loop
 * through its socket-state callback and one loop timer, the hosts file
 * asked first, answers cached per process, lookups of one name shared. */
#include "coro/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coro/coro.h"
#include "coro/dns_cache.h"
#include "coro/dns_name.h"
#include "core/log.h"

/* Questions in flight at most: one that every waiter gave up on lingers
 * until c-ares' own timeout (up to 75 s), so a burst of lookups of
 * distinct names against a dead server could otherwise grow without
 * bound. */
#define DNS_QUERIES_MAX 4096

/* A coroutine waiting for a query; on its own stack. */
typedef struct dns_waiter {
    coro_t *co;
    struct dns_query *query;
    swx_co_addr_t *out;
    size_t max;
    int rc;    /* the count written, or -errno, once done */
    int done;
    struct dns_waiter *next;
} dns_waiter_t;

/* A DNS query in flight, shared by every coroutine asking for the same
 * name and family meanwhile. It lives until c-ares calls back, even when
 * every waiter gave up: its answer still fills the cache. */
typedef struct dns_query {
    struct dns_query *next;
    int family;
    dns_waiter_t *waiters;
    char name[];
} dns_query_t;

static struct {
    loop_t *loop;
    int lib;                     /* ares_library_init done */
    int ready;                   /* the channels exist */
    int stopping;
    int freeing;
    ares_channel files;          /* lookups "f": the hosts file, at once */
    ares_channel net;            /* lookups "b": DNS, on the loop */
    int64_t timer;               /* c-ares' next timeout; 0: none */
    dns_cache_t cache;
    int64_t expire_ms;           /* dns_cache_expire */
    dns_server_t servers[DNS_SERVERS_MAX];
    int nservers;                /* 0: resolv.conf's */
    dns_query_t *queries;
    int nqueries;
} dns;

/* ---- the loop drives c-ares ---- */

static void dns_rearm(void);

static void dns_tick(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    dns.timer = 0;
    ares_process_fd(dns.net, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_rearm();
}

/* One loop timer at c-ares' next timeout (a retry, a query given up). */
static void dns_rearm(void)
{
    timer_heap_t *th = loop_timers(dns.loop);
    if (dns.timer != 0)
        timer_clear(th, dns.timer);
    dns.timer = 0;
    struct timeval tv;
    if (dns.net == NULL || ares_timeout(dns.net, NULL, &tv) == NULL)
        return;
    int64_t ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    int64_t t = timer_add(th, loop_now(), ms, 0, dns_tick, NULL);
    if (t < 0)
        log_error("name lookup: cannot arm c-ares' timeout: %s",
                  strerror((int)-t));
    else
        dns.timer = t;
}

static void dns_io(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)arg;
    ares_socket_t rd = events & (LOOP_READ | LOOP_ERROR) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wr = events & LOOP_WRITE ? fd : ARES_SOCKET_BAD;
    ares_process_fd(dns.net, rd, wr);
    dns_rearm();
}

/* c-ares opens, changes and closes its sockets: the loop follows. */
static void dns_sock_state(void *data, ares_socket_t fd, int readable,
                           int writable)
{
    (void)data;
    int events = (readable ? LOOP_READ : 0) | (writable ? LOOP_WRITE : 0);
    int rc = 0;
    if (events == 0) /* it is about to close it */
        loop_del(dns.loop, fd); /* -ENOENT: never watched */
    else if (loop_events(dns.loop, fd) < 0)
        rc = loop_add(dns.loop, fd, events, dns_io, NULL);
    else
        rc = loop_mod(dns.loop, fd, events);
    if (rc < 0)
        log_error("name lookup: cannot watch c-ares' socket %d: %s", fd,
                  strerror(-rc));
}

/* ---- the channels, made on the first lookup ---- */

static int dns_error(int status)
{
    switch (status) {
    case ARES_ENODATA: case ARES_ENOTFOUND: case ARES_ENONAME:
        return -ENOENT;
    case ARES_ETIMEOUT:
        return -ETIMEDOUT;
    case ARES_ECANCELLED: case ARES_EDESTRUCTION:
        return -ECANCELED;
    case ARES_EBADNAME: case ARES_EBADFAMILY: case ARES_EBADFLAGS:
    case ARES_EBADHINTS: case ARES_EBADSTR:
        return -EINVAL;
    case ARES_ECONNREFUSED:
        return -ECONNREFUSED;
    case ARES_ENOMEM:
        return -ENOMEM;
    default: /* SERVFAIL, REFUSED, FORMERR, NOTIMP, a bad answer */
        return -EIO;
    }
}

static int dns_set_servers(void)
{
    struct ares_addr_port_node node[DNS_SERVERS_MAX];
    for (int i = 0; i < dns.nservers; i++) {
        const dns_server_t *s = &dns.servers[i];
        node[i] = (struct ares_addr_port_node){
            .next = i + 1 < dns.nservers ? &node[i + 1] : NULL,
            .family = s->family, .udp_port = s->port, .tcp_port = s->port};
        memcpy(&node[i].addr, s->addr, s->family == AF_INET ? 4 : 16);
    }
    return ares_set_servers_ports(dns.net, node);
}

static void dns_channels_free(void)
{
    if (dns.net != NULL)
        ares_destroy(dns.net); /* calls back what is left; closes sockets */
    if (dns.files != NULL)
        ares_destroy(dns.files);
    if (dns.lib)
        ares_library_cleanup();
    dns.net = dns.files = NULL;
    dns.lib = dns.ready = 0;
}

static int dns_channels(void)
{
    struct ares_options f = {.lookups = (char *)"f"};
    struct ares_options b = {.lookups = (char *)"b",
                             .sock_state_cb = dns_sock_state};
    int st = ares_library_init(ARES_LIB_INIT_ALL);
    dns.lib = st == ARES_SUCCESS;
    if (st == ARES_SUCCESS &&
        (st = ares_init_options(&dns.files, &f, ARES_OPT_LOOKUPS)) !=
            ARES_SUCCESS)
        dns.files = NULL;
    if (st == ARES_SUCCESS &&
        (st = ares_init_options(&dns.net, &b, ARES_OPT_LOOKUPS |
                                ARES_OPT_SOCK_STATE_CB)) != ARES_SUCCESS)
        dns.net = NULL;
    if (st == ARES_SUCCESS && dns.nservers > 0)
        st = dns_set_servers();
    if (st != ARES_SUCCESS) {
        log_error("name lookup: cannot set up c-ares %s: %s",
                  ares_version(NULL), ares_strerror(st));
        dns_channels_free();
        return st == ARES_ENOMEM ? -ENOMEM : -EIO;
    }
    dns.ready = 1;
    return 0;
}

/* ---- answers ---- */

/* c-ares' nodes as our addresses, at most max; their smallest TTL (s). */
static size_t dns_addrs(const struct ares_addrinfo *ai, swx_co_addr_t *out,
                        size_t max, int *ttl)
{
    size_t n = 0;
    *ttl = INT32_MAX;
    for (const struct ares_addrinfo_cname *c = ai->cnames; c; c = c->next)
        *ttl = c->ttl < *ttl ? c->ttl : *ttl;
    for (const struct ares_addrinfo_node *p = ai->nodes; p && n < max;
         p = p->ai_next) {
        swx_co_addr_t *a = &out[n];
        memset(a, 0, sizeof(*a));
        if (p->ai_family == AF_INET)
            memcpy(a->addr, &((struct sockaddr_in *)p->ai_addr)->sin_addr, 4);
        else if (p->ai_family == AF_INET6)
            memcpy(a->addr, &((struct sockaddr_in6 *)p->ai_addr)->sin6_addr,
                   16);
        else
            continue;
        a->family = p->ai_family;
        inet_ntop(a->family, a->addr, a->ip, sizeof(a->ip));
        *ttl = p->ai_ttl < *ttl ? p->ai_ttl : *ttl;
        n++;
    }
    return n;
}

/* Keep n addresses for ttl_ms, capped by dns_cache_expire. */
static void dns_keep(const char *name, int family, const swx_co_addr_t *a,
                     size_t n, int64_t ttl_ms)
{
    if (ttl_ms > dns.expire_ms)
        ttl_ms = dns.expire_ms;
    if (ttl_ms > 0 &&
        dns_cache_put(&dns.cache, name, family, a, n,
                      loop_now() + ttl_ms) < 0)
        log_warn("name lookup: no memory to cache the answer for %s", name);
}

/* Up to max of n addresses into out; the count. */
static int dns_copy(swx_co_addr_t *out, size_t max, const swx_co_addr_t *a,
                    size_t n)
{
    n = n < max ? n : max;
    memcpy(out, a, n * sizeof(*a));
    return (int)n;
}

typedef struct dns_files {
    int status;
    size_t n;
    swx_co_addr_t addrs[DNS_ADDRS_MAX];
} dns_files_t;

static void dns_files_cb(void *arg, int status, int timeouts,
                         struct ares_addrinfo *ai)
{
    (void)timeouts;
    dns_files_t *f = arg;
    int ttl;
    f->status = status;
    if (status == ARES_SUCCESS)
        f->n = dns_addrs(ai, f->addrs, DNS_ADDRS_MAX, &ttl);
    ares_freeaddrinfo(ai);
}

static struct ares_addrinfo_hints dns_hints(int family, int files)
{
    struct ares_addrinfo_hints h = {.ai_family = family};
    /* c-ares' own variable for another hosts file; set only when it is
     * there, as newer c-ares read a missing one as out of memory. */
    if (files && getenv("CARES_HOSTS") != NULL)
        h.ai_flags |= ARES_AI_ENVHOSTS;
    return h;
}

/* The hosts file: read at once (a local file, as glibc does), no loop
 * turn. The count, or 0 when the name is not there. */
static int dns_files(const char *name, int family, swx_co_addr_t *out,
                     size_t max)
{
    dns_files_t f = {.status = -1};
    struct ares_addrinfo_hints h = dns_hints(family, 1);
    ares_getaddrinfo(dns.files, name, NULL, &h, dns_files_cb, &f);
    if (f.status == -1) /* c-ares answers "f" lookups before returning */
        log_error("name lookup: the hosts file lookup of %s did not end",
                  name);
    if (f.status != ARES_SUCCESS || f.n == 0)
        return 0;
    dns_keep(name, family, f.addrs, f.n, DNS_HOSTS_TTL_MS);
    return dns_copy(out, max, f.addrs, f.n);
}

/* ---- DNS queries ---- */

static void query_unlink(dns_query_t *q)
{
    for (dns_query_t **pp = &dns.queries; *pp != NULL; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            return;
        }
}

static void query_cb(void *arg, int status, int timeouts,
                     struct ares_addrinfo *ai)
{
    (void)timeouts;
    dns_query_t *q = arg;
    swx_co_addr_t addrs[DNS_ADDRS_MAX];
    int ttl = 0, rc = dns_error(status);
    size_t n = 0;
    query_unlink(q); /* a new lookup now finds the cache or starts anew */
    dns.nqueries--;
    if (status == ARES_SUCCESS)
        n = dns_addrs(ai, addrs, DNS_ADDRS_MAX, &ttl);
    ares_freeaddrinfo(ai);
    if (status == ARES_SUCCESS && n == 0)
        rc = -ENOENT;
    if (n > 0) /* also when every waiter gave up */
        dns_keep(q->name, q->family, addrs, n, (int64_t)ttl * 1000);
    while (q->waiters != NULL) {
        dns_waiter_t *w = q->waiters;
        q->waiters = w->next;
        w->rc = n > 0 ? dns_copy(w->out, w->max, addrs, n) : rc;
        w->done = 1;
        if (!dns.freeing)
            coro_wake(w->co, 0); /* runs it now: it may look up again */
    }
    free(q);
}

/* Join the query in flight for (name, family), or start one (which
 * may end at once: then w is done). 0, -EAGAIN (DNS_QUERIES_MAX in
 * flight) or -ENOMEM. */
static int query_join(const char *name, int family, dns_waiter_t *w)
{
    for (dns_query_t *q = dns.queries; q != NULL; q = q->next)
        if (q->family == family && strcasecmp(q->name, name) == 0) {
            w->next = q->waiters;
            w->query = q;
            q->waiters = w;
            return 0;
        }
    if (dns.nqueries >= DNS_QUERIES_MAX)
        return -EAGAIN;
    size_t len = strlen(name) + 1;
    dns_query_t *q = malloc(sizeof(*q) + len);
    if (q == NULL)
        return -ENOMEM;
    dns.nqueries++;
    *q = (dns_query_t){.next = dns.queries, .family = family, .waiters = w};
    w->query = q;
    memcpy(q->name, name, len);
    dns.queries = q;
    struct ares_addrinfo_hints h = dns_hints(family, 0);
    ares_getaddrinfo(dns.net, name, NULL, &h, query_cb, q); /* may end now */
    dns_rearm();
    return 0;
}

/* A waiter that timed out or was cancelled leaves its query (alive:
 * it is freed only after waking every waiter still linked). */
static void waiter_unlink(dns_waiter_t *w)
{
    for (dns_waiter_t **pp = &w->query->waiters; *pp != NULL;
         pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            return;
        }
}

static int dns_query(const char *name, int family, swx_co_addr_t *out,
                     size_t max, long timeout_ms)
{
    dns_waiter_t w = {.co = coro_self(), .out = out, .max = max};
    int rc = query_join(name, family, &w);
    if (rc < 0)
        return rc;
    if (w.done)
        return w.rc;
    rc = coro_park(timeout_ms);
    if (w.done)
        return w.rc;
    waiter_unlink(&w);
    return rc;
}

/* ---- the SDK ---- */

/* A numeric address answers itself (no cache, no c-ares): 1, or -ENOENT
 * for one of the other family; 0 when name is not numeric. */
static int dns_numeric(const char *name, int family, swx_co_addr_t *out)
{
    swx_co_addr_t a = {0};
    if (inet_pton(AF_INET, name, a.addr) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, name, a.addr) == 1)
        a.family = AF_INET6;
    else
        return 0;
    if (family != AF_UNSPEC && family != a.family)
        return -ENOENT;
    inet_ntop(a.family, a.addr, a.ip, sizeof(a.ip));
    *out = a;
    return 1;
}

/* localhost and names under .localhost are the loopback addresses, asked
 * of nobody (RFC 6761 6.3). c-ares 1.18 does the same but leaks the name
 * when the hosts file lacks localhost. The count (1 or 2), or 0 for
 * another name. */
static int dns_localhost(const char *name, int family, swx_co_addr_t *out,
                         size_t max)
{
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (!((len == 9 && strncasecmp(name, "localhost", 9) == 0) ||
          (len > 10 && strncasecmp(name + len - 10, ".localhost", 10) == 0)))
        return 0;
    int n = 0;
    if (family != AF_INET6)
        n += dns_numeric("127.0.0.1", AF_INET, &out[n]);
    if (family != AF_INET && (size_t)n < max)
        n += dns_numeric("::1", AF_INET6, &out[n]);
    return n;
}

int coro_dns_lookup(const char *name, int family, swx_co_addr_t *out,
                    size_t max, long timeout_ms)
{
    if (coro_self() == NULL)
        return -EPERM;
    if (name == NULL || out == NULL || max == 0 ||
        (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC))
        return -EINVAL;
    if (dns.stopping || dns.loop == NULL)
        return dns.loop == NULL ? -ENOTSUP : -ECANCELED;
    int rc = dns_numeric(name, family, out);
    if (rc != 0)
        return rc;
    if (dns_name_check(name) < 0)
        return -EINVAL;
    if ((rc = dns_localhost(name, family, out, max)) > 0)
        return rc;
    rc = dns_cache_get(&dns.cache, name, family, loop_now(), out, max);
    if (rc > 0)
        return rc;
    if (!dns.ready && (rc = dns_channels()) < 0)
        return rc;
    rc = dns_files(name, family, out, max);
    if (rc > 0)
        return rc;
    return dns_query(name, family, out, max, timeout_ms);
}

int coro_dns_cache_clear(void)
{
    dns_cache_clear(&dns.cache);
    return 0;
}

/* ---- the process ---- */

int coro_dns_init(loop_t *loop, size_t capacity, int expire_s,
                  const char *servers)
{
    char why[128];
    dns.loop = loop;
    dns.expire_ms = (int64_t)expire_s * 1000;
    dns_cache_init(&dns.cache, capacity);
    if (servers == NULL)
        return 0;
    int n = dns_servers_parse(servers, dns.servers, DNS_SERVERS_MAX, why,
                              sizeof(why));
    if (n < 0) {
        log_error("name lookup: dns_server: %s", why);
        return n;
    }
    dns.nservers = n;
    return 0;
}

void coro_dns_stop(void)
{
    dns.stopping = 1;
    if (dns.net != NULL)
        ares_cancel(dns.net); /* each query calls back: -ECANCELED */
    if (dns.loop != NULL)
        dns_rearm();
}

void coro_dns_free(void)
{
    dns.freeing = 1;
    dns_channels_free();
    if (dns.timer != 0)
        timer_clear(loop_timers(dns.loop), dns.timer);
    dns.timer = 0;
    dns_cache_free(&dns.cache);
}
