/* recycle.c: a worker or task worker replaces itself once it has done its
 * share: max_request (task_max_request) drawn per process within
 * max_request_grace, as Swoole does, or resident memory past
 * reload_on_rss. Every process measures its RSS here for the stats. */
#include "proc/recycle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/log.h"
#include "proc/child.h"
#include "proc/worker.h"

/* Idle processes and user processes refresh their figure this often. */
#define RECYCLE_SAMPLE_MS 1000

static int statm_fd = -1;
static int tick_fd = -1;  /* a timerfd, not a loop timer: reload's
                             wind-down waits for the plugins' timers only */
static long page_size;
static long max_work;     /* this process's max_request; 0: no limit */
static long recycle_done; /* the role's count at the last recycle_after */

long recycle_draw(long max, long grace)
{
    if (max <= 0 || grace <= 0)
        return max;
    uint32_t r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)loop_now();
    return max + 1 + (long)(r % (uint64_t)grace);
}

/* Resident bytes: /proc/self/statm's second field, in pages, read with
 * one pread on an fd kept open (no path lookup, no getrusage, whose
 * ru_maxrss is a peak). 0 when unknown. */
static uint64_t recycle_read_rss(void)
{
    char buf[128];
    ssize_t n = statm_fd >= 0 ? pread(statm_fd, buf, sizeof(buf) - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strchr(buf, ' ');
    return p ? strtoull(p + 1, NULL, 10) * (uint64_t)page_size : 0;
}

/* A process that stands by or retires shares its slot with the one that
 * serves: only the one serving reports. */
static int recycle_owns_slot(void)
{
    return !child.standby && !child.retiring;
}

static uint64_t recycle_sample(void)
{
    uint64_t rss = recycle_read_rss();
    if (recycle_owns_slot())
        atomic_store_explicit(&child.srv->shm->workers[child.id].rss, rss,
                              memory_order_relaxed);
    return rss;
}

/* Counted here, by the process that leaves: a base-mode worker is reaped
 * as an old worker, like one after a reload, not as a replaced one. */
static void recycle_stop(int cause)
{
    atomic_fetch_add(&child.srv->shm->restarts[cause], 1);
    if (worker_base_running())
        worker_base_recycle(cause == RESTART_RSS ? "reload_on_rss"
                                                 : "max_request");
    else
        child.stopping = 1;
}

static const char *recycle_setting(void)
{
    return child.kind == PROC_TASK ? "task_max_request" : "max_request";
}

static int recycle_max_reached(long done)
{
    const config_t *c = &child.srv->cfg;
    long max = child.kind == PROC_TASK ? c->task_max_request : c->max_request;
    if (max_work <= 0 || done < max_work)
        return 0;
    if (max_work == max)
        log_info("%s (%ld) reached; exiting", recycle_setting(), max);
    else
        log_info("%s (%ld: %ld + %ld within its grace) reached; exiting",
                 recycle_setting(), max_work, max, max_work - max);
    recycle_stop(RESTART_MAX_REQUEST);
    return 1;
}

/* Past reload_on_rss: 1, logged and counted. */
static int recycle_rss_passed(uint64_t rss, long done)
{
    long limit = child.srv->cfg.reload_on_rss;
    if (limit <= 0 || child.kind == PROC_USER ||
        rss <= (uint64_t)limit * 1024 * 1024)
        return 0;
    log_warn("resident memory %llu MiB (%llu bytes) passed reload_on_rss "
             "(%ld MiB) after %ld %s; exiting to be replaced",
             (unsigned long long)(rss >> 20), (unsigned long long)rss, limit,
             done, child.kind == PROC_TASK ? "tasks" : "requests");
    recycle_stop(RESTART_RSS);
    return 1;
}

void recycle_after(long done)
{
    recycle_done = done;
    if (child.stopping || child_winding_down())
        return;
    if (recycle_max_reached(done))
        return;
    /* Measured per event only when it may recycle: one syscall. */
    if (child.srv->cfg.reload_on_rss > 0)
        recycle_rss_passed(recycle_sample(), done);
}

static void recycle_tick(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    (void)arg;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
        return;
    uint64_t rss = recycle_sample();
    /* Memory a plugin's timer took while no request came; a standby
     * process (a reload's candidate) is judged once it serves. */
    if (!child.standby && !child.stopping && !child_winding_down() &&
        recycle_rss_passed(rss, recycle_done) && child.update != NULL)
        child.update();
}

static int recycle_start_ticks(void)
{
    tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {{RECYCLE_SAMPLE_MS / 1000, 0},
                             {RECYCLE_SAMPLE_MS / 1000, 0}};
    if (tick_fd < 0 || timerfd_settime(tick_fd, 0, &its, NULL) < 0) {
        int err = errno;
        log_error("timerfd for the RSS figure: %s", strerror(err));
        return -err;
    }
    int rc = loop_add(child.loop, tick_fd, LOOP_READ, recycle_tick, NULL);
    if (rc < 0)
        log_error("epoll_ctl(timerfd): %s", strerror(-rc));
    return rc;
}

int recycle_init(void)
{
    const config_t *c = &child.srv->cfg;
    if (child.kind == PROC_WORKER)
        max_work = recycle_draw(c->max_request, c->max_request_grace);
    else if (child.kind == PROC_TASK)
        max_work = recycle_draw(c->task_max_request,
                                c->task_max_request_grace);
    if (max_work > 0)
        log_debug("%s for this process: %ld", recycle_setting(), max_work);
    page_size = sysconf(_SC_PAGESIZE);
    statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (statm_fd < 0) {
        int err = errno;
        log_error("open /proc/self/statm: %s; no RSS figure and no "
                  "reload_on_rss", strerror(err));
        return -err;
    }
    recycle_sample();
    return recycle_start_ticks();
}

void recycle_free(void)
{
    if (recycle_owns_slot() && child.srv != NULL)
        atomic_store(&child.srv->shm->workers[child.id].rss, 0);
    if (tick_fd >= 0) {
        loop_del(child.loop, tick_fd);
        close(tick_fd);
    }
    if (statm_fd >= 0)
        close(statm_fd);
    tick_fd = statm_fd = -1;
}
