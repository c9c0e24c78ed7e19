/* manager.c: the manager process: forks the workers, reaps them, replaces any
 * that exits (backing off when one fails to start or keeps crashing right
 * after it), reloads them with fresh plugin code, and stops them. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/api.h"
#include "ipc/ipc.h"
#include "proc/privs.h"
#include "core/log.h"
#include "core/proctitle.h"
#include "event/loop.h"
#include "proc/server.h"
#include "proc/startfail.h"
#include "proc/watchdog.h"
#include "net/tls.h"

/* A process that dies by itself sooner than this after its start, having
 * taken no event, counts as failing. */
#define MANAGER_FAST_EXIT_MS 2000
#define MANAGER_BACKOFF_MIN_MS 100
#define MANAGER_BACKOFF_MAX_MS 30000
#define MANAGER_MAX_RETIRING 4096

/*
 * One slot per worker id. During a reload a slot has a serving worker and a
 * standby candidate that has loaded the new code; the serving one retires
 * (stops reading, finishes, exits) and hands the slot's channels over.
 */
typedef struct slot {
    pid_t pid;            /* serving worker, 0 when none */
    long long started;    /* ms */
    int ready;            /* it finished starting (WORKER_STARTED) */
    int served;           /* it took an event (WORKER_SERVING) */
    long long respawn_at; /* ms: when the next process starts (shm
                             backoff_until in a back-off) */
    int64_t respawn_timer; /* starts it; 0 when none is due */
    int failures;         /* consecutive failures (END_FAILED) */
    int end;              /* enum slot_end of its last process */
    char cause[160];      /* END_FAILED: what happened, for the log */
    int backoff;          /* waiting out a back-off (shm backoff_until) */
    int tell_next;        /* back-off: the next reactor to tell */
    uint8_t tell_flags;   /* back-off: IPC_BACKOFF_* for the reactors */
    long dropped;         /* back-off: messages for it dropped */
    pid_t candidate;      /* reload: the replacement in standby */
    int candidate_ready;
    int orphaned;         /* reload: the serving worker died first */
    int64_t retire_timer; /* asked to retire: SIGKILL at max_wait_time */
} slot_t;

/* How the end of a slot's process weighs in the crash back-off. */
enum slot_end {
    END_HEALTHY, /* exited 0, had taken an event, or ran for 2 s: replaced
                    at once, and the failure count starts again */
    END_KILLED,  /* SIGKILL (an operator, the OOM killer) after it started:
                    replaced at once */
    END_FAILED,  /* died before it finished starting, or by itself soon
                    after without taking an event: back-off */
};

typedef struct retiree {
    pid_t pid;
    int id;
    long long handed;     /* ms: when it handed its slot over */
    int64_t timer;        /* SIGKILL at max_wait_time after that */
} retiree_t;

static server_t *srv;
static slot_t *slots;
static retiree_t *retiring;
static int nretiring;
/* Signals, notices, the channels of workers in back-off, and every
 * deadline as a timer. */
static loop_t *loop;
static int sigfd = -1;
static int notify_fd[2] = {-1, -1};
static int stopping;
static enum {
    RELOAD_IDLE,
    RELOAD_STARTING, /* candidates are loading the new code */
    RELOAD_HANDOVER, /* old workers are handing their slots over */
} reload;
static int retire_idx; /* reload_async false: the slot retiring now */
/* The slots a reload replaces: workers and task workers (SIGUSR1), or
 * task workers only (SIGUSR2); never the plugins' own processes. */
static int reload_lo, reload_hi;

static int nprocs(void)
{
    return srv->nprocs;
}

/* Tell the master (for systemd) of a MANAGER_* event; a real-time signal
 * queues, so no event is lost or merged with another. */
static void manager_tell_master(int event)
{
    union sigval v = {.sival_int = event};
    if (sigqueue(srv->master_pid, SIGNAL_MANAGER, v) < 0)
        log_warn("sigqueue(master, event %d): %s", event, strerror(errno));
}

/* Every process has finished starting once: the server is ready. */
static void manager_check_started(void)
{
    static int told;
    for (int i = 0; !told && i < nprocs(); i++)
        if (!slots[i].ready)
            return;
    if (!told)
        manager_tell_master(MANAGER_READY);
    told = 1;
}

/* A timer of the manager's loop with an int for argument; 0 when it could
 * not be added (timer.c logged it). */
static int64_t manager_timer(int64_t after_ms, int64_t every_ms, timer_cb *cb,
                             intptr_t arg)
{
    int64_t id = timer_add(loop_timers(loop), loop_now(), after_ms, every_ms,
                           cb, (void *)arg);
    return id > 0 ? id : 0;
}

static void manager_clear_timer(int64_t *id)
{
    if (*id > 0)
        timer_clear(loop_timers(loop), *id);
    *id = 0;
}

