/* master.c: the master process: binds listeners and creates channels before
 * forking the manager, then accepts connections, hands them to reactor
 * threads, and turns signals into an orderly stop. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/access_log.h"
#include "ipc/shm_http.h"
#include "net/tls.h"
#include "net/admin.h"
#include "plugin/api.h"
#include "plugin/api_shared.h"
#include "ipc/ipc.h"
#include "proc/daemon.h"
#include "net/listener.h"
#include "core/log.h"
#include "event/loop.h"
#include "core/proctitle.h"
#include "net/reactor.h"
#include "proc/server.h"
#include "net/sockfile.h"
#include "proc/pidfile.h"
#include "proc/privs.h"
#include "proc/sdmaster.h"
#include "protocol/http2_conn.h"
#include "proc/sdnotify.h"
#include "net/activation.h"

typedef struct master {
    server_t *srv;
    loop_t *loop;
    int sigfd;
    int stopping;
    int manager_alive;
    int exit_status;
    int64_t kill_timer;   /* stopping: SIGKILL to a manager still running */
    int64_t accept_timer; /* listeners paused after EMFILE: resumes them */
    int64_t delay_timer;  /* shutdown_delay: begins the stop when it ends */
    int draining;         /* within shutdown_delay: still serving */
    int before_done;      /* on_before_shutdown has run */
    int ready_fd;       /* daemonize: the waiting parent */
    plugin_t *plugins;  /* on_start, on_before_shutdown, on_shutdown */
    sockfile_t *listen_files; /* per listener: the Unix socket file bound */
} master_t;

static master_t m = {.ready_fd = -1};

/* Stream listeners close when the stop begins (the port is free at once);
 * datagram ones, read by the reactors, once those have stopped (all). */
static void master_close_listeners(int all)
{
    server_t *s = m.srv;
    for (int i = 0; i < s->cfg.nlisteners; i++) {
        const config_listener_t *l = &s->cfg.listeners[i];
        if (s->listen_fds[i] < 0 ||
            (!all && config_listener_is_dgram(l->type)))
            continue;
        if (!config_listener_is_dgram(l->type))
            loop_del(m.loop, s->listen_fds[i]);
        close(s->listen_fds[i]);
        s->listen_fds[i] = -1;
        if (l->path != NULL)
            sockfile_remove(&m.listen_files[i], l->path);
    }
}

static void master_accept(loop_t *loop, int fd, int events, void *arg);
static int master_accept_one(int fd, int listener);

static void master_clear_timer(int64_t *id)
{
    if (*id > 0)
        timer_clear(loop_timers(m.loop), *id);
    *id = 0;
}

/* Due max_wait_time + 2 s after the stop began, then every second: the
 * manager kills its workers at max_wait_time, so it is stuck. */
static void master_kill_manager(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    if (!m.manager_alive)
        return;
    log_error("the manager did not stop in time; SIGKILL");
    kill(m.srv->manager_pid, SIGKILL);
}

/* While the listeners still accept: deregistering from a load balancer
 * must happen before the port closes. */
static void master_before_shutdown(void)
{
    if (m.before_done)
        return;
    m.before_done = 1;
    for (int i = 0; m.plugins != NULL && i < m.srv->cfg.nplugins; i++)
        api_call(&m.plugins[i], on_before_shutdown);
}

