/* child.c: what every process the manager forks sets up and shares: its
 * loop, signals, mailbox and plugins, and the reload protocol's states. */
#include "proc/child.h"
#include "proc/startfail.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "plugin/api.h"
#include "plugin/coro_api.h"
#include "core/affinity.h"
#include "plugin/api_shared.h"
#include "core/log.h"
#include "http/access_log.h"
#include "plugin/plugin_io.h"
#include "core/proctitle.h"
#include "proc/recycle.h"
#include "plugin/task.h"
#include "proc/watch.h"

child_t child;

void child_notify(int event)
{
    worker_notice_t n = {child.id, event, (int32_t)getpid()};
    if (write(child.notify_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
        log_error("cannot notify the manager: %s", strerror(errno));
}

int child_winding_down(void)
{
    if (child.srv == NULL)
        return 0;
    shm_t *shm = child.srv->shm;
    return child.draining || child.retiring || child.stopping ||
           atomic_load_explicit(&shm->stopping, memory_order_relaxed) ||
           atomic_load_explicit(&shm->draining_until, memory_order_relaxed);
}

void child_count_event(void)
{
    if (child.handled++ == 0)
        child_notify(WORKER_SERVING);
}

int child_taking_work(void)
{
    return !child.standby && !child.stopping && !child.retiring;
}

static void child_name(void)
{
    const config_t *c = &child.srv->cfg;
    if (child.kind == PROC_WORKER) {
        log_set_role("worker %d", child.id);
        proctitle_set("swx-server: worker %d", child.id);
    } else if (child.kind == PROC_TASK) {
        log_set_role("task %d", child.id - c->worker_num);
        proctitle_set("swx-server: task worker %d", child.id - c->worker_num);
    } else {
        int index = 0, p = server_user_process(child.srv, child.id, &index);
        log_set_role("process %s %d", c->processes[p].name, index);
        proctitle_set("swx-server: process %s %d", c->processes[p].name,
                      index);
    }
}

/* Keep only what this process uses of the fds made before the fork. */
static void child_close_foreign_fds(void)
{
    server_t *s = child.srv;
    for (int w = 0; w < s->cfg.worker_num; w++)
        for (int r = 0; r < s->cfg.reactor_num; r++)
            if (w != child.id)
                close(s->chan_fds[server_chan(s, w, r)][1]);
    for (int i = 0; i < s->nprocs; i++)
        if (i != child.id)
            close(s->mbox_fds[i][0]);
    /* A base-mode worker reads its lane and writes to the others; no
     * other process routes to sessions. */
    int own = child.kind == PROC_WORKER && s->lanes > 0
                  ? server_lane_id(s, child.id, s->lane) : -1;
    for (int i = 0; i < s->lanes * s->cfg.worker_num; i++) {
        if (i != own)
            close(s->lane_fds[i][0]);
        if (own < 0)
            close(s->lane_fds[i][1]);
    }
    /* In base mode the manager keeps the stream listeners open too. */
    for (int i = 0; child.kind != PROC_WORKER && i < s->cfg.nlisteners; i++)
        if (config_listener_is_dgram(s->cfg.listeners[i].type) ||
            s->cfg.mode == SERVER_MODE_BASE)
            close(s->listen_fds[i]);
    if (s->taskq_fds[0] >= 0 && child.kind != PROC_TASK) {
        close(s->taskq_fds[0]);
        s->taskq_fds[0] = -1;
    }
}

static void child_on_term(void)
{
    if (child.stopping || child.draining)
        return;
    if (child.standby) {
        child.stopping = 1;
        return;
    }
    log_debug("SIGTERM: finishing what was sent, then stopping");
    child.draining = 1;
    /* Room to run on_worker_stop and exit before the manager's SIGKILL at
     * max_wait_time: a second when there is one to spare. */
    long long wait = child.srv->cfg.max_wait_time * 1000LL;
    long long budget = wait - (wait >= 2000 ? 1000 : 250);
    child.drain_deadline = loop_now() + (budget > 100 ? budget : 100);
}

static void child_signal(int signo)
{
    if (signo == SIGTERM) {
        child_on_term();
    } else if (signo == SIGUSR1 && !child.standby) {
        child.retiring = 1;
    } else if (signo == SIGUSR2 && child.standby) {
        child.standby = 0;
        log_debug("serving");
    } else if (signo == SIGNAL_REOPEN) {
        log_reopen((uid_t)-1, (gid_t)-1);
        watch_reopen();
        access_log_reopen(); /* base mode: this worker's writer */
    }
}

static void child_signal_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    (void)arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        child_signal((int)si.ssi_signo);
        if (child.update != NULL)
            child.update();
    }
}

