/* wait.c: coroutine waits on the process's loop: sleep, and fd readiness
 * with a timeout. Timeouts are the loop's own timer heap (event/timer.h):
 * one epoll_wait timeout covers them and every other timer, adding or
 * clearing one is O(log n), and 100 000 of them take a few MiB; a wheel
 * would make that O(1) but is a second clock to keep in step with the
 * loop for a gain no profile has shown. */
#include "coro/wait.h"

#include <errno.h>
#include <stdlib.h>

#include "coro/coro.h"

/* Who waits on an fd: a reader and a writer, at most one each. */
typedef struct wait_fd {
    coro_t *rd, *wr;
} wait_fd_t;

static loop_t *loop;
static wait_fd_t *fds; /* by fd */
static int nfds;

void coro_wait_init(loop_t *l)
{
    loop = l;
}

void coro_wait_free(void)
{
    free(fds);
    fds = NULL;
    nfds = 0;
}

int coro_sleep(long ms)
{
    if (ms < 0)
        return -EINVAL;
    int rc = coro_park(ms);
    return rc == -ETIMEDOUT ? 0 : rc;
}

static int wait_grow(int fd)
{
    if (fd < nfds)
        return 0;
    int n = nfds ? nfds : 64;
    while (n <= fd)
        n *= 2;
    wait_fd_t *p = realloc(fds, (size_t)n * sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    for (int i = nfds; i < n; i++)
        p[i] = (wait_fd_t){NULL, NULL};
    fds = p;
    nfds = n;
    return 0;
}

static int wait_mask(const wait_fd_t *w)
{
    return (w->rd != NULL ? LOOP_READ : 0) | (w->wr != NULL ? LOOP_WRITE : 0);
}

/* The loop saw fd ready: wake its reader and/or writer. */
static void wait_io(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)arg;
    wait_fd_t *w = &fds[fd];
    coro_t *rd = (events & (LOOP_READ | LOOP_ERROR)) ? w->rd : NULL;
    coro_t *wr = (events & (LOOP_WRITE | LOOP_ERROR)) ? w->wr : NULL;
    if (rd != NULL)
        coro_wake(rd, events & (LOOP_READ | LOOP_ERROR));
    if (wr != NULL && fd < nfds && fds[fd].wr == wr)
        coro_wake(wr, events & (LOOP_WRITE | LOOP_ERROR));
}

/* Register self as fd's reader or writer in the loop. */
static int wait_add(int fd, int events, coro_t *self)
{
    wait_fd_t *w = &fds[fd];
    int had = wait_mask(w);
    if (((events & LOOP_READ) && w->rd != NULL) ||
        ((events & LOOP_WRITE) && w->wr != NULL))
        return -EBUSY;
    if (had == 0 && loop_events(loop, fd) >= 0)
        return -EEXIST;
    if (events & LOOP_READ)
        w->rd = self;
    if (events & LOOP_WRITE)
        w->wr = self;
    int rc = had == 0 ? loop_add(loop, fd, wait_mask(w), wait_io, NULL)
                      : loop_mod(loop, fd, wait_mask(w));
    if (rc < 0) {
        if (events & LOOP_READ)
            w->rd = NULL;
        if (events & LOOP_WRITE)
            w->wr = NULL;
    }
    return rc;
}

static void wait_remove(int fd, coro_t *self)
{
    wait_fd_t *w = &fds[fd];
    if (w->rd == self)
        w->rd = NULL;
    if (w->wr == self)
        w->wr = NULL;
    if (wait_mask(w) == 0)
        loop_del(loop, fd);
    else
        loop_mod(loop, fd, wait_mask(w));
}

int coro_wait_fd(int fd, int events, long timeout_ms)
{
    coro_t *self = coro_self();
    if (self == NULL)
        return -EPERM;
    if (fd < 0 || events == 0 ||
        (events & ~(LOOP_READ | LOOP_WRITE)) != 0)
        return -EINVAL;
    if (loop == NULL || wait_grow(fd) < 0)
        return loop == NULL ? -ENOTSUP : -ENOMEM;
    int rc = wait_add(fd, events, self);
    if (rc < 0)
        return rc;
    rc = coro_park(timeout_ms);
    wait_remove(fd, self);
    return rc;
}