/* ---- lanes (base mode) ---- */

static pid_t *lane_pid;        /* [lane id]: the worker on it, 0 when free */
static unsigned long *lane_at; /* [lane id]: when it was taken (a count) */
static unsigned long lane_clock;

/* The lane for the next worker of slot id: a free one, else the one taken
 * longest ago (a worker that has been retiring the longest, which then
 * shares it: what is sent to its sessions from then on is dropped). */
static int manager_pick_lane(int id)
{
    int best = 0;
    for (int k = 0; k < srv->lanes; k++) {
        int l = server_lane_id(srv, id, k);
        if (lane_pid[l] == 0)
            return k;
        if (lane_at[l] < lane_at[server_lane_id(srv, id, best)])
            best = k;
    }
    log_warn("worker %d: %d processes of this slot still serve connections; "
             "the oldest one's lane goes to the new one, and what is sent to "
             "the oldest one's sessions from now on is dropped",
             id, srv->lanes);
    return best;
}

static void manager_lane_free(pid_t pid)
{
    for (int l = 0; lane_pid != NULL && l < srv->lanes * srv->cfg.worker_num;
         l++)
        if (lane_pid[l] == pid)
            lane_pid[l] = 0;
}

/* Fork a worker for slot id; standby: a reload candidate. The pid or 0. */
static pid_t manager_fork(int id, int standby)
{
    int lane = server_kind(srv, id) == PROC_WORKER && srv->lanes > 0
                   ? manager_pick_lane(id) : -1;
    srv->lane = lane < 0 ? 0 : lane;
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork(worker %d): %s", id, strerror(errno));
        return 0;
    }
    if (pid == 0) {
        close(sigfd);
        close(notify_fd[0]);
        free(slots);
        free(retiring);
        free(lane_pid);
        free(lane_at);
        watchdog_free();
        loop_free(loop);
        if (privs_drop(srv->uid, srv->gid, srv->cfg.user) < 0)
            _exit(WORKER_EXIT_START_FAILED);
        /* If the manager dies, so does the worker at once: nothing it holds
         * could reach a client (set after setuid, which clears it). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != srv->manager_pid)
            _exit(1);
        int kind = server_kind(srv, id);
        if (kind == PROC_WORKER)
            worker_run(srv, id, standby, notify_fd[1]);
        if (kind == PROC_TASK)
            taskworker_run(srv, id, standby, notify_fd[1]);
        process_run(srv, id, notify_fd[1]);
    }
    if (lane >= 0) {
        int l = server_lane_id(srv, id, lane);
        lane_pid[l] = pid;
        lane_at[l] = ++lane_clock;
    }
    atomic_fetch_add(&srv->shm->workers[id].starts, 1);
    log_debug("worker %d %sstarted, pid %d", id, standby ? "(standby) " : "",
              (int)pid);
    return pid;
}

/* ---- back-off ---- */

/* The manager's copy of the worker end of channel (w, r). */
static int manager_chan_fd(int w, int r)
{
    return srv->chan_fds[server_chan(srv, w, r)][1];
}

static void manager_watch_backoff(int id);

/* Tell the reactors that worker id backs off, on its channels: they
 * answer what waits on it and stop sending to it. A notice that does not
 * fit waits for room (manager_watch_backoff). */
static void manager_tell_backoff(int id)
{
    slot_t *s = &slots[id];
    for (; s->tell_next < srv->cfg.reactor_num; s->tell_next++)
        if (ipc_notice(manager_chan_fd(id, s->tell_next),
                        IPC_WORKER_BACKOFF, &s->tell_flags,
                        sizeof(s->tell_flags)) == -EAGAIN)
            return;
}

static void manager_begin_backoff(int id)
{
    slot_t *s = &slots[id];
    s->backoff = 1;
    s->dropped = 0;
    atomic_store(&srv->shm->workers[id].backoff_until, s->respawn_at);
    s->tell_next = srv->cfg.reactor_num;
    if (server_kind(srv, id) != PROC_WORKER)
        return;
    /* Requests an earlier process had taken are answered now, with the
     * rest (502 rather than 503): no replacement will ask after them. */
    s->tell_flags = atomic_exchange(&srv->shm->workers[id].lost, 0)
                        ? IPC_BACKOFF_LOST
                        : 0;
    /* Its batched replies go before the notice; its batch's unread
     * messages are dropped with the rest. */
    for (int r = 0; srv->chan_shared != NULL && r < srv->cfg.reactor_num; r++)
        s->dropped += ipc_shared_settle(
            &srv->chan_shared[server_chan(srv, id, r)], manager_chan_fd(id, r));
    s->tell_next = 0;
    manager_tell_backoff(id);
    manager_watch_backoff(id);
}

/* What the reactors sent worker id before they knew, and what they still
 * send it (closes), is read and dropped while it is down, so that a
 * request answered 503 is never run by its replacement. */
static void manager_drop_queued(int id)
{
    slot_t *s = &slots[id];
    for (int r = 0; r < srv->cfg.reactor_num; r++)
        s->dropped += ipc_discard(manager_chan_fd(id, r));
}

/* Slot id gets a process again: the last of what was sent while it was
 * down is dropped first. */
static void manager_end_backoff(int id)
{
    slot_t *s = &slots[id];
    if (!s->backoff)
        return;
    if (server_kind(srv, id) == PROC_WORKER)
        manager_drop_queued(id);
    if (s->dropped > 0)
        log_info("worker %d: %ld message(s) sent to it while it was backing "
                 "off were dropped", id, s->dropped);
    s->backoff = 0;
    manager_watch_backoff(id);
    atomic_store(&srv->shm->workers[id].backoff_until, 0);
}

/* A channel of a worker in back-off is ready: what arrived is dropped,
 * and a notice that waited for room goes on. */
static void manager_backoff_io(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    int id = (int)(intptr_t)arg;
    manager_tell_backoff(id);
    manager_drop_queued(id);
    manager_watch_backoff(id);
}

/* Worker id's channels are watched while it backs off and the server is
 * not stopping: for reading, and the one whose notice is next for room. */
static void manager_watch_backoff(int id)
{
    const slot_t *s = &slots[id];
    for (int r = 0; id < srv->cfg.worker_num && r < srv->cfg.reactor_num;
         r++) {
        int fd = manager_chan_fd(id, r), rc = 0;
        int events = LOOP_READ | (r == s->tell_next ? LOOP_WRITE : 0);
        if (!s->backoff || stopping)
            rc = loop_events(loop, fd) < 0 ? 0 : loop_del(loop, fd);
        else if (loop_events(loop, fd) < 0)
            rc = loop_add(loop, fd, events, manager_backoff_io,
                          (void *)(intptr_t)id);
        else
            rc = loop_mod(loop, fd, events);
        if (rc < 0)
            log_error("worker %d: epoll_ctl(its channel to reactor %d): %s",
                      id, r, strerror(-rc));
    }
}

/* ---- respawning ---- */

static void manager_spawn(int id);

static void manager_respawn_due(int64_t timer, void *arg)
{
    (void)timer;
    int id = (int)(intptr_t)arg;
    slots[id].respawn_timer = 0;
    if (!stopping && slots[id].pid == 0)
        manager_spawn(id);
}

/* Slot id's next process starts delay_ms from now (0: once this pass's
 * events are handled). */
static void manager_respawn_in(int id, long long delay_ms)
{
    slot_t *s = &slots[id];
    manager_clear_timer(&s->respawn_timer);
    s->respawn_at = loop_now() + delay_ms;
    s->respawn_timer = manager_timer(delay_ms, 0, manager_respawn_due, id);
}

static void manager_cancel_respawn(int id)
{
    manager_clear_timer(&slots[id].respawn_timer);
    slots[id].respawn_at = 0;
}

static void manager_spawn(int id)
{
    slot_t *s = &slots[id];
    manager_end_backoff(id);
    pid_t pid = manager_fork(id, 0);
    if (pid == 0) {
        manager_respawn_in(id, 1000);
        return;
    }
    s->pid = pid;
    s->started = loop_now();
    s->ready = s->served = 0;
    manager_cancel_respawn(id);
    atomic_store(&srv->shm->workers[id].pid, pid);
}

/*
 * Manager callbacks run in a copy of the plugins loaded for the call and
 * unloaded after it: a copy kept open here would be inherited by every
 * worker forked later, and a reload would then run the old code.
 */
static void manager_call_worker_error(int id, pid_t pid, int status)
{
    plugin_t *plugins;
    if (api_load_plugins(&srv->cfg, &plugins) < 0)
        return;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    for (int i = 0; i < srv->cfg.nplugins; i++)
        api_call(&plugins[i], on_worker_error, id, (int)pid, code, sig);
    api_unload_plugins(&srv->cfg, plugins);
}

static void manager_call_lifecycle(int start)
{
    plugin_t *plugins;
    if (api_load_plugins(&srv->cfg, &plugins) < 0)
        return;
    for (int i = 0; i < srv->cfg.nplugins; i++) {
        if (start)
            api_call(&plugins[i], on_manager_start);
        else
            api_call(&plugins[i], on_manager_stop);
    }
    api_unload_plugins(&srv->cfg, plugins);
}

/* "worker 3", "task worker 0", "process ticker 1": as in ps. */
static const char *manager_role(int id, char *buf, size_t size)
{
    return startfail_role(srv, id, buf, size);
}

/* Log how a worker ended; 1 when it ended abnormally. */
static int manager_log_exit(int id, const char *what, pid_t pid, int status,
                            long long lived)
{
    char role[64];
    if (WIFSIGNALED(status)) {
        log_error("%s%s (pid %d) killed by signal %d (%s)%s after %lld ms",
                  what, manager_role(id, role, sizeof(role)), (int)pid,
                  WTERMSIG(status),
                  strsignal(WTERMSIG(status)),
                  WCOREDUMP(status) ? ", core dumped" : "", lived);
        return 1;
    }
    int code = WEXITSTATUS(status);
    if (code == 0) {
        log_debug("%s%s (pid %d) exited after %lld ms", what,
                  manager_role(id, role, sizeof(role)), (int)pid,
                  lived);
        return 0;
    }
    log_error("%s%s (pid %d) exited with status %d%s after %lld ms", what,
              manager_role(id, role, sizeof(role)), (int)pid, code,
              code == WORKER_EXIT_START_FAILED ? " (a plugin failed to start)"
                                               : "",
              lived);
    return 1;
}

/* "exit status 3" or "signal 11 (Segmentation fault)". */
static const char *manager_status_text(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    return buf;
}

/*
 * How the end of slot id's process weighs in the back-off (s->end, and
 * s->cause when it counts as a failure). Only a process that never
 * finished starting, or that died by itself soon after without taking an
 * event, makes the slot wait: a kill from outside or a crash while
 * serving says nothing about the next start, and clients wait for it.
 */
static void manager_judge(int id, int status, long long lived, int ready,
                          int served)
{
    slot_t *s = &slots[id];
    char how[96];
    manager_status_text(status, how, sizeof(how));
    const char *start = server_kind(srv, id) == PROC_USER
                            ? "its plugins were loaded"
                            : "on_worker_start finished";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        s->end = END_HEALTHY;
    } else if (!ready) {
        s->end = END_FAILED;
        snprintf(s->cause, sizeof(s->cause), "%s before %s%s", how, start,
                 WIFEXITED(status) &&
                         WEXITSTATUS(status) == WORKER_EXIT_START_FAILED
                     ? ": a plugin failed to start"
                     : "");
    } else if (served || lived >= MANAGER_FAST_EXIT_MS) {
        s->end = END_HEALTHY;
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        s->end = END_KILLED;
    } else {
        s->end = END_FAILED;
        snprintf(s->cause, sizeof(s->cause),
                 "%s %lld ms after it started, before it took any event",
                 how, lived);
    }
}