static void master_begin_stop(const char *why)
{
    if (m.stopping)
        return;
    master_before_shutdown();
    master_clear_timer(&m.delay_timer);
    m.draining = 0;
    m.stopping = 1;
    atomic_store(&m.srv->shm->stopping, 1);
    log_info("%s: stopping", why);
    sdmaster_stopping(why);
    if (m.srv->cfg.mode == SERVER_MODE_BASE)
        master_close_listeners(0); /* the workers take what is pending */

    /* Connections the kernel has completed but nobody accepted yet would
     * be reset with their listener: take them, so that a request already
     * sent on one is served like those on older connections. */
    for (int i = 0; i < m.srv->cfg.nlisteners; i++)
        if (m.srv->listen_fds[i] >= 0 &&
            !config_listener_is_dgram(m.srv->cfg.listeners[i].type))
            while (master_accept_one(m.srv->listen_fds[i], i) > 0)
                ;
    master_close_listeners(0);
    reactor_quiesce_all();
    master_clear_timer(&m.accept_timer);
    /* A failed timer_add is logged; the manager still stops by itself. */
    m.kill_timer = timer_add(loop_timers(m.loop), loop_now(),
                             (m.srv->cfg.max_wait_time + 2) * 1000LL, 1000,
                             master_kill_manager, NULL);
    if (m.manager_alive && kill(m.srv->manager_pid, SIGTERM) < 0)
        log_error("kill(manager, SIGTERM): %s", strerror(errno));
}

static void master_delay_over(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    m.delay_timer = 0;
    master_begin_stop("shutdown_delay passed");
}

/* SIGTERM with shutdown_delay: on_before_shutdown, then the server keeps
 * accepting and serving for the delay while /health says draining, so
 * that a load balancer stops sending before the port closes. Repeated, or
 * as SIGINT (^C), the request means now. */
static void master_request_stop(const char *why, int may_delay)
{
    int delay = m.srv->cfg.shutdown_delay;
    if (m.stopping)
        return;
    if (m.draining || !may_delay || delay == 0) {
        if (m.draining)
            log_notice("%s during shutdown_delay: stopping now", why);
        master_begin_stop(why);
        return;
    }
    master_before_shutdown();
    sdmaster_stopping(why); /* systemd: stopping begins with the delay */
    m.delay_timer = timer_add(loop_timers(m.loop), loop_now(),
                              delay * 1000LL, 0, master_delay_over, NULL);
    if (m.delay_timer < 0) { /* logged by timer.c */
        m.delay_timer = 0;
        master_begin_stop(why);
        return;
    }
    m.draining = 1;
    atomic_store(&m.srv->shm->draining_until, loop_now() + delay * 1000LL);
    log_notice("%s: still serving for %d s (shutdown_delay) with /health "
               "draining, then stopping; SIGTERM again or SIGINT stops now",
               why, delay);
}

static void master_watch_listeners(int events)
{
    for (int i = 0; i < m.srv->cfg.nlisteners; i++)
        if (m.srv->listen_fds[i] >= 0 &&
            !config_listener_is_dgram(m.srv->cfg.listeners[i].type))
            loop_mod(m.loop, m.srv->listen_fds[i], events);
}

static void master_resume_accept(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    m.accept_timer = 0;
    master_watch_listeners(LOOP_READ);
}

/* Out of fds: stop accepting for a moment instead of spinning on it. */
static void master_pause_accept(int listener, int err)
{
    log_error("accept4 on listeners[%d]: %s; not accepting for 100 ms",
              listener, strerror(err));
    master_watch_listeners(0);
    master_clear_timer(&m.accept_timer);
    if (m.stopping)
        return; /* the listeners close now */
    m.accept_timer = timer_add(loop_timers(m.loop), loop_now(), 100, 0,
                               master_resume_accept, NULL);
    if (m.accept_timer < 0) /* logged: better spin than stop accepting */
        master_resume_accept(0, NULL);
}

/* One connection from listener's queue, handed to a reactor thread: 1
 * taken (or another may be: see listener_accept), 0 none waiting or an
 * error (logged). */
static int master_accept_one(int fd, int listener)
{
    reactor_peer_t peer;
    socklen_t plen = sizeof(peer);
    unsigned forks = loop_fork_count();
    int c = listener_accept(fd, listener, m.srv->shm, m.srv->cfg.max_conn,
                            &peer.sa, &plen);
    if (c == -EINTR)
        return 1;
    if (c < 0) {
        if (listener_accept_starved(c))
            master_pause_accept(listener, -c);
        return 0;
    }
    if (reactor_hand_over(c, listener, &peer, plen, forks) < 0)
        atomic_fetch_sub(&m.srv->shm->connection_num, 1);
    return 1;
}

