/* loadgen.c: closed-loop (or, with -r, paced) load generator for loopback benchmarks: TCP echo,
 * or HTTP/1.1 keep-alive GETs (--http); with --cpu-pid, the server's CPU
 * time per request. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_resp.h"
#include "proc_cpu.h"

#define MAX_DURATION 60        /* seconds, hard cap */
#define MAX_WARMUP 10          /* seconds */
#define MAX_CONNS 20000
#define MAX_DEPTH 1024
#define MAX_SIZE (1 << 20)
#define MAX_PATH 2048          /* --http PATH */
#define MAX_INFLIGHT (4 << 20) /* depth * size per connection */
#define MAX_THREADS 64
#define MAX_RATE 10000000      /* -r, requests/s */
#define RECV_BUF 65536
#define MAX_EVENTS 256
#define TICK_MS 100            /* how late a thread may notice the end */
#define LOG_LIMIT 20           /* warnings printed before going quiet */
#define NS 1000000000ull

/* Log-linear histogram of nanoseconds: 64 sub-buckets per power of two
 * (relative error under 1.6 %), exact below 128 ns. */
#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_SHIFT 34
#define HIST_BUCKETS ((HIST_MAX_SHIFT + 2) * HIST_SUB)

enum conn_state { CONN_CONNECTING, CONN_OPEN, CONN_DEAD };

typedef struct opts {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *host;
    int port;
    int conns;
    int depth;
    int threads;
    size_t size;
    int duration;
    int warmup;
    long rate;             /* -r: requests/s over all threads; 0: closed loop */
    const char *http_path; /* HTTP mode when set */
    char *request;         /* HTTP mode: the request sent, opt.size bytes */
} opts_t;

typedef struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[HIST_BUCKETS];
} hist_t;

typedef struct stats {
    uint64_t requests;
    uint64_t connect_err;
    uint64_t io_err;
    uint64_t mismatch;
    uint64_t bad_status;   /* HTTP: whole responses other than 200 */
    uint64_t bad_resp;     /* HTTP: malformed or unasked-for responses */
    uint64_t resp_bytes;   /* HTTP: bytes of the responses counted */
} stats_t;

/*
 * The byte stream of one connection is the concatenation of its messages
 * (in HTTP mode, of the same request again and again).
 * Positions count bytes from the start: acked <= sent <= queued, and
 * queued - acked <= depth * size, so the not-yet-echoed bytes fit in a ring
 * of that size in which no message straddles the end.
 */
typedef struct conn {
    int fd;
    enum conn_state state;
    uint32_t id;
    uint32_t events;
    uint64_t queued;
    uint64_t sent;
    uint64_t acked;
    unsigned char *ring;
    uint64_t *sent_ns;   /* queue time of message m at [m % depth] */
    http_resp_t *resp;   /* HTTP mode: the response being read */
} conn_t;

/* --cpu-pid: the server's CPU time over the measured window, sampled by a
 * thread of its own at both ends of the window. */
typedef struct cpu_probe {
    pid_t root;              /* 0: not asked for */
    pthread_t tid;
    atomic_int over;         /* the sampler has finished, one way or another */
    bool ok;                 /* both samples taken */
    uint64_t at_ns[2];       /* when each sample was taken */
    proc_cpu_t tree[2];
} cpu_probe_t;

/* -r: one thread's schedule. Request k is due at start + k * interval_ns;
 * the due ones wait in a backlog until a connection has room, and their
 * latency runs from when they were due (no coordinated omission). */
typedef struct pace {
    bool on;             /* -r given: paced; else closed loop */
    uint64_t start;
    double interval_ns;
    uint64_t issued;     /* requests sent so far */
    uint64_t armed;      /* when the loop's wait ends for the next tick; 0: off */
    int cursor;          /* the connection to try first */
} pace_t;

typedef struct worker {
    pthread_t tid;
    int epfd;
    pace_t pace;
    conn_t *conns;
    int nconns;
    int live;
    hist_t hist;
    stats_t st;
} worker_t;