static int child_setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGNAL_REOPEN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    child.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (child.sigfd < 0) {
        int err = errno;
        log_error("signalfd: %s", strerror(err));
        return -err;
    }
    int rc = loop_add(child.loop, child.sigfd, LOOP_READ, child_signal_io,
                      NULL);
    if (rc < 0)
        log_error("epoll_ctl(signalfd): %s", strerror(-rc));
    return rc;
}

int child_init(server_t *srv, int id, int standby, int notify_fd)
{
    child.id = id;
    child.srv = srv;
    child.kind = server_kind(srv, id);
    child.standby = standby;
    child.notify_fd = notify_fd;
    log_set_echo(0);
    api_shared_init(srv);
    child_name();
    child_close_foreign_fds();
    if (srv->cfg.open_cpu_affinity && child.kind != PROC_USER)
        affinity_pin(id, "this process");
    if (child.kind != PROC_USER)
        affinity_sched(srv->cfg.sched_policy, "this process");
    child.loop = loop_create();
    if (child.loop == NULL)
        return -1;
    pio_init(child.loop);
    if (api_coro_init(child.loop, &srv->cfg) < 0)
        return -1;
    if (child_setup_signals() < 0 ||
        watch_init(&srv->cfg, &srv->shm->workers[id]) < 0 ||
        ipc_init(&child.inbox, srv->mbox_fds[id][0], srv->cfg.task_max_size,
                 IPC_TO_MAILBOX) < 0)
        return -1;
    recycle_init(); /* without the RSS figure the process still serves */
    return task_init();
}

int child_load_plugins(int call_start)
{
    const config_t *cfg = &child.srv->cfg;
    /* A standby's failure cancels a reload; the slot's record stays the
     * serving process's. */
    shm_t *rec = child.standby ? NULL : child.srv->shm;
    if (api_load_plugins(cfg, &child.plugins) < 0) {
        startfail_load(rec, child.id, api_load_failed());
        return -1;
    }
    for (int i = 0; call_start && i < cfg->nplugins; i++) {
        const plugin_t *p = &child.plugins[i];
        if (p->desc.on_worker_start == NULL)
            continue;
        const plugin_t *prev = api_enter(p);
        startfail_enter(rec, child.id, i);
        int rc = p->desc.on_worker_start(child.id);
        api_enter(prev);
        if (rc != 0) {
            log_error("plugin \"%s\" (%s) failed to start: on_worker_start "
                      "returned %d; this process exits", p->cfg->name,
                      p->cfg->resolved, rc);
            startfail_returned(rec, child.id, i, rc);
            return -1;
        }
    }
    startfail_started(child.srv->shm, child.id);
    return 0;
}

void child_exit(int status, int call_stop)
{
    const config_t *cfg = &child.srv->cfg;
    api_coro_stop(); /* waiting coroutines clean up before on_worker_stop */
    for (int i = 0; call_stop && child.plugins && i < cfg->nplugins; i++)
        api_call(&child.plugins[i], on_worker_stop, child.id);
    task_free();
    pio_free();
    api_unload_plugins(cfg, child.plugins);
    child.plugins = NULL;
    ipc_free(&child.inbox);
    watch_free();
    atomic_store(&child.srv->shm->workers[child.id].busy, 0);
    recycle_free();
    api_coro_free();
    loop_free(child.loop);
    config_free(&child.srv->cfg);
    exit(status);
}
