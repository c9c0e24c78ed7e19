/* manager.c: the manager process: forks the workers, reaps them, replaces any
 * that exits (backing off when one keeps failing at start), and stops them. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proctitle.h"
#include "server.h"

/* A worker that dies sooner than this after its start counts as failing. */
#define MANAGER_FAST_EXIT_MS 2000
#define MANAGER_BACKOFF_MIN_MS 100
#define MANAGER_BACKOFF_MAX_MS 30000

typedef struct child {
    pid_t pid;          /* 0 while not running */
    long long started;  /* ms */
    long long respawn_at; /* ms; 0 when none is due */
    int failures;       /* consecutive fast failures */
} child_t;

static server_t *srv;
static child_t *children;
static int sigfd = -1;
static int stopping;
static long long stop_deadline;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void manager_spawn(int id)
{
    child_t *c = &children[id];
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork(worker %d): %s; retrying in 1s", id, strerror(errno));
        c->respawn_at = now_ms() + 1000;
        return;
    }
    if (pid == 0) {
        close(sigfd);
        free(children);
        /* If the manager dies, so does the worker. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != srv->manager_pid)
            _exit(1);
        worker_run(srv, id);
    }
    c->pid = pid;
    c->started = now_ms();
    c->respawn_at = 0;
    atomic_store(&srv->shm->workers[id].pid, pid);
    atomic_fetch_add(&srv->shm->workers[id].starts, 1);
    log_debug("worker %d started, pid %d", id, (int)pid);
}

static int manager_find(pid_t pid)
{
    for (int i = 0; i < srv->cfg.worker_num; i++)
        if (children[i].pid == pid)
            return i;
    return -1;
}

/* Log how a worker ended; 1 when it ended abnormally. */
static int manager_log_exit(int id, pid_t pid, int status, long long lived)
{
    if (WIFSIGNALED(status)) {
        log_error("worker %d (pid %d) killed by signal %d (%s)%s after %lld "
                  "ms", id, (int)pid, WTERMSIG(status),
                  strsignal(WTERMSIG(status)),
                  WCOREDUMP(status) ? ", core dumped" : "", lived);
        return 1;
    }
    int code = WEXITSTATUS(status);
    if (code == 0) {
        log_debug("worker %d (pid %d) exited after %lld ms", id, (int)pid,
                  lived);
        return 0;
    }
    log_error("worker %d (pid %d) exited with status %d%s after %lld ms", id,
              (int)pid, code,
              code == WORKER_EXIT_START_FAILED ? " (a plugin failed to start)"
                                               : "",
              lived);
    return 1;
}

static void manager_schedule(int id, int abnormal, long long lived)
{
    child_t *c = &children[id];
    if (!abnormal || lived >= MANAGER_FAST_EXIT_MS) {
        c->failures = 0;
        c->respawn_at = now_ms();
        return;
    }
    c->failures++;
    long long delay = MANAGER_BACKOFF_MIN_MS;
    for (int i = 1; i < c->failures && delay < MANAGER_BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > MANAGER_BACKOFF_MAX_MS)
        delay = MANAGER_BACKOFF_MAX_MS;
    c->respawn_at = now_ms() + delay;
    log_warn("worker %d failed %d time(s) in a row soon after start; next "
             "start in %lld ms", id, c->failures, delay);
}

static void manager_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int id = manager_find(pid);
        if (id < 0) {
            log_warn("reaped unknown child pid %d", (int)pid);
            continue;
        }
        long long lived = now_ms() - children[id].started;
        children[id].pid = 0;
        atomic_store(&srv->shm->workers[id].pid, 0);
        atomic_store(&srv->shm->workers[id].busy, 0);
        int abnormal = manager_log_exit(id, pid, status, lived);
        if (!stopping)
            manager_schedule(id, abnormal, lived);
    }
}

static void manager_signal_all(int sig)
{
    for (int i = 0; i < srv->cfg.worker_num; i++)
        if (children[i].pid > 0 && kill(children[i].pid, sig) < 0)
            log_error("kill(worker %d, pid %d, %d): %s", i,
                      (int)children[i].pid, sig, strerror(errno));
}

static void manager_begin_stop(void)
{
    if (stopping)
        return;
    stopping = 1;
    stop_deadline = now_ms() + srv->cfg.max_wait_time * 1000LL;
    log_debug("stopping %d workers", srv->cfg.worker_num);
    manager_signal_all(SIGTERM);
}

static int manager_running(void)
{
    int n = 0;
    for (int i = 0; i < srv->cfg.worker_num; i++)
        n += children[i].pid > 0;
    return n;
}

static void manager_read_signals(void)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            manager_reap();
        else if (si.ssi_signo == SIGTERM)
            manager_begin_stop();
    }
}

/* Start due workers; the ms until the next one is due, or -1. */
static int manager_respawn_due(void)
{
    long long now = now_ms(), next = -1;
    for (int i = 0; i < srv->cfg.worker_num && !stopping; i++) {
        child_t *c = &children[i];
        if (c->pid != 0 || c->respawn_at == 0)
            continue;
        if (c->respawn_at <= now)
            manager_spawn(i);
        else if (next < 0 || c->respawn_at - now < next)
            next = c->respawn_at - now;
    }
    return (int)next;
}

static void manager_loop(void)
{
    for (;;) {
        int timeout = manager_respawn_due();
        if (stopping) {
            if (manager_running() == 0)
                return;
            long long left = stop_deadline - now_ms();
            if (left <= 0) {
                log_warn("max_wait_time (%d s) passed; killing %d worker(s)",
                         srv->cfg.max_wait_time, manager_running());
                manager_signal_all(SIGKILL);
                stop_deadline = now_ms() + 1000;
                left = 1000;
            }
            timeout = (int)left;
        }
        struct pollfd pfd = {.fd = sigfd, .events = POLLIN};
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            return;
        }
        manager_read_signals();
    }
}

static void manager_close_master_fds(void)
{
    for (int i = 0; i < srv->cfg.nlisteners; i++)
        close(srv->listen_fds[i]);
    int n = srv->cfg.worker_num * srv->cfg.reactor_num;
    for (int i = 0; i < n; i++)
        close(srv->chan_fds[i][0]);
}

void manager_run(server_t *s)
{
    srv = s;
    srv->manager_pid = getpid();
    log_set_role("manager");
    proctitle_set("swx-server: manager");
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != srv->master_pid)
        _exit(1);
    signal(SIGINT, SIG_IGN); /* the master turns ^C into an orderly stop */
    manager_close_master_fds();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    children = calloc((size_t)srv->cfg.worker_num, sizeof(*children));
    if (sigfd < 0 || children == NULL) {
        log_error("manager setup failed: %s", strerror(errno));
        _exit(1);
    }
    for (int i = 0; i < srv->cfg.worker_num; i++)
        manager_spawn(i);
    manager_loop();
    log_debug("all workers stopped");
    free(children);
    config_free(&srv->cfg);
    exit(0);
}