static opts_t opt = {
    .conns = 100, .depth = 1, .threads = 1, .size = 64,
    .duration = 5, .warmup = 1,
};
static uint64_t t_measure;  /* monotonic ns: end of warm-up */
static uint64_t t_end;      /* monotonic ns: end of measurement */
static atomic_int stop_flag;
static atomic_int stop_signal; /* SIGINT or SIGTERM, once received */
static atomic_int log_budget = LOG_LIMIT;
static atomic_int workers_done;
static cpu_probe_t cpu;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Rate-limited warning: a dead server must not flood the terminal. */
static void lg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lg_warn(const char *fmt, ...)
{
    int left = atomic_fetch_sub(&log_budget, 1);
    va_list ap;

    if (left <= 0)
        return;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (left == 1)
        fputs("loadgen: further warnings suppressed\n", stderr);
}

static unsigned hist_index(uint64_t v)
{
    unsigned shift;

    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
    if (shift > HIST_MAX_SHIFT)
        return HIST_BUCKETS - 1;
    return shift * HIST_SUB + (unsigned)(v >> shift);
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
    unsigned shift;
    uint64_t m;

    if (i < 2 * HIST_SUB)
        return i;
    shift = i / HIST_SUB - 1;
    m = i % HIST_SUB + HIST_SUB;
    return (m << shift) + ((1ull << shift) - 1) / 2;
}

static void hist_add(hist_t *h, uint64_t v)
{
    h->buckets[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static void hist_merge(hist_t *dst, const hist_t *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->max > dst->max)
        dst->max = src->max;
}

static uint64_t hist_pct(const hist_t *h, double q)
{
    uint64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count || rank == 0)
        rank++;  /* ceil, and at least the first sample */
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Message bytes depend on connection and sequence number, so an echo that
 * mixes up connections or reorders messages is caught. */
static void fill_msg(unsigned char *dst, uint32_t conn, uint64_t msg)
{
    uint64_t seed = mix64(((uint64_t)conn << 44) ^ msg);
    uint64_t x = 0;

    for (size_t i = 0; i < opt.size; i++) {
        if ((i & 7) == 0)
            x = mix64(seed + (i >> 3));
        dst[i] = (unsigned char)(x >> ((i & 7) * 8));
    }
}

static size_t ring_cap(void)
{
    return (size_t)opt.depth * opt.size;
}

static void conn_kill(worker_t *w, conn_t *c, uint64_t *counter)
{
    if (c->state == CONN_DEAD)
        return;
    close(c->fd);
    c->fd = -1;
    c->state = CONN_DEAD;
    w->live--;
    if (counter)
        (*counter)++;
}

static int conn_watch(worker_t *w, conn_t *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };

    if (c->events == events)
        return 0;
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        lg_warn("epoll_ctl(MOD, conn %u): %s", c->id, strerror(errno));
        conn_kill(w, c, &w->st.io_err);
        return -1;
    }
    c->events = events;
    return 0;
}

/* In HTTP mode the ring holds copies of the request from the start; "now"
 * is when the request counts as sent (its due time when paced). */
static void conn_queue(conn_t *c, uint64_t now)
{
    uint64_t msg = c->queued / opt.size;

    if (!opt.request)
        fill_msg(c->ring + c->queued % ring_cap(), c->id, msg);
    c->sent_ns[msg % (uint64_t)opt.depth] = now;
    c->queued += opt.size;
}

static int conn_flush(worker_t *w, conn_t *c)
{
    size_t cap = ring_cap();

    while (c->sent < c->queued) {
        size_t off = c->sent % cap;
        size_t len = c->queued - c->sent;
        ssize_t n;

        if (len > cap - off)
            len = cap - off;
        n = send(c->fd, c->ring + off, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            lg_warn("send(conn %u): %s", c->id, strerror(errno));
            conn_kill(w, c, &w->st.io_err);
            return -1;
        }
        c->sent += (uint64_t)n;
    }
    return conn_watch(w, c, c->sent < c->queued ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static int conn_start(worker_t *w, conn_t *c)
{
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    int one = 1;

    c->fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        lg_warn("socket: %s", strerror(errno));
        c->state = CONN_DEAD;
        w->st.connect_err++;
        return -1;
    }
    c->state = CONN_CONNECTING;
    c->events = EPOLLOUT;
    w->live++;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        lg_warn("setsockopt(TCP_NODELAY): %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&opt.addr, opt.addrlen) < 0 &&
        errno != EINPROGRESS) {
        lg_warn("connect(conn %u): %s", c->id, strerror(errno));
        conn_kill(w, c, &w->st.connect_err);
        return -1;
    }
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        lg_warn("epoll_ctl(ADD): %s", strerror(errno));
        conn_kill(w, c, &w->st.connect_err);
        return -1;
    }
    return 0;
}