/* Due now, or after the back-off when the last end was a failure. */
static void manager_schedule(int id)
{
    slot_t *s = &slots[id];
    if (s->end != END_FAILED) {
        if (s->end == END_HEALTHY)
            s->failures = 0;
        manager_respawn_in(id, 0);
        return;
    }
    s->failures++;
    long long delay = MANAGER_BACKOFF_MIN_MS;
    for (int i = 1; i < s->failures && delay < MANAGER_BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > MANAGER_BACKOFF_MAX_MS)
        delay = MANAGER_BACKOFF_MAX_MS;
    manager_respawn_in(id, delay);
    char role[64];
    log_warn("%s failed %d time(s) in a row soon after start; next start in "
             "%lld ms (%s)", manager_role(id, role, sizeof(role)),
             s->failures, delay, s->cause);
    manager_begin_backoff(id);
}

/* ---- reload ---- */

static void manager_reload_abort(const char *why)
{
    log_error("reload failed: %s; the old workers keep serving", why);
    for (int i = reload_lo; i < reload_hi; i++) {
        slot_t *s = &slots[i];
        if (s->candidate > 0)
            kill(s->candidate, SIGKILL);
        if (s->orphaned && s->pid == 0)
            manager_schedule(i);
        s->orphaned = 0;
    }
    reload = RELOAD_IDLE;
    manager_tell_master(MANAGER_RELOAD_FAILED);
}

