/* watch.c: a forked process's callbacks for the manager's watchdog: which
 * one runs since when (published in its shm_worker_t), a backtrace of
 * itself on WATCH_SIGNAL, and one slow log entry for a callback that ran
 * past request_slowlog_timeout. */
#include "proc/watch.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/symbols.h"
#include "event/clock.h"
#include "proc/child.h"

/* Frames of the handler and the kernel's signal trampoline, above the
 * code that was interrupted. */
#define WATCH_SKIP 2
/* One slow log entry: a head line and the frames. */
#define WATCH_ENTRY_MAX 8192

static const config_t *cfg;
static shm_worker_t *me;     /* NULL: nothing to watch */
static int depth;            /* nested callbacks */
static int published;        /* the outer one is in me */
static uint32_t traces_before; /* me->trace_count when it began */
static int slow_fd = -1;     /* request_slowlog_file; -1: the server log */

int watch_configured(const config_t *c)
{
    int on = c->max_execution_time > 0 || c->request_slowlog_timeout > 0;
    for (int i = 0; i < c->nlisteners; i++)
        on |= c->listeners[i].max_execution_time > 0 ||
              c->listeners[i].request_slowlog_timeout > 0;
    return on;
}

/* WATCH_SIGNAL: the addresses of what this process runs, into its shm
 * record. backtrace() was called once at start, so libgcc's unwinder is
 * loaded and nothing is allocated here. */
static void watch_on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    void *frames[SHM_TRACE_MAX + WATCH_SKIP];
    int n = backtrace(frames, SHM_TRACE_MAX + WATCH_SKIP);
    int k = 0;
    for (int i = WATCH_SKIP; me != NULL && i < n; i++)
        me->trace[k++] = (uintptr_t)frames[i];
    if (me != NULL) {
        atomic_store_explicit(&me->trace_n, k, memory_order_relaxed);
        atomic_fetch_add_explicit(&me->trace_count, 1, memory_order_release);
    }
    errno = saved;
}

static int watch_open_slowlog(void)
{
    const char *path = cfg->request_slowlog_file;
    if (path == NULL)
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        log_error("request_slowlog_file %s: %s; slow callbacks go to the "
                  "server log", path, strerror(err));
        return -err;
    }
    if (slow_fd < 0) {
        slow_fd = fd;
        return 0;
    }
    /* dup2 swaps the file under slow_fd, as log_reopen does. */
    if (dup2(fd, slow_fd) < 0)
        log_error("request_slowlog_file %s: dup2: %s", path, strerror(errno));
    close(fd);
    return 0;
}

int watch_init(const config_t *c, shm_worker_t *sw)
{
    cfg = c;
    if (!watch_configured(c))
        return 0;
    /* Loads libgcc_s and finds the unwind tables of this path now, not
     * inside the handler. */
    void *warm[SHM_TRACE_MAX];
    backtrace(warm, SHM_TRACE_MAX);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watch_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(WATCH_SIGNAL, &sa, NULL) < 0) {
        int err = errno;
        log_error("sigaction(SIGRTMIN+2): %s", strerror(err));
        return -err;
    }
    me = sw;
    watch_open_slowlog();
    return 0;
}

void watch_reopen(void)
{
    if (me != NULL && slow_fd >= 0)
        watch_open_slowlog();
}

void watch_free(void)
{
    if (slow_fd >= 0)
        close(slow_fd);
    slow_fd = -1;
    me = NULL;
}

/* The limits of an event of listener l (-1: the server's), in ms. */
static void watch_limits(int l, int *limit_ms, int *slow_ms)
{
    int limit = cfg->max_execution_time, slow = cfg->request_slowlog_timeout;
    if (l >= 0 && l < cfg->nlisteners) {
        limit = cfg->listeners[l].max_execution_time;
        slow = cfg->listeners[l].request_slowlog_timeout;
    }
    *limit_ms = limit * 1000;
    *slow_ms = slow * 1000;
}