/* One connection per wake-up, as a base-mode worker (and nginx without
 * multi_accept) takes them: the loop reports the listener again while
 * more wait, and a wake-up costs no accept4 that finds nothing (EAGAIN)
 * when one was all there was, as under a steady stream of new
 * connections. */
static void master_accept(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    master_accept_one(fd, (int)(intptr_t)arg);
}

static void master_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != m.srv->manager_pid)
            continue;
        m.manager_alive = 0;
        master_clear_timer(&m.kill_timer);
        int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!m.stopping || !clean) {
            if (WIFSIGNALED(status))
                log_error("manager (pid %d) killed by signal %d", (int)pid,
                          WTERMSIG(status));
            else
                log_error("manager (pid %d) exited with status %d", (int)pid,
                          WEXITSTATUS(status));
            m.exit_status = 1;
        }
        master_begin_stop("the manager is gone");
    }
}

/* Reloads and log reopening are also the manager's to carry out. */
static void master_forward(int sig)
{
    if (m.stopping || !m.manager_alive)
        return;
    if (sig == SIGUSR1 && m.srv->cfg.mode == SERVER_MODE_PROCESS)
        tls_reload(); /* new handshakes get the certificates on disk now
                         (base mode: the manager's, for its new workers) */
    if (sig == SIGUSR1)
        log_info("SIGUSR1: reloading the workers");
    else if (sig == SIGUSR2)
        log_info("SIGUSR2: reloading the task workers");
    if (kill(m.srv->manager_pid, sig) < 0)
        log_error("kill(manager, %d): %s", sig, strerror(errno));
}

static void master_reload(void)
{
    master_forward(SIGUSR1);
}

static void master_reopen(void)
{
    log_reopen(m.srv->uid, m.srv->gid);
    log_info("log file reopened");
    access_log_reopen();
    master_forward(SIGNAL_REOPEN);
}

static void master_signal(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    (void)arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            master_reap();
        else if (si.ssi_signo == SIGTERM)
            master_request_stop("SIGTERM", 1);
        else if (si.ssi_signo == SIGINT)
            master_request_stop("SIGINT", 0);
        else if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2)
            master_forward((int)si.ssi_signo);
        else if ((int)si.ssi_signo == SIGNAL_REOPEN)
            master_reopen();
        else if ((int)si.ssi_signo == SIGNAL_MANAGER &&
                 (pid_t)si.ssi_pid == m.srv->manager_pid)
            sdmaster_manager_event(si.ssi_int);
    }
}

static int master_bind(server_t *s)
{
    int n = s->cfg.nlisteners;
    s->listen_fds = malloc((size_t)n * sizeof(int));
    for (int i = 0; s->listen_fds != NULL && i < n; i++)
        s->listen_fds[i] = -1;
    m.listen_files = calloc((size_t)n, sizeof(*m.listen_files));
    if (s->listen_fds == NULL || m.listen_files == NULL) {
        log_error("listeners: out of memory");
        return -1;
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        char err[1024];
        int fd = activation_take(&s->cfg, i);
        if (fd == -ENOENT) {
            fd = listener_open(&s->cfg, i, &m.listen_files[i], err,
                               sizeof(err));
            if (fd < 0)
                log_error("%s", err);
        }
        s->listen_fds[i] = fd < 0 ? -1 : fd;
        rc = fd < 0 ? -1 : 0;
    }
    /* Those passed for no listener would hold their ports for nothing. */
    activation_close_rest();
    return rc;
}

/* Start-up failed: close the listeners (no loop watches them yet) and
 * remove the socket files this start made, none other. */
static void master_unbind(server_t *s)
{
    for (int i = 0; s->listen_fds != NULL && i < s->cfg.nlisteners; i++) {
        if (s->listen_fds[i] >= 0)
            close(s->listen_fds[i]);
        s->listen_fds[i] = -1;
        if (m.listen_files != NULL && s->cfg.listeners[i].path != NULL)
            sockfile_remove(&m.listen_files[i], s->cfg.listeners[i].path);
    }
    free(s->listen_fds);
    free(m.listen_files);
    s->listen_fds = NULL;
    m.listen_files = NULL;
    admin_stop(&s->cfg);
}