static void manager_reload_check_done(void)
{
    if (reload != RELOAD_HANDOVER)
        return;
    for (int i = reload_lo; i < reload_hi; i++)
        if (slots[i].candidate > 0)
            return;
    if (!srv->cfg.reload_async && retire_idx < reload_hi)
        return;
    reload = RELOAD_IDLE;
    atomic_fetch_add(&srv->shm->reload_count, 1);
    log_notice("reload done: the workers run the plugins as they are on "
               "disk now");
    manager_tell_master(MANAGER_RELOADED);
}

/* Due max_wait_time after an old worker handed its slot over, then every
 * second: it is killed. */
static void manager_kill_retiree(int64_t timer, void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    for (int i = 0; i < nretiring; i++) {
        if (retiring[i].pid != pid)
            continue;
        log_warn("old worker %d (pid %d) still running after "
                 "max_wait_time (%d s); killing it", retiring[i].id,
                 (int)pid, srv->cfg.max_wait_time);
        kill(pid, SIGKILL);
        return;
    }
    timer_clear(loop_timers(loop), timer);
}

/* Due max_wait_time after a worker was asked to retire, then every second:
 * still inside a callback, it is killed; its replacement then takes the
 * slot. */
static void manager_kill_stuck(int64_t timer, void *arg)
{
    (void)timer;
    int id = (int)(intptr_t)arg;
    if (slots[id].pid <= 0) { /* kill(0) would be our process group */
        manager_clear_timer(&slots[id].retire_timer);
        return;
    }
    log_warn("old worker %d (pid %d) still running after "
             "max_wait_time (%d s) without handing over; killing it",
             id, (int)slots[id].pid, srv->cfg.max_wait_time);
    kill(slots[id].pid, SIGKILL);
}

