/* codns.c: the plugin the name lookup tests drive with one-line commands
 * over TCP (each answered with one line): lookups in the callback's
 * coroutine, several at once, the cache cleared; and one lookup outside a
 * coroutine at worker start, logged. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <swx_plugin.h>

#define MANY_MAX 16

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line back to the client (the tests read up to the newline). */
static void reply(uint64_t session, const char *text)
{
    swx_send(session, text, strlen(text));
    swx_send(session, "\n", 1);
}

/* "4", "6" or "any". */
static int family_of(const char *s)
{
    return strcmp(s, "4") == 0 ? AF_INET
         : strcmp(s, "6") == 0 ? AF_INET6 : AF_UNSPEC;
}

/* "ip,ip,..." of the first n addresses (family checked against ip). */
static void addr_list(const swx_co_addr_t *a, int n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
        int ok = (a[i].family == AF_INET || a[i].family == AF_INET6) &&
                 a[i].ip[0] != '\0';
        used += (size_t)snprintf(out + used, len - used, "%s%s",
                                 i ? "," : "", ok ? a[i].ip : "?");
    }
}

/* dns NAME FAMILY MAX TIMEOUT_MS */
static void cmd_dns(uint64_t session, const char *name, const char *family,
                    long max, long timeout_ms)
{
    swx_co_addr_t a[32];
    if (max < 1 || max > 32)
        max = 32;
    long long t0 = now_ms();
    int rc = swx_co_dns_lookup(name, family_of(family), a, (size_t)max,
                               timeout_ms);
    long long took = now_ms() - t0;
    char list[1024] = "";
    if (rc > 0)
        addr_list(a, rc, list, sizeof(list));
    swx_log(SWX_LOG_NOTICE, "codns: lookup %s rc=%d took=%lld", name, rc,
            took);
    char out[1200];
    snprintf(out, sizeof(out), "dns rc=%d addrs=%s took=%lld", rc, list,
             took);
    reply(session, out);
}

/* ---- several lookups at once ---- */

typedef struct many {
    swx_co_wg_t *wg;
    const char *name;
    int rc[MANY_MAX];
    char ip[MANY_MAX][46];
} many_t;

typedef struct one {
    many_t *m;
    int i;
} one_t;

static void lookup_one(void *arg)
{
    one_t *o = arg;
    swx_co_addr_t a;
    o->m->rc[o->i] = swx_co_dns_lookup(o->m->name, AF_INET, &a, 1, 5000);
    if (o->m->rc[o->i] == 1)
        memcpy(o->m->ip[o->i], a.ip, sizeof(a.ip));
    swx_co_wg_done(o->m->wg);
}

/* many N NAME: N coroutines look NAME up at once. */
static void cmd_many(uint64_t session, long n, const char *name)
{
    many_t *m = calloc(1, sizeof(*m));
    one_t one[MANY_MAX];
    if (m == NULL || n < 1 || n > MANY_MAX) {
        free(m);
        reply(session, "many bad");
        return;
    }
    m->wg = swx_co_wg_new();
    m->name = name;
    swx_co_wg_add(m->wg, n);
    long long t0 = now_ms();
    for (int i = 0; i < n; i++) {
        one[i] = (one_t){m, i};
        swx_go(lookup_one, &one[i]);
    }
    int rc = swx_co_wg_wait(m->wg, 10000);
    char out[1024];
    int used = snprintf(out, sizeof(out), "many rc=%d took=%lld", rc,
                        now_ms() - t0);
    for (int i = 0; i < n; i++)
        used += snprintf(out + used, sizeof(out) - (size_t)used, " %d:%s",
                         m->rc[i], m->ip[i]);
    reply(session, out);
    swx_co_wg_free(m->wg);
    free(m);
}

/* ---- many distinct names at once (the bound on questions in flight) ---- */

typedef struct flood {
    swx_co_wg_t *wg;
    const char *prefix;
    long timeout_ms;
    int next;
    long eagain, timedout, other;
} flood_t;

static void flood_one(void *arg)
{
    flood_t *f = arg;
    char name[128];
    swx_co_addr_t a;
    snprintf(name, sizeof(name), "%s%d.swx-test", f->prefix, f->next++);
    int rc = swx_co_dns_lookup(name, AF_INET, &a, 1, f->timeout_ms);
    if (rc == -EAGAIN)
        f->eagain++;
    else if (rc == -ETIMEDOUT)
        f->timedout++;
    else
        f->other++;
    swx_co_wg_done(f->wg);
}

/* flood N PREFIX TIMEOUT_MS: N coroutines look up N distinct names. */
static void cmd_flood(uint64_t session, long n, const char *prefix,
                      long timeout_ms)
{
    flood_t f = {swx_co_wg_new(), prefix, timeout_ms, 0, 0, 0, 0};
    swx_co_wg_add(f.wg, n);
    for (long i = 0; i < n; i++)
        if (swx_go(flood_one, &f) < 0)
            swx_co_wg_done(f.wg);
    int rc = swx_co_wg_wait(f.wg, 60000);
    char out[128];
    snprintf(out, sizeof(out), "flood rc=%d eagain=%ld timedout=%ld "
             "other=%ld", rc, f.eagain, f.timedout, f.other);
    reply(session, out);
    swx_co_wg_free(f.wg);
}

/* ---- commands ---- */

static void on_receive(uint64_t session, const void *data, size_t len)
{
    char line[512], name[300], family[8];
    long a = 0, b = 0;
    snprintf(line, sizeof(line), "%.*s", (int)len, (const char *)data);
    line[strcspn(line, "\r\n")] = '\0';
    if (sscanf(line, "dns %299s %7s %ld %ld", name, family, &a, &b) == 4)
        cmd_dns(session, name, family, a, b);
    else if (sscanf(line, "many %ld %299s", &a, name) == 2)
        cmd_many(session, a, name);
    else if (sscanf(line, "flood %ld %99s %ld", &a, name, &b) == 3)
        cmd_flood(session, a, name, b);
    else if (strcmp(line, "clear") == 0)
        reply(session, swx_co_dns_cache_clear() == 0 ? "clear rc=0"
                                                     : "clear failed");
    else if (strcmp(line, "ping") == 0)
        reply(session, "pong");
    else
        reply(session, "unknown command");
}

/* on_worker_start is a plain call: a lookup there is refused (-EPERM),
 * never blocking the process. */
static int on_worker_start(int worker_id)
{
    swx_co_addr_t a;
    int rc = swx_co_dns_lookup("localhost", AF_INET, &a, 1, 1000);
    swx_log(SWX_LOG_NOTICE, "codns: worker %d outside a coroutine rc=%d",
            worker_id, rc);
    return 0;
}

SWX_PLUGIN(.name = "codns", .on_receive = on_receive,
           .on_worker_start = on_worker_start);