static void conn_opened(worker_t *w, conn_t *c, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        lg_warn("connect(conn %u): %s", c->id, strerror(err));
        conn_kill(w, c, &w->st.connect_err);
        return;
    }
    c->state = CONN_OPEN;
    for (int i = 0; i < opt.depth && !opt.rate; i++)
        conn_queue(c, now);
    conn_flush(w, c);
}

/* Whether buf[0..len) equals the stream from position acked on. */
static bool ring_matches(const conn_t *c, const unsigned char *buf, size_t len)
{
    size_t cap = ring_cap();
    size_t off = c->acked % cap;
    size_t first = len < cap - off ? len : cap - off;

    if (memcmp(buf, c->ring + off, first) != 0)
        return false;
    return memcmp(buf + first, c->ring, len - first) == 0;
}

/* Whether the request fell in the measured window and was counted. */
static bool record(worker_t *w, uint64_t latency, uint64_t now)
{
    if (now < t_measure || now >= t_end)
        return false;
    hist_add(&w->hist, latency);
    w->st.requests++;
    return true;
}

/* Account n verified bytes: each message whose last byte arrived is done,
 * and a new one takes its place to keep depth outstanding. */
static void conn_acked(worker_t *w, conn_t *c, size_t n, uint64_t now)
{
    uint64_t first = c->acked / opt.size;
    uint64_t last;

    c->acked += n;
    last = c->acked / opt.size;
    for (uint64_t m = first; m < last; m++) {
        record(w, now - c->sent_ns[m % (uint64_t)opt.depth], now);
        if (!opt.rate)
            conn_queue(c, now);
    }
}

/* HTTP mode: a whole response answers the oldest request; one other than
 * 200 is an error, not a request served. */
static void http_answered(worker_t *w, conn_t *c, uint64_t now)
{
    uint64_t m = c->acked / opt.size;

    c->acked += opt.size;
    if (c->resp->status != 200) {
        lg_warn("conn %u: status %d", c->id, c->resp->status);
        w->st.bad_status++;
    } else if (record(w, now - c->sent_ns[m % (uint64_t)opt.depth], now)) {
        w->st.resp_bytes += c->resp->bytes;
    }
    if (!opt.rate)
        conn_queue(c, now);
}

/* HTTP mode: n bytes read, holding any number of responses or parts. A
 * malformed response, or one before its request was wholly sent, leaves
 * the stream impossible to follow: the connection is dropped. */
static void conn_read_http(worker_t *w, conn_t *c, const unsigned char *buf, size_t n)
{
    uint64_t now = now_ns();

    while (n > 0) {
        size_t used;
        enum http_resp_rc rc = http_resp_feed(c->resp, buf, n, &used);

        if (rc == HTTP_RESP_BAD || (rc == HTTP_RESP_DONE && c->sent - c->acked < opt.size)) {
            lg_warn("conn %u: %s", c->id,
                    rc == HTTP_RESP_BAD ? "malformed response" : "response to no request");
            conn_kill(w, c, &w->st.bad_resp);
            return;
        }
        buf += used;
        n -= used;
        if (rc == HTTP_RESP_DONE)
            http_answered(w, c, now);
    }
}

static void conn_read(worker_t *w, conn_t *c, unsigned char *buf)
{
    ssize_t n = recv(c->fd, buf, RECV_BUF, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        lg_warn("recv(conn %u): %s", c->id, strerror(errno));
        conn_kill(w, c, &w->st.io_err);
        return;
    }
    if (n == 0) {
        lg_warn("conn %u: closed by the server", c->id);
        conn_kill(w, c, &w->st.io_err);
        return;
    }
    if (opt.request) {
        conn_read_http(w, c, buf, (size_t)n);
    } else if ((uint64_t)n > c->sent - c->acked || !ring_matches(c, buf, (size_t)n)) {
        lg_warn("conn %u: echoed bytes differ from those sent", c->id);
        conn_kill(w, c, &w->st.mismatch);
    } else {
        conn_acked(w, c, (size_t)n, now_ns());
    }
    if (c->state == CONN_OPEN)
        conn_flush(w, c);
}