/* The candidate takes slot id; the old worker, if any, is retiring. */
static void manager_promote(int id)
{
    slot_t *s = &slots[id];
    if (s->pid > 0 && nretiring < MANAGER_MAX_RETIRING) {
        retiring[nretiring++] = (retiree_t){
            s->pid, id, loop_now(),
            manager_timer(srv->cfg.max_wait_time * 1000LL, 1000,
                          manager_kill_retiree, s->pid)};
    }
    manager_end_backoff(id);
    s->pid = s->candidate;
    s->started = loop_now();
    s->ready = 1; /* it reported WORKER_READY */
    s->served = 0;
    manager_cancel_respawn(id);
    s->candidate = 0;
    s->candidate_ready = 0;
    s->orphaned = 0;
    manager_clear_timer(&s->retire_timer);
    s->failures = 0; /* a fresh start: earlier crashes were the old code's */
    atomic_store(&srv->shm->workers[id].pid, s->pid);
    if (kill(s->pid, SIGUSR2) < 0)
        log_error("kill(worker %d, SIGUSR2): %s", id, strerror(errno));
}

/* Ask slot id's worker to stop reading; 0 when there is none to ask (the
 * candidate took over at once). */
static int manager_retire(int id)
{
    slot_t *s = &slots[id];
    if (s->pid > 0 && s->candidate > 0) {
        manager_clear_timer(&s->retire_timer);
        s->retire_timer = manager_timer(srv->cfg.max_wait_time * 1000LL, 1000,
                                        manager_kill_stuck, id);
        if (kill(s->pid, SIGUSR1) == 0)
            return 1;
        log_error("kill(worker %d, SIGUSR1): %s", id, strerror(errno));
    }
    if (s->candidate > 0)
        manager_promote(id);
    return 0;
}

/* reload_async false: retire slots one at a time, from retire_idx on. */
static void manager_retire_next(void)
{
    while (retire_idx < reload_hi && !manager_retire(retire_idx))
        retire_idx++;
    manager_reload_check_done();
}

/* Every candidate is ready: retire the old workers, all at once
 * (reload_async) or one after another. */
static void manager_reload_commit(void)
{
    log_info("reload: the new code started in every worker; handing over");
    reload = RELOAD_HANDOVER;
    if (srv->cfg.reload_async) {
        for (int i = reload_lo; i < reload_hi; i++)
            manager_retire(i);
        manager_reload_check_done();
    } else {
        retire_idx = reload_lo;
        manager_retire_next();
    }
}

static void manager_reload(int tasks_only)
{
    if (stopping)
        return;
    if (tasks_only && srv->cfg.task_worker_num == 0) {
        log_notice("SIGUSR2: there are no task workers to reload");
        return;
    }
    if (reload != RELOAD_IDLE) {
        log_warn("reload requested while one is in progress; ignored");
        return;
    }
    reload = RELOAD_STARTING;
    reload_lo = tasks_only ? srv->cfg.worker_num : 0;
    reload_hi = srv->cfg.worker_num + srv->cfg.task_worker_num;
    log_notice("reload: starting %d %s with the plugins as they are on disk "
               "now", reload_hi - reload_lo,
               tasks_only ? "task worker(s)" : "worker(s)");
    manager_tell_master(MANAGER_RELOADING);
    /* Base mode: workers serve TLS themselves, with the contexts they
     * inherit from here; the new ones get the certificates on disk now. */
    if (!tasks_only && srv->cfg.mode == SERVER_MODE_BASE)
        tls_reload();
    for (int i = reload_lo; i < reload_hi; i++) {
        slots[i].candidate = manager_fork(i, 1);
        slots[i].candidate_ready = 0;
        if (slots[i].candidate == 0) {
            manager_reload_abort("cannot fork");
            return;
        }
    }
}

