/* exec.c: a program run from a coroutine: posix_spawn (a vfork-like clone:
 * nothing of the worker runs in the child) with a clean signal state, its
 * output read from a non-blocking pipe with coro_wait_fd, and its exit
 * learned from a pidfd (Linux 5.3) that the loop watches, then reaped by
 * pid with WNOHANG: the loop never blocks in waitpid, and no SIGCHLD
 * handling is needed (workers block SIGCHLD with its default action, so a
 * child stays a zombie until this reaps it). */
#include "coro/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/wait.h"
#include "core/log.h"
#include "event/clock.h"

extern char **environ;

#define EXEC_FIRST 4096       /* the first output buffer */
#define EXEC_KILL_WAIT 2000   /* ms a killed program gets to be reaped */
#define EXEC_POLL 10          /* ms between looks without a pidfd */

typedef struct exec_run {
    pid_t pid;
    int pidfd;                /* -1: none (an old kernel): poll waitpid */
    int out;                  /* the pipe's read end, or -1 */
    int reaped;
    size_t max, cap;
    int64_t deadline;         /* loop_now() ms, -1: none */
    coro_exec_result_t *res;
} exec_run_t;

static long exec_left(int64_t until)
{
    if (until < 0)
        return -1;
    int64_t left = until - loop_now();
    return left > 0 ? (long)left : 0;
}

/* ---- spawning ---- */

/* Every signal, glibc's own two included: sigfillset leaves them out
 * (and sigaddset refuses them), and posix_spawn's child then sets them to
 * SIG_IGN, which exec keeps; named in the set, they get SIG_DFL too. */
static void exec_every_signal(sigset_t *set)
{
    const int bits = 8 * (int)sizeof(set->__val[0]);
    sigfillset(set);
    for (int sig = __SIGRTMIN; sig < SIGRTMIN; sig++)
        set->__val[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
}

/* The child starts with an empty signal mask (workers block signals they
 * read from a signalfd), every signal's default action (workers ignore
 * SIGPIPE and SIGINT, which exec would keep), in a group of its own so
 * that a timeout kills what it started too. */
static int exec_attrs(posix_spawnattr_t *at)
{
    sigset_t none, all;
    sigemptyset(&none);
    exec_every_signal(&all);
    int rc = posix_spawnattr_init(at);
    if (rc != 0)
        return rc;
    if ((rc = posix_spawnattr_setsigmask(at, &none)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(at, &all)) != 0 ||
        (rc = posix_spawnattr_setpgroup(at, 0)) != 0 ||
        (rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK |
                                               POSIX_SPAWN_SETSIGDEF |
                                               POSIX_SPAWN_SETPGROUP)) != 0)
        posix_spawnattr_destroy(at);
    return rc;
}

/* stdin /dev/null; stdout the pipe (or /dev/null); stderr the pipe too
 * with CORO_EXEC_STDERR; nothing else of the worker's (listeners,
 * channels) is inherited. */
static int exec_actions(posix_spawn_file_actions_t *fa, int wr, int flags)
{
    int rc = posix_spawn_file_actions_init(fa);
    if (rc != 0)
        return rc;
    rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = wr >= 0 ? posix_spawn_file_actions_adddup2(fa, wr, 1)
                     : posix_spawn_file_actions_addopen(fa, 1, "/dev/null",
                                                        O_WRONLY, 0);
    if (rc == 0 && (flags & CORO_EXEC_STDERR))
        rc = posix_spawn_file_actions_adddup2(fa, 1, 2);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    if (rc != 0)
        posix_spawn_file_actions_destroy(fa);
    return rc;
}