static uint64_t pace_due_at(const pace_t *p, uint64_t k)
{
    return p->start + (uint64_t)((double)k * p->interval_ns);
}

/* A connection open with fewer than depth requests outstanding, starting
 * from the cursor so the load spreads over all of them; NULL when none. */
static conn_t *pace_free_conn(worker_t *w)
{
    for (int i = 0; i < w->nconns; i++) {
        conn_t *c = &w->conns[(w->pace.cursor + i) % w->nconns];

        if (c->state == CONN_OPEN && c->queued - c->acked < ring_cap()) {
            w->pace.cursor = (int)((c - w->conns) + 1) % w->nconns;
            return c;
        }
    }
    return NULL;
}

/* -r: the ticks fall on multiples of this, at most: the requests due
 * meanwhile go out together. A tick per request at tens of thousands a
 * second cost this thread more than the requests and queued them behind
 * it; the wait for the tick, up to this, counts in their latency, which
 * runs from when they were due. A tick is the end of the loop's
 * epoll_pwait2 timeout (nanoseconds, timer slack 1 ns), not a timerfd:
 * that cost a timerfd_settime and a read per tick, about a tenth of this
 * thread's time at 40 000 requests/s (perf), which the server measured
 * beside it then did not have. */
#define PACE_TICK_NS 50000

/* -r: sends every request now due, while a connection has room, then sets
 * the tick for the next one; with requests due and no room there is none,
 * the next answer calls again. */
static void pace_send(worker_t *w)
{
    pace_t *p = &w->pace;
    uint64_t now = now_ns();
    uint64_t next;
    conn_t *c;

    if (!p->on)
        return;
    while (pace_due_at(p, p->issued) <= now) {
        c = pace_free_conn(w);
        if (!c)
            break;
        conn_queue(c, pace_due_at(p, p->issued));
        p->issued++;
        conn_flush(w, c);
    }
    next = pace_due_at(p, p->issued) > now ? pace_due_at(p, p->issued) : 0;
    if (next != 0)
        next = (next + PACE_TICK_NS - 1) / PACE_TICK_NS * PACE_TICK_NS;
    p->armed = next;
}

static int pace_init(worker_t *w)
{
    w->pace.on = opt.rate != 0;
    if (w->pace.on)
        w->pace.interval_ns = (double)NS * opt.threads / (double)opt.rate;
    return 0;
}

/* -r: the tick is due: what is due goes out. */
static void pace_tick(worker_t *w)
{
    if (w->pace.armed != 0 && now_ns() >= w->pace.armed) {
        w->pace.armed = 0;
        pace_send(w);
    }
}