/* The shared memory of the worker ends' batches (ipc_share). */
static int master_share_chans(server_t *s, int n)
{
    if (n == 0) /* base mode: no reactors */
        return 0;
    /* Untouched pages cost nothing: a channel uses what its batches do. */
    void *sh = mmap(NULL, (size_t)n * sizeof(ipc_shared_t),
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        log_error("mmap(%zu bytes, MAP_SHARED) for the channels: %s",
                  (size_t)n * sizeof(ipc_shared_t), strerror(errno));
        return -1;
    }
    s->chan_shared = sh;
    return 0;
}

static int master_make_chans(server_t *s)
{
    int n = s->cfg.worker_num * s->cfg.reactor_num;
    s->chan_fds = calloc((size_t)n, sizeof(*s->chan_fds));
    s->mbox_fds = calloc((size_t)s->nprocs, sizeof(*s->mbox_fds));
    if (s->chan_fds == NULL || s->mbox_fds == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        if (ipc_socketpair(s->chan_fds[i], IPC_STREAM_SOCKBUF) < 0)
            return -1;
    if (master_share_chans(s, n) < 0)
        return -1;
    for (int i = 0; i < s->nprocs; i++)
        if (ipc_socketpair(s->mbox_fds[i], IPC_BOX_SOCKBUF) < 0)
            return -1;
    s->lanes = server_lanes(&s->cfg);
    int nlanes = s->lanes * s->cfg.worker_num;
    if (nlanes > 0 &&
        (s->lane_fds = calloc((size_t)nlanes, sizeof(*s->lane_fds))) == NULL)
        return -1;
    for (int i = 0; i < nlanes; i++)
        if (ipc_socketpair(s->lane_fds[i], IPC_BOX_SOCKBUF) < 0)
            return -1;
    s->taskq_fds[0] = s->taskq_fds[1] = -1;
    if (s->cfg.task_worker_num > 0 && s->cfg.task_ipc_mode == 3 &&
        ipc_socketpair(s->taskq_fds, IPC_BOX_SOCKBUF) < 0)
        return -1;
    return 0;
}

/* The config's tables and the named counters, in shared memory. */
static int master_make_shared(server_t *s)
{
    s->tables = calloc((size_t)s->cfg.ntables + 1, sizeof(*s->tables));
    if (s->tables == NULL ||
        atomics_create(&s->atomics, SERVER_ATOMICS) < 0)
        return -1;
    for (int i = 0; i < s->cfg.ntables; i++) {
        const config_table_t *t = &s->cfg.tables[i];
        table_column_t cols[TABLE_MAX_COLUMNS];
        server_table_columns(t, cols);
        if (table_create(&s->tables[i], cols, t->ncolumns,
                         (uint32_t)t->size) < 0) {
            log_error("%s: tables[%d]: cannot create table \"%s\"",
                      s->cfg.path, i, t->name);
            return -1;
        }
    }
    return 0;
}

static int master_fork_manager(server_t *s)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork(manager): %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        manager_run(s);
    s->manager_pid = pid;
    m.manager_alive = 1;
    int n = s->cfg.worker_num * s->cfg.reactor_num;
    for (int i = 0; i < n; i++)
        close(s->chan_fds[i][1]);
    /* Mailboxes are the children's business. */
    for (int i = 0; i < s->nprocs; i++) {
        close(s->mbox_fds[i][0]);
        close(s->mbox_fds[i][1]);
    }
    for (int i = 0; i < s->lanes * s->cfg.worker_num; i++) {
        close(s->lane_fds[i][0]);
        close(s->lane_fds[i][1]);
    }
    if (s->taskq_fds[0] >= 0) {
        close(s->taskq_fds[0]);
        close(s->taskq_fds[1]);
    }
    return 0;
}

