/* watchdog.c: in the manager, a look every 100 ms at the callback each
 * process runs (published by proc/watch.c): past request_slowlog_timeout
 * the process is asked once for a backtrace, which it writes to its slow
 * log entry when the callback ends; past max_execution_time the process is
 * logged with its backtrace, killed (SIGKILL) and replaced like a crashed
 * one, but counted as a timeout and without the crash back-off. */
#include "proc/watchdog.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/symbols.h"
#include "proc/watch.h"

#define WATCHDOG_EVERY_MS 100
/* How long a stuck process has to take its backtrace before the kill
 * (one that competes for a busy CPU may take a while to run). */
#define WATCHDOG_TRACE_WAIT_MS 2000
/* The log line of a backtrace (log.c writes at most 2 KiB of a line). */
#define WATCHDOG_TRACE_TEXT 2048

typedef struct wd_slot {
    pid_t pid;        /* the callback last seen: its process and start */
    int64_t start;
    int slow_asked;   /* asked for a backtrace for the slow log */
    int killing;      /* asked for a backtrace before the kill */
    uint32_t traces;  /* the process's trace_count when asked */
    int64_t kill_at;  /* ms: killed then even without a backtrace */
    watchdog_cb_t cb; /* killing: what it was stuck in */
    pid_t killed;     /* SIGKILLed for it, not reaped yet */
} wd_slot_t;

static server_t *srv;
static wd_slot_t *wd;
static watchdog_ops_t ops;

int watchdog_read(const shm_worker_t *sw, watchdog_cb_t *o)
{
    uint32_t seq = atomic_load_explicit(&sw->cb_seq, memory_order_acquire);
    if (seq & 1)
        return 0;
    o->start = atomic_load_explicit(&sw->cb_start, memory_order_relaxed);
    o->pid = atomic_load_explicit(&sw->cb_pid, memory_order_relaxed);
    o->limit_ms = atomic_load_explicit(&sw->cb_limit_ms, memory_order_relaxed);
    o->slow_ms = atomic_load_explicit(&sw->cb_slow_ms, memory_order_relaxed);
    o->plugin = atomic_load_explicit(&sw->cb_plugin, memory_order_relaxed);
    o->session = atomic_load_explicit(&sw->cb_session, memory_order_relaxed);
    memcpy(o->name, sw->cb_name, sizeof(o->name));
    memcpy(o->detail, sw->cb_detail, sizeof(o->detail));
    o->name[sizeof(o->name) - 1] = '\0';
    o->detail[sizeof(o->detail) - 1] = '\0';
    atomic_thread_fence(memory_order_acquire);
    return o->start != 0 &&
           atomic_load_explicit(&sw->cb_seq, memory_order_relaxed) == seq;
}

static shm_worker_t *watchdog_shm(int id)
{
    return &srv->shm->workers[id];
}

/* "worker 0 (pid 12): on_receive of plugin "p" (session 5)". */
static void watchdog_what(int id, const watchdog_cb_t *cb, char *out,
                          size_t size)
{
    char role[64], about[160];
    const char *plugin = cb->plugin >= 0 && cb->plugin < srv->cfg.nplugins
                             ? srv->cfg.plugins[cb->plugin].name : "?";
    watch_describe(cb->session, cb->detail, about, sizeof(about));
    snprintf(out, size, "%s (pid %d): %s of plugin \"%s\"%s",
             ops.role(id, role, sizeof(role)), (int)cb->pid, cb->name, plugin,
             about);
}

/* The backtrace the process took, or why there is none, into the log. */
static void watchdog_log_trace(int id, const wd_slot_t *w, int traced)
{
    char what[320];
    watchdog_what(id, &w->cb, what, sizeof(what));
    if (!traced) {
        log_error("%s: no backtrace: the process did not answer SIGRTMIN+2 "
                  "within %d ms", what, WATCHDOG_TRACE_WAIT_MS);
        return;
    }
    const shm_worker_t *sw = watchdog_shm(id);
    uintptr_t addrs[SHM_TRACE_MAX];
    int n = atomic_load_explicit(&sw->trace_n, memory_order_relaxed);
    memcpy(addrs, sw->trace, sizeof(addrs));
    char *text = malloc(WATCHDOG_TRACE_TEXT);
    if (text == NULL) {
        log_error("%s: out of memory for its backtrace", what);
        return;
    }
    symbols_describe(w->cb.pid, addrs, n < SHM_TRACE_MAX ? n : SHM_TRACE_MAX,
                     "    ", text, WATCHDOG_TRACE_TEXT);
    log_error("%s: backtrace:\n%s", what, text);
    free(text);
}