static void conn_event(worker_t *w, conn_t *c, uint32_t events, unsigned char *buf)
{
    if (c->state == CONN_CONNECTING)
        conn_opened(w, c, now_ns());
    else if (c->state == CONN_OPEN && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_read(w, c, buf);
    if (c->state == CONN_OPEN && (events & EPOLLOUT))
        conn_flush(w, c);
    if (opt.rate)
        pace_send(w);  /* an opened connection or an answer makes room */
}

static int wait_ms(void)
{
    uint64_t now = now_ns();
    uint64_t left = now < t_end ? (t_end - now + 999999) / 1000000 : 0;

    return left < TICK_MS ? (int)left : TICK_MS;
}

/* The loop's wait: up to TICK_MS or the run's end, or to the next pace
 * tick when that comes first. */
static struct timespec wait_ts(const worker_t *w)
{
    uint64_t now = now_ns();
    uint64_t ns = (uint64_t)wait_ms() * 1000000;

    if (w->pace.armed != 0)
        ns = w->pace.armed > now ? (w->pace.armed - now < ns ? w->pace.armed - now : ns) : 0;
    return (struct timespec){ .tv_sec = (time_t)(ns / NS), .tv_nsec = (long)(ns % NS) };
}

static void worker_loop(worker_t *w, unsigned char *buf)
{
    struct epoll_event ev[MAX_EVENTS];

    while (!atomic_load(&stop_flag) && w->live > 0 && now_ns() < t_end) {
        struct timespec ts = wait_ts(w);
        int n = epoll_pwait2(w->epfd, ev, MAX_EVENTS, &ts, NULL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lg_warn("epoll_wait: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++)
            conn_event(w, ev[i].data.ptr, ev[i].events, buf);
        pace_tick(w);
    }
}

/* Sleeps until monotonic time t; false when the run ended first. */
static bool sleep_until(uint64_t t)
{
    while (!atomic_load(&stop_flag) && !atomic_load(&workers_done)) {
        uint64_t now = now_ns();
        uint64_t until = t;
        struct timespec ts;

        if (now >= t)
            return true;
        if (t - now > TICK_MS * 1000000ull)
            until = now + TICK_MS * 1000000ull;
        ts.tv_sec = (time_t)(until / NS);
        ts.tv_nsec = (long)(until % NS);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    return false;
}

/* One sample, stamped with the middle of the time that reading /proc took. */
static bool cpu_sample(int end)
{
    uint64_t t0 = now_ns();

    if (proc_cpu_sample(cpu.root, &cpu.tree[end]) < 0) {
        lg_warn("--cpu-pid %d: reading /proc: %s", (int)cpu.root, strerror(errno));
        return false;
    }
    cpu.at_ns[end] = t0 + (now_ns() - t0) / 2;
    return true;
}

static void *cpu_run(void *arg)
{
    (void)arg;
    cpu.ok = sleep_until(t_measure) && cpu_sample(0) && sleep_until(t_end) && cpu_sample(1);
    atomic_store(&cpu.over, 1);
    return NULL;
}

/* A worker that ran to the end of the window keeps its connections open
 * until the end sample is taken: closing them is server work too. */
static void cpu_wait(void)
{
    const struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000 };

    if (!cpu.root || now_ns() < t_end)
        return;
    while (!atomic_load(&cpu.over))
        nanosleep(&ms, NULL);
}

/* Returns whether the sampler runs; when it cannot, the result line says
 * n/a for the CPU and nobody waits for it. */
static bool cpu_start(void)
{
    int err;

    if (!cpu.root)
        return false;
    err = pthread_create(&cpu.tid, NULL, cpu_run, NULL);
    if (err) {
        fprintf(stderr, "loadgen: pthread_create(cpu sampler): %s\n", strerror(err));
        atomic_store(&cpu.over, 1);
        return false;
    }
    return true;
}

static void *worker_run(void *arg)
{
    worker_t *w = arg;
    unsigned char *buf = malloc(RECV_BUF);

    if (!buf) {
        lg_warn("malloc: %s", strerror(errno));
        return NULL;
    }
    for (int i = 0; i < w->nconns; i++)
        conn_start(w, &w->conns[i]);
    w->pace.start = now_ns();
    pace_send(w);
    worker_loop(w, buf);
    cpu_wait();
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].state != CONN_DEAD)
            close(w->conns[i].fd);
    free(buf);
    return NULL;
}

static int conns_alloc(worker_t *w, int n, uint32_t first_id)
{
    w->conns = calloc((size_t)n, sizeof *w->conns);
    if (!w->conns) {
        fprintf(stderr, "loadgen: calloc(%d conns): %s\n", n, strerror(errno));
        return -1;
    }
    w->nconns = n;
    for (int i = 0; i < n; i++) {
        conn_t *c = &w->conns[i];

        c->fd = -1;
        c->id = first_id + (uint32_t)i;
        c->ring = malloc(ring_cap());
        c->sent_ns = calloc((size_t)opt.depth, sizeof *c->sent_ns);
        c->resp = opt.request ? calloc(1, sizeof *c->resp) : NULL;
        if (!c->ring || !c->sent_ns || (opt.request && !c->resp)) {
            fprintf(stderr, "loadgen: malloc(conn buffers): %s\n", strerror(errno));
            return -1;
        }
        for (int m = 0; opt.request && m < opt.depth; m++)
            memcpy(c->ring + (size_t)m * opt.size, opt.request, opt.size);
    }
    return 0;
}

static void worker_free(worker_t *w)
{
    for (int i = 0; w->conns && i < w->nconns; i++) {
        free(w->conns[i].ring);
        free(w->conns[i].sent_ns);
        free(w->conns[i].resp);
    }
    free(w->conns);
    if (w->epfd >= 0)
        close(w->epfd);
}

static int worker_init(worker_t *w, int n, uint32_t first_id)
{
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
        return -1;
    }
    if (pace_init(w) < 0)
        return -1;
    return conns_alloc(w, n, first_id);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: swx-loadgen [options] HOST PORT\n"
        "  HOST          127.0.0.1 or ::1 (loopback only)\n"
        "  -c N          connections (default 100)\n"
        "  -p N          pipeline depth: requests outstanding per connection (default 1)\n"
        "  -s BYTES      echo message size (default 64)\n"
        "  -d SECONDS    measured duration (default 5, at most %d)\n"
        "  -w SECONDS    warm-up before measuring (default 1, at most %d)\n"
        "  -t N          threads; 0 = one per online CPU (default 1)\n"
        "  -r RATE       paced instead of closed-loop: RATE requests/s in all,\n"
        "                evenly spaced, each sent when due (on ticks at most\n"
        "                every 50 us: epoll_pwait2 timeouts) on a connection with\n"
        "                fewer than -p outstanding (waiting otherwise); latency\n"
        "                runs from when a request was due\n"
        "  -H, --http PATH\n"
        "                HTTP/1.1 keep-alive instead of echo: GET PATH again and\n"
        "                again; a response counts when whole and 200\n"
        "  -C, --cpu-pid PID\n"
        "                the server's process: the CPU time (utime + stime) of\n"
        "                PID and all its descendants over the measured window,\n"
        "                read from /proc, and that time per request\n"
        "prints: requests=N duration=S rps=R p50_us=X p99_us=Y errors=E ...\n"
        "        and with -C: server_cpu_s=S cpu_us_per_req=U server_procs=N\n",
        MAX_DURATION, MAX_WARMUP);
}