static int master_watch(server_t *s, const sigset_t *set)
{
    m.sigfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m.sigfd < 0) {
        int err = errno;
        log_error("signalfd: %s", strerror(err));
        return -err;
    }
    int rc = loop_add(m.loop, m.sigfd, LOOP_READ, master_signal, NULL);
    if (rc < 0) {
        log_error("epoll_ctl(signalfd): %s", strerror(-rc));
        return rc;
    }
    for (int i = 0; i < s->cfg.nlisteners; i++) {
        if (config_listener_is_dgram(s->cfg.listeners[i].type) ||
            s->cfg.mode == SERVER_MODE_BASE)
            continue;
        rc = loop_add(m.loop, s->listen_fds[i], LOOP_READ, master_accept,
                      (void *)(intptr_t)i);
        if (rc < 0) {
            log_error("epoll_ctl(listeners[%d]): %s", i, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* The accept pause and the stop's deadline are timers of this loop. */
static void master_loop(void)
{
    while (m.manager_alive || !m.stopping) {
        int rc = loop_run_once(m.loop, -1);
        if (rc < 0) {
            log_error("epoll_wait: %s", strerror(-rc));
            m.exit_status = 1;
            master_begin_stop("event loop failure");
        }
    }
}

/* Connections need fds: take the hard limit, and say if it is too low. */
static void master_raise_nofile(const config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("setrlimit(RLIMIT_NOFILE, %llu): %s",
                     (unsigned long long)rl.rlim_max, strerror(errno));
    }
    rlim_t need = (rlim_t)cfg->max_conn + 64 +
                  2 * (rlim_t)cfg->worker_num * (rlim_t)cfg->reactor_num;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        log_warn("the open file limit (%llu) is below what max_conn %d "
                 "needs (%llu); raise it (ulimit -n) or lower max_conn",
                 (unsigned long long)rl.rlim_cur, cfg->max_conn,
                 (unsigned long long)need);
}

/* The HTTP figures' rows per listener: one per reactor thread, or in base
 * mode one per worker (each counts the requests it serves). */
static int master_http_rows(const config_t *cfg)
{
    return cfg->mode == SERVER_MODE_BASE ? cfg->worker_num : cfg->reactor_num;
}

/* Everything that can fail on bad config, before going to the background. */
static int master_prepare(server_t *s)
{
    char err[1024];
    s->admin_fd = -1;
    if (privs_resolve(&s->cfg, &s->uid, &s->gid) < 0)
        return -1;
    if (master_bind(s) < 0)
        return -1;
    if (s->cfg.admin.enabled &&
        (s->admin_fd = admin_open(&s->cfg, err, sizeof(err))) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (s->cfg.daemonize) {
        if (s->cfg.log_file == NULL)
            log_warn("daemonize without server.log_file: log lines will be "
                     "discarded");
        if (daemon_detach(&m.ready_fd) < 0)
            return -1;
        sdmaster_daemonized();
    }
    s->master_pid = getpid();
    snprintf(err, sizeof(err), "%s: server.pid_file", s->cfg.path);
    if (s->cfg.pid_file != NULL && pidfile_write(s->cfg.pid_file, err) < 0)
        return -1;
    s->nprocs = server_count_procs(&s->cfg);
    if (master_make_chans(s) < 0 || master_make_shared(s) < 0)
        return -1;
    s->shm = shm_create(s->cfg.worker_num, s->cfg.task_worker_num, s->nprocs);
    if (s->shm != NULL &&
        (s->shm->http = shm_http_create(s->cfg.nlisteners,
                                        master_http_rows(&s->cfg))) == NULL)
        return -1;
    if (http2_conn_init() < 0 ||
        (s->shm != NULL && tls_init(&s->cfg, s->shm) < 0))
        return -1;
    api_shared_init(s);
    m.loop = loop_create();
    return s->shm != NULL && m.loop != NULL ? 0 : -1;
}

static void master_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    sigaddset(set, SIGNAL_REOPEN);
    sigaddset(set, SIGNAL_MANAGER);
    sigprocmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The master's own copy of the plugins, loaded after the manager was
 * forked so that no worker inherits it. */
static int master_start_plugins(server_t *s)
{
    if (api_load_plugins(&s->cfg, &m.plugins) < 0)
        return -1;
    for (int i = 0; i < s->cfg.nplugins; i++)
        api_call(&m.plugins[i], on_start);
    return 0;
}

static int master_start(server_t *s, const sigset_t *set)
{
    if (master_watch(s, set) < 0 ||
        (s->cfg.mode == SERVER_MODE_BASE
             ? access_log_check(&s->cfg)
             : access_log_start(&s->cfg, s->cfg.reactor_num)) < 0 ||
        (s->cfg.mode != SERVER_MODE_BASE && reactor_start_all(s) < 0))
        return -1;
    if (s->admin_fd >= 0 &&
        admin_start(m.loop, s->admin_fd, s, master_reload) < 0)
        return -1;
    return master_start_plugins(s);
}

static void master_cleanup(server_t *s)
{
    for (int i = 0; m.plugins != NULL && i < s->cfg.nplugins; i++)
        api_call(&m.plugins[i], on_shutdown);
    api_unload_plugins(&s->cfg, m.plugins);
    m.plugins = NULL;
    reactor_stop_all();
    access_log_stop(); /* after the reactors: their last lines are in */
    tls_free();
    master_close_listeners(1);
    if (s->admin_fd >= 0)
        admin_stop(&s->cfg);
    loop_free(m.loop);
    close(m.sigfd);
    if (s->shm != NULL)
        shm_http_destroy(s->shm->http);
    shm_destroy(s->shm);
    for (int i = 0; s->tables != NULL && i < s->cfg.ntables; i++)
        table_destroy(s->tables[i]);
    free(s->tables);
    atomics_destroy(s->atomics);
    free(s->mbox_fds);
    free(s->lane_fds);
    if (s->chan_shared != NULL)
        munmap(s->chan_shared, (size_t)s->cfg.worker_num *
                                   (size_t)s->cfg.reactor_num *
                                   sizeof(ipc_shared_t));
    free(s->chan_fds);
    free(s->listen_fds);
    free(m.listen_files);
    if (s->cfg.pid_file != NULL)
        pidfile_remove(s->cfg.pid_file);
}

int master_run(server_t *s)
{
    m.srv = s;
    m.sigfd = -1;
    log_set_echo(1);
    master_raise_nofile(&s->cfg);
    if (master_prepare(s) < 0) {
        sdmaster_failed(log_last_error());
        master_unbind(s);
        daemon_ready(&m.ready_fd, 1);
        if (s->cfg.pid_file != NULL)
            pidfile_remove(s->cfg.pid_file);
        return 1;
    }
    sigset_t set;
    master_block_signals(&set);
    /* Fork before any thread exists: the child gets no half-held lock. */
    if (master_fork_manager(s) < 0) {
        daemon_ready(&m.ready_fd, 1);
        return 1;
    }
    proctitle_set("swx-server: master");
    if (master_start(s, &set) < 0) {
        master_begin_stop("start-up failure");
        m.exit_status = 1;
    } else if (s->cfg.mode == SERVER_MODE_BASE) {
        log_notice("swx-server %s started in base mode: %d worker(s), each "
                   "accepting and serving its own connections, %d "
                   "listener(s); reactor_num and dispatch_mode do not apply "
                   "and are ignored", SWX_VERSION, s->cfg.worker_num,
                   s->cfg.nlisteners);
        sdmaster_start(m.loop, s); /* READY=1 once the workers serve */
    } else {
        log_notice("swx-server %s started: %d reactor(s), %d worker(s), %d "
                   "listener(s)", SWX_VERSION, s->cfg.reactor_num,
                   s->cfg.worker_num, s->cfg.nlisteners);
        sdmaster_start(m.loop, s);
    }
    daemon_ready(&m.ready_fd, m.exit_status);
    log_set_echo(0);
    master_loop();
    master_cleanup(s);
    log_notice("stopped");
    return m.exit_status;
}