static int manager_all_ready(void)
{
    for (int i = reload_lo; i < reload_hi; i++)
        if (!slots[i].candidate_ready)
            return 0;
    return 1;
}

/* Base mode: a worker that left by itself (max_request) serves its last
 * connections as an old worker does after a reload, while a new one takes
 * its slot and accepts at once. */
static void manager_base_handover(int id)
{
    slot_t *s = &slots[id];
    if (stopping || nretiring >= MANAGER_MAX_RETIRING)
        return; /* it is replaced when it exits */
    retiring[nretiring++] = (retiree_t){
        s->pid, id, loop_now(),
        manager_timer(srv->cfg.max_wait_time * 1000LL, 1000,
                      manager_kill_retiree, s->pid)};
    s->pid = 0;
    manager_spawn(id);
}

static void manager_on_notify(const worker_notice_t *n)
{
    if (n->id < 0 || n->id >= nprocs())
        return;
    slot_t *s = &slots[n->id];
    if (n->event == WORKER_STARTED && n->pid == s->pid) {
        s->ready = 1;
        manager_check_started();
    } else if (n->event == WORKER_SERVING && n->pid == s->pid) {
        s->served = 1;
    } else if (n->event == WORKER_READY && n->pid == s->candidate) {
        s->candidate_ready = 1;
        if (reload == RELOAD_STARTING && manager_all_ready())
            manager_reload_commit();
    } else if (n->event == WORKER_RELEASED && n->pid == s->pid) {
        if (s->candidate > 0) {
            manager_promote(n->id);
            manager_reload_check_done();
        } else if (srv->cfg.mode == SERVER_MODE_BASE) {
            manager_base_handover(n->id);
        } else {
            log_warn("worker %d released its channels with no replacement; "
                     "a new one starts when it exits", n->id);
        }
    }
}