static int parse_long(const char *s, long lo, long hi, const char *what, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "loadgen: %s must be an integer in [%ld, %ld], got '%s'\n",
                what, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Only ever loopback: this tool must not be pointed at another machine. */
static int parse_host(const char *host, int port)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)&opt.addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&opt.addr;

    memset(&opt.addr, 0, sizeof opt.addr);
    if (strcmp(host, "127.0.0.1") == 0) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        opt.addrlen = sizeof *in4;
        return 0;
    }
    if (strcmp(host, "::1") == 0) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        in6->sin6_addr = in6addr_loopback;
        opt.addrlen = sizeof *in6;
        return 0;
    }
    fprintf(stderr, "loadgen: refusing host '%s': only 127.0.0.1 or ::1\n", host);
    return -1;
}

static int parse_flag(int ch, const char *arg)
{
    long v;

    switch (ch) {
    case 'c':
        if (parse_long(arg, 1, MAX_CONNS, "-c", &v) < 0)
            return -1;
        opt.conns = (int)v;
        return 0;
    case 'p':
        if (parse_long(arg, 1, MAX_DEPTH, "-p", &v) < 0)
            return -1;
        opt.depth = (int)v;
        return 0;
    case 's':
        if (parse_long(arg, 1, MAX_SIZE, "-s", &v) < 0)
            return -1;
        opt.size = (size_t)v;
        return 0;
    case 'd':
        if (parse_long(arg, 1, LONG_MAX, "-d", &v) < 0)
            return -1;
        if (v > MAX_DURATION)
            fprintf(stderr, "loadgen: -d %ld capped to %d s\n", v, MAX_DURATION);
        opt.duration = v > MAX_DURATION ? MAX_DURATION : (int)v;
        return 0;
    case 'w':
        if (parse_long(arg, 0, MAX_WARMUP, "-w", &v) < 0)
            return -1;
        opt.warmup = (int)v;
        return 0;
    case 't':
        if (parse_long(arg, 0, MAX_THREADS, "-t", &v) < 0)
            return -1;
        opt.threads = (int)v;
        return 0;
    case 'r':
        if (parse_long(arg, 1, MAX_RATE, "-r", &v) < 0)
            return -1;
        opt.rate = v;
        return 0;
    case 'H':
        opt.http_path = arg;
        return 0;
    case 'C':
        if (parse_long(arg, 1, INT_MAX, "--cpu-pid", &v) < 0)
            return -1;
        cpu.root = (pid_t)v;
        return 0;
    }
    return -1;
}

