/* coprobe.c: the plugin the coroutine tests drive with one-line commands over
 * TCP (each answered with one line), an HTTP handler that waits, and an
 * on_task that sleeps; it reports what the runtime did. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <swx_plugin.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Resident bytes of this process (/proc/self/statm). */
static long long rss_bytes(void)
{
    long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%lld %lld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * sysconf(_SC_PAGESIZE);
}

static void reply(uint64_t session, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reply(uint64_t session, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    swx_send(session, line, (size_t)n);
}

/* ---- sleepers: N coroutines sleeping random times wake in order ---- */

typedef struct sleepers {
    swx_co_wg_t *wg;
    long long last_due;  /* the due time of the last to wake */
    long inversions;     /* woke after one due later (beyond 1 ms) */
    long long worst;     /* the largest such gap, ms */
    long early;          /* woke before their time */
    long failed;
} sleepers_t;

typedef struct sleeper {
    sleepers_t *s;
    long ms;
} sleeper_t;

static void sleeper(void *arg)
{
    sleeper_t *z = arg;
    sleepers_t *s = z->s;
    long long due = now_ms() + z->ms;
    if (swx_co_sleep(z->ms) != 0)
        s->failed++;
    long long now = now_ms();
    if (now < due)
        s->early++;
    if (due + 1 < s->last_due) {
        s->inversions++;
        if (s->last_due - due > s->worst)
            s->worst = s->last_due - due;
    }
    if (due > s->last_due)
        s->last_due = due;
    swx_co_wg_done(s->wg);
}

static void cmd_sleepers(uint64_t session, long n, long max_ms)
{
    sleepers_t s = {swx_co_wg_new(), 0, 0, 0, 0, 0};
    sleeper_t *z = calloc((size_t)n, sizeof(*z));
    unsigned seed = 12345;
    long long before = rss_bytes(), t0 = now_ms();
    swx_co_wg_add(s.wg, n);
    long started = 0;
    for (long i = 0; i < n; i++) {
        z[i] = (sleeper_t){&s, 100 + rand_r(&seed) % max_ms};
        if (swx_go(sleeper, &z[i]) > 0)
            started++;
        else
            swx_co_wg_done(s.wg);
    }
    swx_co_stats_t st;
    swx_co_stats(&st);
    long long during = rss_bytes();
    int rc = swx_co_wg_wait(s.wg, 60000);
    reply(session, "sleepers rc=%d started=%ld live=%lld failed=%ld "
          "early=%ld inversions=%ld worst=%lld per_coroutine=%lld "
          "took=%lld", rc, started, (long long)st.live, s.failed, s.early,
          s.inversions, s.worst,
          (during - before) / (n > 0 ? n : 1), now_ms() - t0);
    swx_co_wg_free(s.wg);
    free(z);
}

/* ---- a channel between a producer and consumers ---- */

typedef struct pc {
    swx_co_chan_t *ch;
    swx_co_wg_t *wg;
    long sum, count, used;
    long per[16];
} pc_t;

typedef struct consumer {
    pc_t *pc;
    int idx;
} consumer_t;

static void consumer(void *arg)
{
    consumer_t *c = arg;
    void *item;
    while (swx_co_chan_pop(c->pc->ch, &item, 5000) == 0) {
        c->pc->sum += (long)(intptr_t)item;
        c->pc->count++;
        if (c->pc->per[c->idx]++ == 0)
            c->pc->used++;
        swx_co_sleep(rand() % 3); /* let the others take some */
    }
    swx_co_wg_done(c->pc->wg);
}

static void cmd_chan(uint64_t session, int consumers, long items, long cap)
{
    pc_t pc = {swx_co_chan_new((size_t)cap), swx_co_wg_new(), 0, 0, 0, {0}};
    consumer_t c[16];
    if (consumers > 16)
        consumers = 16;
    swx_co_wg_add(pc.wg, consumers);
    for (int i = 0; i < consumers; i++) {
        c[i] = (consumer_t){&pc, i};
        swx_go(consumer, &c[i]);
    }
    long maxlen = 0;
    for (long i = 1; i <= items; i++) {
        if (swx_co_chan_push(pc.ch, (void *)(intptr_t)i, 5000) != 0)
            break;
        if ((long)swx_co_chan_length(pc.ch) > maxlen)
            maxlen = (long)swx_co_chan_length(pc.ch);
    }
    swx_co_chan_close(pc.ch);
    int rc = swx_co_wg_wait(pc.wg, 10000);
    reply(session, "chan rc=%d sum=%ld count=%ld used=%ld maxlen=%ld", rc,
          pc.sum, pc.count, pc.used, maxlen);
    swx_co_chan_free(pc.ch);
    swx_co_wg_free(pc.wg);
}

/* ---- two coroutines in swx_taskwait at once ---- */

typedef struct tw {
    swx_co_wg_t *wg;
    int dst;
    int rc;
    char out[64];
} tw_t;

static void taskwaiter(void *arg)
{
    tw_t *t = arg;
    void *res = NULL;
    size_t len = 0;
    t->rc = swx_taskwait("sleep 2000", 10, t->dst, 5000, &res, &len);
    if (t->rc == 0) {
        snprintf(t->out, sizeof(t->out), "%.*s", (int)len, (char *)res);
        swx_free(res);
    }
    swx_co_wg_done(t->wg);
}

static void cmd_taskwait2(uint64_t session)
{
    swx_co_wg_t *wg = swx_co_wg_new();
    tw_t a = {wg, 0, -1, ""}, b = {wg, 1, -1, ""};
    long long t0 = now_ms();
    swx_co_wg_add(wg, 2);
    swx_go(taskwaiter, &a);
    swx_go(taskwaiter, &b);
    int rc = swx_co_wg_wait(wg, 10000);
    reply(session, "taskwait2 rc=%d a=%d:%s b=%d:%s took=%lld", rc, a.rc,
          a.out, b.rc, b.out, now_ms() - t0);
    swx_co_wg_free(wg);
}

static void on_task(int64_t task_id, int src_worker, const void *data,
                    size_t len)
{
    (void)task_id;
    (void)src_worker;
    /* The task's bytes are counted, not NUL-terminated: what follows them
     * in the buffer may be anything (digits under MALLOC_PERTURB_). */
    char text[32];
    int tn = snprintf(text, sizeof(text), "%.*s",
                      (int)(len < sizeof(text) ? len : sizeof(text) - 1),
                      (const char *)data);
    if (tn >= 6 && memcmp(text, "sleep ", 6) == 0)
        usleep((useconds_t)atoi(text + 6) * 1000);
    char out[64];
    int n = snprintf(out, sizeof(out), "done-by-%d", swx_worker_id());
    swx_finish(out, (size_t)n);
}

/* ---- a stack overflow ---- */

static int __attribute__((noinline)) recurse(int depth, volatile char *prev)
{
    volatile char frame[1024];
    if (depth > 1000000) /* 1 GB of frames: past any stack */
        return 0;
    frame[0] = (char)depth;
    frame[1023] = prev != NULL ? prev[0] : 0;
    return recurse(depth + 1, frame) + frame[1023];
}

/* ---- coroutines parked at stop or reload ---- */

static int parked_live;

static void parked_cleanup(void *arg)
{
    swx_log(SWX_LOG_NOTICE, "coprobe: parked %s cleaned up",
            (const char *)arg);
    parked_live--;
}

static void parked_yield(void *arg)
{
    (void)arg;
    parked_live++;
    swx_co_defer(parked_cleanup, "yield");
    int rc = swx_co_yield();
    int again = swx_co_sleep(10);
    swx_log(SWX_LOG_NOTICE, "coprobe: parked yield woke rc=%d again=%d", rc,
            again);
}

static void parked_sleep(void *arg)
{
    (void)arg;
    parked_live++;
    swx_co_defer(parked_cleanup, "sleep");
    int rc = swx_co_sleep(3600 * 1000);
    swx_log(SWX_LOG_NOTICE, "coprobe: parked sleep woke rc=%d", rc);
}

static void parked_chan(void *arg)
{
    swx_co_chan_t *ch = arg;
    void *item;
    parked_live++;
    swx_co_defer(parked_cleanup, "chan");
    int rc = swx_co_chan_pop(ch, &item, -1);
    swx_log(SWX_LOG_NOTICE, "coprobe: parked chan woke rc=%d", rc);
}

static swx_co_chan_t *park_chan;

static void cmd_park(uint64_t session)
{
    if (park_chan == NULL)
        park_chan = swx_co_chan_new(1);
    int64_t a = swx_go(parked_yield, NULL);
    int64_t b = swx_go(parked_sleep, NULL);
    int64_t c = swx_go(parked_chan, park_chan);
    reply(session, "park %lld %lld %lld live=%d", (long long)a,
          (long long)b, (long long)c, parked_live);
}

static void on_worker_stop(int worker_id)
{
    swx_co_stats_t st;
    swx_co_stats(&st);
    swx_log(SWX_LOG_NOTICE, "coprobe: on_worker_stop %d parked=%d live=%lld",
            worker_id, parked_live, (long long)st.live);
    if (park_chan != NULL && swx_co_chan_free(park_chan) == 0)
        park_chan = NULL;
}

/* ---- send_yield: stream MB mebibytes in 64 KiB sends ---- */

static void cmd_stream(uint64_t session, long mb)
{
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    long long before = rss_bytes(), peak = before;
    long sent = 0;
    int rc = 0;
    for (long i = 0; i < mb * 16 && rc == 0; i++) {
        rc = swx_send(session, chunk, sizeof(chunk));
        sent += rc == 0;
        if ((i & 63) == 0 && rss_bytes() > peak)
            peak = rss_bytes();
    }
    reply(session, "stream rc=%d sent=%ld growth=%lld", rc, sent,
          peak - before);
}

/* ---- swx_go from a callback (a plain call with enable_coroutine off) */

static void go_body(void *arg)
{
    uint64_t session = (uint64_t)(uintptr_t)arg;
    reply(session, "go woke rc=%d", swx_co_sleep(20));
}

static void cmd_go(uint64_t session)
{
    int64_t in = swx_co_id();
    /* go_body runs at once until its sleep, so this line goes first */
    int64_t id = swx_go(go_body, (void *)(uintptr_t)session);
    reply(session, "go id=%lld in=%lld", (long long)id, (long long)in);
}

/* ---- the watchdog: a callback that waits, then runs ---- */

/* Sleep nap ms in the coroutine, then keep the CPU for spin ms. */
static void cmd_work(uint64_t session, long nap, long spin)
{
    int rc = nap > 0 ? swx_co_sleep(nap) : 0;
    long long end = now_ms() + spin;
    volatile unsigned long n = 0;
    while (now_ms() < end)
        n++;
    reply(session, "work rc=%d pid=%d", rc, (int)getpid());
}

/* ---- commands ---- */

static void cmd_info(uint64_t session)
{
    swx_co_stats_t st;
    swx_co_stats(&st);
    reply(session, "info id=%lld sleep=%d yield=%d pid=%d live=%lld "
          "stack=%lld max=%lld created=%lld", (long long)swx_co_id(),
          swx_co_sleep(1), swx_co_id() < 0 ? swx_co_yield() : 0,
          (int)getpid(), (long long)st.live, (long long)st.stack_size,
          (long long)st.max, (long long)st.created);
}

static void on_receive(uint64_t session, const void *data, size_t len)
{
    char line[256];
    snprintf(line, sizeof(line), "%.*s", (int)len, (const char *)data);
    line[strcspn(line, "\r\n")] = '\0';
    long a = 0, b = 0, c = 0;
    if (sscanf(line, "sleepers %ld %ld", &a, &b) == 2)
        cmd_sleepers(session, a, b);
    else if (sscanf(line, "chan %ld %ld %ld", &a, &b, &c) == 3)
        cmd_chan(session, (int)a, b, c);
    else if (sscanf(line, "work %ld %ld", &a, &b) == 2)
        cmd_work(session, a, b);
    else if (sscanf(line, "stream %ld", &a) == 1)
        cmd_stream(session, a);
    else if (strcmp(line, "taskwait2") == 0)
        cmd_taskwait2(session);
    else if (strcmp(line, "deep") == 0)
        reply(session, "deep %d", recurse(0, NULL));
    else if (strcmp(line, "park") == 0)
        cmd_park(session);
    else if (strcmp(line, "go") == 0)
        cmd_go(session);
    else if (strcmp(line, "info") == 0)
        cmd_info(session);
    else if (strcmp(line, "ping") == 0)
        reply(session, "pong %d", (int)getpid());
    else
        reply(session, "unknown %s", line);
}

/* GET /sleep?ms=N: answers after N ms, the worker serving others meanwhile;
 * /late: the callback returns and a coroutine ends the response later. */
static void late_end(void *arg)
{
    swx_co_sleep(100);
    swx_http_end(arg, "late\n", 5);
}

static void on_request(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    char ms[16] = "0";
    if (req->path_len == 5 && memcmp(req->path, "/late", 5) == 0) {
        swx_go(late_end, resp);
        return;
    }
    swx_http_query_param(req, "ms", ms, sizeof(ms));
    int rc = swx_co_sleep(atol(ms));
    char out[64];
    int n = snprintf(out, sizeof(out), "slept %s rc=%d pid=%d\n", ms, rc,
                     (int)getpid());
    swx_http_end(resp, out, (size_t)n);
}

SWX_PLUGIN(.name = "coprobe", .on_receive = on_receive,
           .on_request = on_request, .on_task = on_task,
           .on_worker_stop = on_worker_stop);