static void manager_read_notices(void)
{
    worker_notice_t n;
    while (read(notify_fd[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
        manager_on_notify(&n);
}

/* ---- reaping ---- */

/* An old process of slot id is still finishing after a reload. */
static int manager_slot_retiring(int id)
{
    for (int i = 0; i < nretiring; i++)
        if (retiring[i].id == id)
            return 1;
    return 0;
}

static int manager_reap_retiree(pid_t pid, int status)
{
    for (int i = 0; i < nretiring; i++) {
        if (retiring[i].pid != pid)
            continue;
        manager_log_exit(retiring[i].id, "old ", pid, status,
                         loop_now() - retiring[i].handed);
        int id = retiring[i].id;
        manager_clear_timer(&retiring[i].timer);
        retiring[i] = retiring[--nretiring];
        if (reload == RELOAD_HANDOVER && !srv->cfg.reload_async &&
            id == retire_idx) {
            retire_idx++;
            manager_retire_next();
        }
        return 1;
    }
    return 0;
}

static int manager_reap_candidate(pid_t pid, int status)
{
    for (int i = 0; i < nprocs(); i++) {
        if (slots[i].candidate != pid)
            continue;
        int ready = slots[i].candidate_ready;
        slots[i].candidate = 0;
        slots[i].candidate_ready = 0;
        int abnormal = manager_log_exit(i, "new ", pid, status, 0);
        if (stopping)
            return 1;
        if (reload == RELOAD_STARTING) {
            manager_reload_abort(abnormal ? "a new worker failed to start"
                                          : "a new worker exited");
        } else {
            /* Past the hand-over: the slot gets a fresh worker instead. */
            if (slots[i].pid == 0) {
                manager_judge(i, status, 0, ready, 0);
                manager_schedule(i);
            }
            if (!srv->cfg.reload_async && i == retire_idx) {
                retire_idx++;
                manager_retire_next();
            }
            manager_reload_check_done();
        }
        return 1;
    }
    return 0;
}

/* Base mode: a worker died with its connections; the kernel closed them,
 * so they leave the count that max_conn is checked against. */
static int64_t manager_base_lost(int id)
{
    int64_t held = atomic_exchange(&srv->shm->workers[id].concurrency, 0);
    if (held > 0) /* max_concurrency's slots of requests it never ended */
        atomic_fetch_sub(&srv->shm->concurrency, held);
    int64_t n = atomic_exchange(&srv->shm->workers[id].connections, 0);
    if (n <= 0)
        return 0;
    atomic_fetch_sub(&srv->shm->connection_num, n);
    atomic_fetch_add(&srv->shm->close_count, (uint64_t)n);
    log_warn("worker %d: its %lld connection(s) were lost with it", id,
             (long long)n);
    return n;
}

static void manager_reap_worker(pid_t pid, int status)
{
    for (int i = 0; i < nprocs(); i++) {
        slot_t *s = &slots[i];
        if (s->pid != pid)
            continue;
        long long lived = loop_now() - s->started;
        int served = s->served;
        startfail_reaped(srv, i, status);
        manager_judge(i, status, lived, s->ready, served);
        s->pid = 0;
        s->ready = s->served = 0;
        manager_clear_timer(&s->retire_timer);
        atomic_store(&srv->shm->workers[i].pid, 0);
        /* A task worker that died inside on_task never finished it. */
        if (atomic_exchange(&srv->shm->workers[i].busy, 0) &&
            server_kind(srv, i) == PROC_TASK)
            atomic_fetch_sub(&srv->shm->tasking_num, 1);
        int abnormal = manager_log_exit(i, "", pid, status, lived);
        /* Killed past max_execution_time: replaced at once, counted as a
         * timeout, not a crash. */
        uint64_t stuck_session = 0;
        int stuck = watchdog_reaped(i, pid, &stuck_session);
        if (stuck) {
            s->end = END_KILLED;
            atomic_fetch_add(&srv->shm->restarts[RESTART_TIMEOUT], 1);
        }
        if (abnormal && srv->cfg.mode == SERVER_MODE_BASE &&
            server_kind(srv, i) == PROC_WORKER && s->candidate == 0 &&
            !manager_slot_retiring(i)) {
            int64_t lost = manager_base_lost(i);
            /* Killed stuck: its clients are the stuck clients (in process
             * mode the reactors count those they close). */
            if (stuck && lost > 0)
                atomic_fetch_add(&srv->shm->stuck_clients, (uint64_t)lost);
        }
        if (abnormal) {
            if (!stuck) {
                atomic_fetch_add(&srv->shm->worker_restarts, 1);
                atomic_fetch_add(&srv->shm->restarts[RESTART_CRASH], 1);
            }
            manager_call_worker_error(i, pid, status);
            /* Its replacement asks the reactors to check the requests it
             * had (see IPC_WORKER_LOST), unless it took none or another
             * process of the slot, which may hold some of them, is still
             * alive. */
            if (server_kind(srv, i) == PROC_WORKER && served &&
                s->candidate == 0 && !manager_slot_retiring(i)) {
                atomic_store(&srv->shm->workers[i].lost, 1);
                /* Its clients are answered for a timeout (ipc_lost_t). */
                atomic_store(&srv->shm->workers[i].stuck_session,
                             stuck_session);
                atomic_store(&srv->shm->workers[i].stuck_killed, stuck);
            }
        }
        if (stopping)
            return;
        if (s->candidate > 0) {
            /* Its replacement takes the slot: now if the hand-over has
             * begun, else when it does. */
            s->orphaned = 1;
            if (reload == RELOAD_HANDOVER && s->candidate_ready) {
                manager_promote(i);
                /* It exited instead of retiring: the next may go now. */
                if (!srv->cfg.reload_async && i == retire_idx) {
                    retire_idx++;
                    manager_retire_next();
                }
                manager_reload_check_done();
            }
            return;
        }
        manager_schedule(i);
        return;
    }
    log_warn("reaped unknown child pid %d", (int)pid);
}

static void manager_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        /* A worker notifies before it exits: take its notice first. */
        manager_read_notices();
        manager_lane_free(pid);
        if (!manager_reap_retiree(pid, status) &&
            !manager_reap_candidate(pid, status))
            manager_reap_worker(pid, status);
    }
}

/* ---- stopping ---- */

static void manager_signal_all(int sig)
{
    for (int i = 0; i < nprocs(); i++) {
        if (slots[i].pid > 0)
            kill(slots[i].pid, sig);
        if (slots[i].candidate > 0)
            kill(slots[i].candidate, sig);
    }
    for (int i = 0; i < nretiring; i++)
        kill(retiring[i].pid, sig);
}

static int manager_running(void)
{
    int n = nretiring;
    for (int i = 0; i < nprocs(); i++)
        n += (slots[i].pid > 0) + (slots[i].candidate > 0);
    return n;
}

/* Due max_wait_time after the stop began, then every second. */
static void manager_kill_all(int64_t timer, void *arg)
{
    (void)timer;
    (void)arg;
    log_warn("max_wait_time (%d s) passed; killing %d process(es)",
             srv->cfg.max_wait_time, manager_running());
    manager_signal_all(SIGKILL);
}

/* No process starts any more, and the channels of workers in back-off
 * are no longer read. */
static void manager_begin_stop(void)
{
    if (stopping)
        return;
    stopping = 1;
    /* Ends with the loop: once every process is reaped. */
    manager_timer(srv->cfg.max_wait_time * 1000LL, 1000, manager_kill_all, 0);
    for (int i = 0; i < nprocs(); i++) {
        manager_clear_timer(&slots[i].respawn_timer);
        if (slots[i].backoff)
            manager_watch_backoff(i);
    }
    log_debug("stopping %d process(es)", manager_running());
    manager_signal_all(SIGTERM);
    /* Base mode: no worker starts any more to accept; the port is free
     * once the workers have closed theirs too. */
    for (int i = 0; srv->cfg.mode == SERVER_MODE_BASE &&
                    i < srv->cfg.nlisteners; i++)
        if (!config_listener_is_dgram(srv->cfg.listeners[i].type) &&
            srv->listen_fds[i] >= 0) {
            close(srv->listen_fds[i]);
            srv->listen_fds[i] = -1;
        }
}

static void manager_reopen(void)
{
    log_reopen(srv->uid, srv->gid);
    manager_signal_all(SIGNAL_REOPEN);
}

static void manager_read_signals(void)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            manager_reap();
        else if (si.ssi_signo == SIGTERM)
            manager_begin_stop();
        else if (si.ssi_signo == SIGUSR1)
            manager_reload(0);
        else if (si.ssi_signo == SIGUSR2)
            manager_reload(1);
        else if ((int)si.ssi_signo == SIGNAL_REOPEN)
            manager_reopen();
    }
}