/* The one request of HTTP mode; it replaces the echo message. */
static int build_request(void)
{
    const char *p = opt.http_path;
    bool v6 = opt.addr.ss_family == AF_INET6;
    int n;

    if (p[0] != '/' || strlen(p) > MAX_PATH || strpbrk(p, " \t\r\n")) {
        fprintf(stderr, "loadgen: --http PATH must start with '/', hold no blank "
                "and stay under %d bytes\n", MAX_PATH);
        return -1;
    }
    n = asprintf(&opt.request, "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n\r\n", p,
                 v6 ? "[" : "", opt.host, v6 ? "]" : "", opt.port);
    if (n < 0) {
        fprintf(stderr, "loadgen: asprintf: %s\n", strerror(errno));
        opt.request = NULL;
        return -1;
    }
    opt.size = (size_t)n;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "http", required_argument, NULL, 'H' },
        { "cpu-pid", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long port;
    int ch;

    while ((ch = getopt_long(argc, argv, "c:p:s:d:w:t:r:H:C:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            exit(0);
        }
        if (parse_flag(ch, optarg) < 0)
            return -1;
    }
    if (argc - optind != 2)
        return -1;
    if (parse_long(argv[optind + 1], 1, 65535, "PORT", &port) < 0)
        return -1;
    opt.host = argv[optind];
    opt.port = (int)port;
    if (parse_host(opt.host, opt.port) < 0 || (opt.http_path && build_request() < 0))
        return -1;
    if ((size_t)opt.depth * opt.size > MAX_INFLIGHT) {
        fprintf(stderr, "loadgen: -p times the message size must stay under %d bytes\n",
                MAX_INFLIGHT);
        return -1;
    }
    return 0;
}

static void on_signal(int sig)
{
    atomic_store(&stop_signal, sig);
    atomic_store(&stop_flag, 1);
}

static void setup_process(void)
{
    struct sigaction sa = { .sa_handler = on_signal };
    struct rlimit rl;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Last resort if a thread ever wedges: SIGALRM's default kills us. */
    alarm((unsigned)(opt.warmup + opt.duration + 30));
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr, "loadgen: setrlimit(NOFILE): %s\n", strerror(errno));
    }
    if (opt.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        opt.threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    if (opt.threads > opt.conns)
        opt.threads = opt.conns;
}

static int workers_init(worker_t *ws)
{
    uint32_t id = 0;

    for (int i = 0; i < opt.threads; i++) {
        int n = opt.conns / opt.threads + (i < opt.conns % opt.threads);

        ws[i].epfd = -1;
        if (worker_init(&ws[i], n, id) < 0)
            return -1;
        id += (uint32_t)n;
    }
    return 0;
}

/* Runs every worker, the last one on the calling thread; returns when all
 * are done. */
static void workers_run(worker_t *ws)
{
    int started = 0;

    for (int i = 0; i < opt.threads - 1; i++) {
        int err = pthread_create(&ws[i].tid, NULL, worker_run, &ws[i]);

        if (err) {
            fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(err));
            atomic_store(&stop_flag, 1);
            break;
        }
        started++;
    }
    if (!atomic_load(&stop_flag))
        worker_run(&ws[opt.threads - 1]);
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
}

/* The CPU fields of the result line: n/a when a sample is missing or the
 * server's processes changed within the window (a process that ended took
 * its CPU time out of the sum). */
static void report_cpu(double rps)
{
    const proc_cpu_t *a = &cpu.tree[0], *b = &cpu.tree[1];
    double secs, cpu_s;

    if (!cpu.root)
        return;
    if (cpu.ok && !proc_cpu_same_tree(a, b)) {
        lg_warn("--cpu-pid %d: the server's processes changed during the window "
                "(%d, then %d)", (int)cpu.root, a->npids, b->npids);
        cpu.ok = false;
    }
    if (!cpu.ok || rps <= 0 || cpu.at_ns[1] <= cpu.at_ns[0]) {
        printf(" server_cpu_s=n/a cpu_us_per_req=n/a server_procs=n/a");
        return;
    }
    secs = (double)(cpu.at_ns[1] - cpu.at_ns[0]) / 1e9;
    cpu_s = (double)(b->ticks - a->ticks) / (double)sysconf(_SC_CLK_TCK);
    printf(" server_cpu_s=%.2f cpu_us_per_req=%.3f server_procs=%d",
           cpu_s, cpu_s / secs / rps * 1e6, b->npids);
}