/* SIGKILL once the backtrace is in the log, or its wait is over. */
static void watchdog_try_kill(int id, int64_t now)
{
    wd_slot_t *w = &wd[id];
    uint32_t traces = atomic_load_explicit(&watchdog_shm(id)->trace_count,
                                           memory_order_acquire);
    if (traces == w->traces && now < w->kill_at)
        return;
    watchdog_log_trace(id, w, traces != w->traces);
    w->killing = 0;
    if (kill(w->cb.pid, SIGKILL) < 0) {
        log_error("kill(%d, SIGKILL): %s", (int)w->cb.pid, strerror(errno));
        return;
    }
    w->killed = w->cb.pid;
}

static void watchdog_begin_kill(int id, const watchdog_cb_t *cb, int64_t ran,
                                int64_t now)
{
    wd_slot_t *w = &wd[id];
    char what[320];
    watchdog_what(id, cb, what, sizeof(what));
    log_error("%s has run for %lld ms, past max_execution_time (%d s): "
              "taking its backtrace, then killing it", what, (long long)ran,
              cb->limit_ms / 1000);
    w->cb = *cb;
    w->killing = 1;
    w->traces = atomic_load_explicit(&watchdog_shm(id)->trace_count,
                                     memory_order_relaxed);
    w->kill_at = now + WATCHDOG_TRACE_WAIT_MS;
    if (kill(cb->pid, WATCH_SIGNAL) < 0)
        w->kill_at = now; /* it has no backtrace to give */
    watchdog_try_kill(id, now);
}

static void watchdog_check(int id, int64_t now)
{
    wd_slot_t *w = &wd[id];
    pid_t pid = ops.pid_of(id);
    watchdog_cb_t cb;
    if (w->killing && w->cb.pid == pid) {
        watchdog_try_kill(id, now);
        return;
    }
    w->killing = 0;
    /* Killed, not reaped yet: its record still shows the callback. */
    if (pid <= 0 || pid == w->killed ||
        !watchdog_read(watchdog_shm(id), &cb) || cb.pid != pid)
        return;
    if (cb.pid != w->pid || cb.start != w->start)
        *w = (wd_slot_t){.pid = cb.pid, .start = cb.start,
                         .killed = w->killed};
    int64_t ran = now - cb.start;
    if (cb.limit_ms > 0 && ran >= cb.limit_ms) {
        watchdog_begin_kill(id, &cb, ran, now);
    } else if (cb.slow_ms > 0 && ran >= cb.slow_ms && !w->slow_asked) {
        /* Once per callback: its slow log entry shows where it was. */
        w->slow_asked = 1;
        if (kill(pid, WATCH_SIGNAL) < 0)
            log_warn("kill(%d, SIGRTMIN+2): %s", (int)pid, strerror(errno));
    }
}

static void watchdog_tick(int64_t timer, void *arg)
{
    (void)timer;
    (void)arg;
    int64_t now = loop_now();
    for (int id = 0; id < srv->nprocs; id++)
        watchdog_check(id, now);
}

int watchdog_start(server_t *s, loop_t *loop, const watchdog_ops_t *o)
{
    srv = s;
    ops = *o;
    if (!watch_configured(&s->cfg))
        return 0;
    wd = calloc((size_t)s->nprocs, sizeof(*wd));
    if (wd == NULL) {
        log_error("watchdog: out of memory");
        return -ENOMEM;
    }
    int64_t id = timer_add(loop_timers(loop), loop_now(), WATCHDOG_EVERY_MS,
                           WATCHDOG_EVERY_MS, watchdog_tick, NULL);
    return id < 0 ? (int)id : 0;
}

void watchdog_free(void)
{
    free(wd);
    wd = NULL;
}

int watchdog_reaped(int id, pid_t pid, uint64_t *session)
{
    if (wd == NULL || wd[id].killed != pid || pid <= 0)
        return 0;
    wd[id].killed = 0;
    wd[id].killing = 0;
    *session = wd[id].cb.session;
    return 1;
}