static void manager_signal_io(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    (void)arg;
    manager_read_signals();
}

static void manager_notice_io(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    (void)arg;
    manager_read_notices();
}

/* Until every process is reaped after a stop. Restarts, back-offs and
 * deadlines are timers of the loop. */
static void manager_loop(void)
{
    while (!stopping || manager_running() > 0) {
        int rc = loop_run_once(loop, -1);
        if (rc < 0) {
            log_error("epoll_wait: %s", strerror(-rc));
            return;
        }
    }
}

static void manager_close_master_fds(void)
{
    /* Workers answer datagrams on the listening socket itself; in base
     * mode they accept too, and the listeners outlive each of them. */
    for (int i = 0; i < srv->cfg.nlisteners; i++)
        if (!config_listener_is_dgram(srv->cfg.listeners[i].type) &&
            srv->cfg.mode != SERVER_MODE_BASE)
            close(srv->listen_fds[i]);
    if (srv->admin_fd >= 0)
        close(srv->admin_fd);
    int n = srv->cfg.worker_num * srv->cfg.reactor_num;
    for (int i = 0; i < n; i++)
        close(srv->chan_fds[i][0]);
}

static void manager_setup(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGNAL_REOPEN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    slots = calloc((size_t)nprocs(), sizeof(*slots));
    retiring = calloc(MANAGER_MAX_RETIRING, sizeof(*retiring));
    size_t nlanes = (size_t)(srv->lanes * srv->cfg.worker_num) + 1;
    lane_pid = calloc(nlanes, sizeof(*lane_pid));
    lane_at = calloc(nlanes, sizeof(*lane_at));
    if (sigfd < 0 || slots == NULL || retiring == NULL || lane_pid == NULL ||
        lane_at == NULL ||
        pipe2(notify_fd, O_CLOEXEC) < 0) {
        log_error("manager setup failed: %s", strerror(errno));
        _exit(1);
    }
    fcntl(notify_fd[0], F_SETFL, O_NONBLOCK);
    loop = loop_create();
    if (loop == NULL)
        _exit(1);
    int rc = loop_add(loop, sigfd, LOOP_READ, manager_signal_io, NULL);
    if (rc == 0)
        rc = loop_add(loop, notify_fd[0], LOOP_READ, manager_notice_io, NULL);
    if (rc < 0) {
        log_error("manager setup failed: epoll_ctl: %s", strerror(-rc));
        _exit(1);
    }
}

static pid_t manager_pid_of(int id)
{
    return slots[id].pid;
}

static const watchdog_ops_t manager_watchdog_ops = {
    manager_pid_of,
    manager_role,
};

void manager_run(server_t *s)
{
    srv = s;
    srv->manager_pid = getpid();
    log_set_role("manager");
    log_set_echo(0);
    proctitle_set("swx-server: manager");
    /* The master owns every client connection: without it there is
     * nothing left to serve or drain. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != srv->master_pid)
        _exit(1);
    signal(SIGINT, SIG_IGN); /* the master turns ^C into an orderly stop */
    manager_close_master_fds();
    manager_setup();
    if (watchdog_start(srv, loop, &manager_watchdog_ops) < 0)
        log_error("max_execution_time and request_slowlog_timeout are not "
                  "enforced");
    manager_call_lifecycle(1);
    for (int i = 0; i < nprocs(); i++)
        manager_spawn(i);
    manager_loop();
    log_debug("all workers stopped");
    manager_call_lifecycle(0);
    loop_free(loop);
    free(slots);
    free(retiring);
    watchdog_free();
    config_free(&srv->cfg);
    exit(0);
}