/* Prints the one result line; returns the exit status. */
static int report(const worker_t *ws, uint64_t stopped)
{
    static hist_t h;
    stats_t s = { 0 };
    uint64_t until = stopped < t_end ? stopped : t_end;
    double secs = until > t_measure ? (double)(until - t_measure) / 1e9 : 0;
    double rps;
    uint64_t errors;

    for (int i = 0; i < opt.threads; i++) {
        hist_merge(&h, &ws[i].hist);
        s.requests += ws[i].st.requests;
        s.connect_err += ws[i].st.connect_err;
        s.io_err += ws[i].st.io_err;
        s.mismatch += ws[i].st.mismatch;
        s.bad_status += ws[i].st.bad_status;
        s.bad_resp += ws[i].st.bad_resp;
        s.resp_bytes += ws[i].st.resp_bytes;
    }
    errors = s.connect_err + s.io_err + s.mismatch + s.bad_status + s.bad_resp;
    rps = secs > 0 ? (double)s.requests / secs : 0;
    printf("requests=%llu duration=%.3f rps=%.0f p50_us=%.1f p90_us=%.1f "
           "p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%llu connect_errors=%llu "
           "io_errors=%llu mismatches=%llu status_errors=%llu bad_responses=%llu "
           "resp_bytes=%.0f mode=%s connections=%d pipeline=%d size=%zu threads=%d rate=%ld",
           (unsigned long long)s.requests, secs, rps,
           hist_pct(&h, 0.50) / 1e3, hist_pct(&h, 0.90) / 1e3, hist_pct(&h, 0.99) / 1e3,
           hist_pct(&h, 0.999) / 1e3, h.max / 1e3, (unsigned long long)errors,
           (unsigned long long)s.connect_err, (unsigned long long)s.io_err,
           (unsigned long long)s.mismatch, (unsigned long long)s.bad_status,
           (unsigned long long)s.bad_resp,
           s.requests ? (double)s.resp_bytes / (double)s.requests : 0,
           opt.request ? "http" : "echo", opt.conns, opt.depth, opt.size, opt.threads, opt.rate);
    report_cpu(rps);
    putchar('\n');
    fflush(stdout);
    return errors == 0 && s.requests > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    worker_t *ws;
    uint64_t t0, stopped;
    bool sampling;
    int rc;

    if (parse_args(argc, argv) < 0) {
        usage(stderr);
        return 2;
    }
    /* The pace ticks end epoll_pwait2's timeouts: on time, not up to the
     * default 50 us of slack late (threads inherit this). */
    if (opt.rate && prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) < 0)
        lg_warn("prctl(PR_SET_TIMERSLACK): %s", strerror(errno));
    setup_process();
    ws = calloc((size_t)opt.threads, sizeof *ws);
    if (!ws || workers_init(ws) < 0) {
        fprintf(stderr, "loadgen: setup failed\n");
        return 1;
    }
    t0 = now_ns();
    t_measure = t0 + (uint64_t)opt.warmup * NS;
    t_end = t_measure + (uint64_t)opt.duration * NS;
    sampling = cpu_start();
    workers_run(ws);
    stopped = now_ns();
    atomic_store(&workers_done, 1);
    if (sampling)
        pthread_join(cpu.tid, NULL);
    rc = report(ws, stopped);
    for (int i = 0; i < opt.threads; i++)
        worker_free(&ws[i]);
    free(ws);
    free(opt.request);
    /* Die by the signal that stopped us, after the report, so a calling
     * shell knows the user interrupted the run (it stops the script too). */
    if (atomic_load(&stop_signal)) {
        signal(atomic_load(&stop_signal), SIG_DFL);
        raise(atomic_load(&stop_signal));
    }
    return rc;
}