static int exec_start(exec_run_t *r, const char *const argv[], int flags,
                      int wr)
{
    posix_spawnattr_t at;
    posix_spawn_file_actions_t fa;
    int rc = exec_attrs(&at);
    if (rc != 0)
        return -rc;
    rc = exec_actions(&fa, wr, flags);
    if (rc == 0) {
        rc = posix_spawnp(&r->pid, argv[0], &fa, &at, (char *const *)argv,
                          environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        log_debug("exec: cannot run %s: %s", argv[0], strerror(rc));
    return -rc;
}

/* Start argv with stdout into a pipe whose read end is r->out (only the
 * read end is non-blocking: the program's stdout blocks as it expects). */
static int exec_spawn(exec_run_t *r, const char *const argv[], int flags)
{
    int p[2] = {-1, -1};
    if (r->max > 0 && pipe2(p, O_CLOEXEC) < 0) {
        int err = errno;
        log_error("exec: pipe2: %s", strerror(err));
        return -err;
    }
    if (p[0] >= 0 && fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
        log_error("exec: fcntl(O_NONBLOCK): %s", strerror(errno));
    int rc = exec_start(r, argv, flags, p[1]);
    if (p[1] >= 0)
        close(p[1]);
    if (rc < 0) {
        if (p[0] >= 0)
            close(p[0]);
        return rc;
    }
    r->out = p[0];
    r->pidfd = pidfd_open(r->pid, 0); /* -1: waitpid is polled instead */
    return 0;
}

/* ---- output ---- */

static int exec_grow(exec_run_t *r)
{
    coro_exec_result_t *res = r->res;
    size_t cap = r->cap * 2 > EXEC_FIRST ? r->cap * 2 : EXEC_FIRST;
    if (cap > r->max + 1)
        cap = r->max + 1;
    char *p = realloc(res->output, cap);
    if (p == NULL)
        return -ENOMEM;
    res->output = p;
    r->cap = cap;
    return 0;
}

/* Read the pipe until its end: 0, -EMSGSIZE (a byte past max_output
 * came), or -ETIMEDOUT, -ECANCELED, -ENOMEM, read(2)'s -errno. */
static int exec_read(exec_run_t *r)
{
    coro_exec_result_t *res = r->res;
    for (;;) {
        if (res->len < r->max && res->len + 1 >= r->cap &&
            exec_grow(r) < 0)
            return -ENOMEM;
        char probe;
        int full = res->len == r->max;
        ssize_t n = full ? read(r->out, &probe, 1)
                         : read(r->out, res->output + res->len,
                                r->cap - 1 - res->len);
        if (n > 0 && full)
            return -EMSGSIZE;
        if (n > 0)
            res->len += (size_t)n;
        else if (n == 0)
            return 0;
        else if (errno == EAGAIN) {
            int rc = coro_wait_fd(r->out, LOOP_READ, exec_left(r->deadline));
            if (rc < 0)
                return rc;
        } else if (errno != EINTR)
            return -errno;
    }
}

/* ---- exit ---- */

/* Wait a while for the pidfd (or, without one, a short while): in the
 * coroutine, or with poll(2) when sync (the process stops: a coroutine
 * cannot wait any more). 0 to look again, or -ECANCELED. */
static int exec_pause(exec_run_t *r, long left, int sync)
{
    if (r->pidfd < 0) {
        long ms = left < 0 || left > EXEC_POLL ? EXEC_POLL : left;
        if (!sync)
            return coro_sleep(ms);
        usleep((useconds_t)ms * 1000);
        return 0;
    }
    if (sync) {
        struct pollfd pfd = {r->pidfd, POLLIN, 0};
        poll(&pfd, 1, (int)left);
        return 0;
    }
    int rc = coro_wait_fd(r->pidfd, LOOP_READ, left);
    return rc == -ETIMEDOUT ? 0 : rc < 0 ? rc : 0;
}

/* Reap the program by until (-1: no limit). 0, -ETIMEDOUT, -ECANCELED,
 * -ECHILD (reaped by someone else). */
static int exec_reap(exec_run_t *r, int64_t until, int sync)
{
    for (;;) {
        int st;
        pid_t p = waitpid(r->pid, &st, WNOHANG);
        if (p == r->pid) {
            r->reaped = 1;
            r->res->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            r->res->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
            return 0;
        }
        if (p < 0 && errno != EINTR)
            return -errno;
        long left = exec_left(until);
        if (left == 0)
            return -ETIMEDOUT;
        int rc = exec_pause(r, left, sync);
        if (rc < 0)
            return rc;
    }
}

/* Kill the program's group (a shell's children with it) and reap it. */
static void exec_kill(exec_run_t *r)
{
    kill(-r->pid, SIGKILL);
    kill(r->pid, SIGKILL); /* in case it left its group */
    int64_t until = loop_now() + EXEC_KILL_WAIT;
    int rc = exec_reap(r, until, 0);
    if (rc == -ECANCELED)
        rc = exec_reap(r, until, 1);
    if (rc < 0 && rc != -ECHILD)
        log_warn("exec: pid %d not reaped %d ms after SIGKILL: %s",
                 (int)r->pid, EXEC_KILL_WAIT, strerror(-rc));
}

int coro_exec(const char *const argv[], int flags, size_t max_output,
              long timeout_ms, coro_exec_result_t *out)
{
    if (out != NULL)
        *out = (coro_exec_result_t){-1, 0, NULL, 0};
    if (coro_self() == NULL)
        return -EPERM;
    if (out == NULL || argv == NULL || argv[0] == NULL ||
        (flags & ~CORO_EXEC_STDERR) != 0)
        return -EINVAL;
    if (max_output == SIZE_MAX)
        max_output--; /* room for the NUL */
    exec_run_t r = {.pidfd = -1, .out = -1, .max = max_output, .res = out,
                    .deadline = timeout_ms < 0 ? -1 : loop_now() + timeout_ms};
    int rc = exec_spawn(&r, argv, flags);
    if (rc < 0)
        return rc;
    rc = r.out >= 0 ? exec_read(&r) : 0;
    if (r.out >= 0)
        close(r.out); /* past max_output: the program's writes fail */
    if (rc == 0 || rc == -EMSGSIZE) {
        int w = exec_reap(&r, r.deadline, 0);
        rc = w < 0 ? w : rc;
    }
    if (!r.reaped && rc != -ECHILD)
        exec_kill(&r);
    if (r.pidfd >= 0)
        close(r.pidfd);
    if (out->output != NULL)
        out->output[out->len] = '\0';
    return rc;
}