/* The writer's half of the record's seqlock: odd while it changes. */
static uint32_t watch_lock(void)
{
    uint32_t seq = atomic_load_explicit(&me->cb_seq, memory_order_relaxed);
    atomic_store_explicit(&me->cb_seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return seq + 1;
}

static void watch_unlock(uint32_t seq)
{
    atomic_store_explicit(&me->cb_seq, seq + 1, memory_order_release);
}

void watch_begin(const plugin_t *p, const char *name, int listener,
                 uint64_t session)
{
    if (me == NULL || depth++ > 0)
        return;
    /* A standby or released process shares the slot's record with the
     * one serving: it stays out of it (max_wait_time bounds it). */
    published = !child.standby && !child.released;
    if (!published)
        return;
    int limit_ms, slow_ms;
    watch_limits(listener, &limit_ms, &slow_ms);
    uint32_t seq = watch_lock();
    atomic_store_explicit(&me->cb_pid, (int)getpid(), memory_order_relaxed);
    atomic_store_explicit(&me->cb_limit_ms, limit_ms, memory_order_relaxed);
    atomic_store_explicit(&me->cb_slow_ms, slow_ms, memory_order_relaxed);
    atomic_store_explicit(&me->cb_plugin, p != NULL ? (int)(p->cfg -
                          cfg->plugins) : -1, memory_order_relaxed);
    atomic_store_explicit(&me->cb_session, session, memory_order_relaxed);
    snprintf(me->cb_name, sizeof(me->cb_name), "%s", name);
    me->cb_detail[0] = '\0';
    int64_t now = loop_now();
    atomic_store_explicit(&me->cb_start, now > 0 ? now : 1,
                          memory_order_relaxed);
    watch_unlock(seq);
    traces_before = atomic_load_explicit(&me->trace_count,
                                         memory_order_relaxed);
}

void watch_detail(const char *fmt, ...)
{
    if (me == NULL || !published || depth != 1) /* the outer one's only */
        return;
    uint32_t seq = watch_lock();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(me->cb_detail, sizeof(me->cb_detail), fmt, ap);
    va_end(ap);
    watch_unlock(seq);
}

void watch_describe(uint64_t session, const char *detail, char *out,
                    size_t size)
{
    if (session != 0 && detail[0] != '\0')
        snprintf(out, size, " (session %llu, %s)", (unsigned long long)session,
                 detail);
    else if (session != 0)
        snprintf(out, size, " (session %llu)", (unsigned long long)session);
    else if (detail[0] != '\0')
        snprintf(out, size, " (%s)", detail);
    else
        out[0] = '\0';
}

/* The head of a slow log entry: what ran, for how long, and whether a
 * backtrace follows. */
static int watch_slow_head(char *out, size_t size, int64_t ms, int traced)
{
    int pi = atomic_load(&me->cb_plugin);
    const char *plugin = pi >= 0 && pi < cfg->nplugins
                             ? cfg->plugins[pi].name : "?";
    char about[160];
    watch_describe(atomic_load(&me->cb_session), me->cb_detail, about,
                   sizeof(about));
    return snprintf(out, size, "slow: %s of plugin \"%s\"%s took %lld ms "
                    "(request_slowlog_timeout %d s)%s", me->cb_name, plugin,
                    about, (long long)ms,
                    atomic_load(&me->cb_slow_ms) / 1000,
                    traced ? "; backtrace while it was slow:"
                           : "; it ended before a backtrace was taken");
}

/* The entry in one write to request_slowlog_file or the server log,
 * headed as a warning line of the server log is. Not rate-limited: a
 * process writes at most one per request_slowlog_timeout. */
static void watch_slow_write(const char *text)
{
    int fd = slow_fd >= 0 ? slow_fd : log_fileno();
    char stamp[64], line[WATCH_ENTRY_MAX + 128];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    int n = snprintf(line, sizeof(line), "%s.%03ld [warning] %d %s: %s\n", stamp,
                     ts.tv_nsec / 1000000, (int)getpid(), log_get_role(),
                     text);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= sizeof(line))
        len = sizeof(line) - 1;
    if (write(fd, line, len) < 0)
        log_warn("slow log: write: %s", strerror(errno));
}

static void watch_slowlog(int64_t ms)
{
    char text[WATCH_ENTRY_MAX];
    int traced = atomic_load_explicit(&me->trace_count,
                                      memory_order_acquire) != traces_before;
    int n = watch_slow_head(text, sizeof(text), ms, traced);
    if (traced && n > 0 && (size_t)n + 1 < sizeof(text)) {
        uintptr_t addrs[SHM_TRACE_MAX];
        int k = atomic_load(&me->trace_n);
        memcpy(addrs, me->trace, sizeof(addrs));
        text[n++] = '\n';
        symbols_describe(getpid(), addrs, k < SHM_TRACE_MAX ? k
                         : SHM_TRACE_MAX, "    ", text + n,
                         sizeof(text) - (size_t)n);
    }
    watch_slow_write(text);
}

void watch_end(void)
{
    if (me == NULL || --depth > 0 || !published)
        return;
    published = 0;
    int64_t start = atomic_load_explicit(&me->cb_start, memory_order_relaxed);
    atomic_store_explicit(&me->cb_start, 0, memory_order_release);
    int64_t ms = loop_now() - start;
    int slow_ms = atomic_load_explicit(&me->cb_slow_ms, memory_order_relaxed);
    if (slow_ms > 0 && ms >= slow_ms)
        watch_slowlog(ms);
}
