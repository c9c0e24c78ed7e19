/* sdmaster.c: the master's side of systemd's notification protocol: it
 * is the service's main process, so every notification comes from it;
 * readiness and reloads are learnt from the manager (SIGNAL_MANAGER). */
#include "proc/sdmaster.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "proc/sdnotify.h"

#define SDMASTER_STATUS_MS 5000

static struct {
    loop_t *loop;
    const server_t *srv;
    int started;      /* the listeners accept */
    int ready;        /* READY=1 was sent */
    int reloading;
    int stopping;
    int daemonized;   /* MAINPID goes with READY */
    const char *state; /* while serving: how, for STATUS */
    char status[256]; /* the last STATUS sent */
} sm;

/* "2 worker(s), 1 task worker(s); 14 connection(s); 3 reload(s)". */
static void sdmaster_figures(char *buf, size_t size)
{
    const shm_t *shm = sm.srv->shm;
    snprintf(buf, size, "%d worker(s), %d task worker(s); %" PRId64
             " connection(s); %" PRIu64 " request(s); %" PRIu64 " reload(s)",
             sm.srv->cfg.worker_num, sm.srv->cfg.task_worker_num,
             (int64_t)atomic_load(&shm->connection_num),
             (uint64_t)atomic_load(&shm->dispatch_count),
             (uint64_t)atomic_load(&shm->reload_count));
}

static void sdmaster_set_status(const char *state, char *out, size_t size)
{
    char figures[200];
    sdmaster_figures(figures, sizeof(figures));
    snprintf(out, size, "%s: %s", state, figures);
    snprintf(sm.status, sizeof(sm.status), "%s", out);
}

static void sdmaster_watchdog(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    sdnotify_send("WATCHDOG=1");
}

/* Connections and requests change all the time: a STATUS every 5 s, and
 * only when it says something new. */
static void sdmaster_status_tick(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    if (!sm.ready || sm.reloading || sm.stopping)
        return;
    char figures[200], status[256];
    sdmaster_figures(figures, sizeof(figures));
    snprintf(status, sizeof(status), "%s: %s", sm.state, figures);
    if (strcmp(status, sm.status) == 0)
        return;
    snprintf(sm.status, sizeof(sm.status), "%s", status);
    sdnotify_send("STATUS=%s", status);
}

void sdmaster_daemonized(void)
{
    sm.daemonized = 1;
    /* systemd learns the new main process at once, before the process it
     * started exits (this needs NotifyAccess=all). */
    sdnotify_send("MAINPID=%d", (int)getpid());
}

int sdmaster_start(loop_t *loop, const server_t *s)
{
    sm.loop = loop;
    sm.srv = s;
    sm.started = 1;
    if (!sdnotify_enabled())
        return 0;
    sdnotify_send("STATUS=starting: %d worker(s), %d task worker(s)",
                  s->cfg.worker_num, s->cfg.task_worker_num);
    uint64_t wd = sdnotify_watchdog_usec();
    int64_t every = (int64_t)(wd / 2000);
    if (wd > 0 && every < 1)
        every = 1;
    int64_t rc = timer_add(loop_timers(loop), loop_now(), 0,
                           SDMASTER_STATUS_MS, sdmaster_status_tick, NULL);
    if (rc > 0 && wd > 0) {
        log_info("systemd watchdog: WATCHDOG=1 every %" PRId64 " ms", every);
        rc = timer_add(loop_timers(loop), loop_now(), 0, every,
                       sdmaster_watchdog, NULL);
    }
    return rc > 0 ? 0 : (int)rc; /* timer_add logged it */
}

static void sdmaster_ready(const char *state)
{
    char status[256];
    sdmaster_set_status(state, status, sizeof(status));
    if (sm.daemonized)
        sdnotify_send("READY=1\nMAINPID=%d\nSTATUS=%s", (int)getpid(),
                      status);
    else
        sdnotify_send("READY=1\nSTATUS=%s", status);
}

void sdmaster_manager_event(int event)
{
    if (!sm.started || sm.stopping)
        return;
    if (event == MANAGER_READY && !sm.ready) {
        sm.ready = 1;
        log_info("every process started; the server is ready");
        sm.state = "serving";
        sdmaster_ready(sm.state);
    } else if (event == MANAGER_RELOADING && sm.ready && !sm.reloading) {
        sm.reloading = 1;
        char status[256];
        sdmaster_set_status("reloading", status, sizeof(status));
        sdnotify_reloading(status);
    } else if ((event == MANAGER_RELOADED ||
                event == MANAGER_RELOAD_FAILED) && sm.reloading) {
        sm.reloading = 0;
        sm.state = event == MANAGER_RELOADED
                       ? "serving"
                       : "serving (the last reload failed; the old workers "
                         "serve)";
        sdmaster_ready(sm.state);
    }
}

void sdmaster_stopping(const char *why)
{
    if (sm.stopping)
        return;
    sm.stopping = 1;
    snprintf(sm.status, sizeof(sm.status), "stopping (%s)", why);
    /* The stop takes up to shutdown_delay + max_wait_time + 2 s (the
     * manager's SIGKILL deadline); a shorter TimeoutStopSec must not cut
     * the drain short. systemd only ever lengthens its timeout for this. */
    int64_t usec = sm.srv != NULL
                       ? (sm.srv->cfg.shutdown_delay +
                          sm.srv->cfg.max_wait_time + 3) * 1000000LL
                       : 0;
    if (usec > 0)
        sdnotify_send("STOPPING=1\nEXTEND_TIMEOUT_USEC=%" PRId64
                      "\nSTATUS=%s", usec, sm.status);
    else
        sdnotify_send("STOPPING=1\nSTATUS=%s", sm.status);
}

void sdmaster_failed(const char *why)
{
    sdnotify_send("STATUS=start-up failed: %s", why);
}
