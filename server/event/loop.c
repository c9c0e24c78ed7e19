/* loop.c: a small epoll event loop; handlers are kept in an array by fd. */
#include "event/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rawsys.h"

#define LOOP_BATCH 256

/* An fd number is reused as soon as it is closed, so a slot also counts
 * the registrations made in it: an event reported for an earlier one (an
 * fd removed and a new one added under its number within one batch) does
 * not reach the new handler. */
typedef struct loop_handler {
    loop_io_cb *cb;
    void *arg;
    int events;   /* LOOP_* watched */
    int used;     /* 0: the fd is not watched */
    uint32_t gen; /* registrations of this slot, in epoll_event.data */
} loop_handler_t;

typedef struct loop_deferred {
    loop_defer_cb *cb;
    void *arg;
    struct loop_deferred *next;
} loop_deferred_t;

struct loop {
    int epfd;
    loop_handler_t *handlers;
    int nhandlers;
    timer_heap_t timers;
    loop_deferred_t *deferred; /* in the order they were added */
    loop_deferred_t **deferred_tail;
    loop_deferred_t *spare;    /* run ones, for the next loop_defer */
    int nspare;
    struct {
        loop_defer_cb *cb;
        void *arg;
    } prepare[LOOP_PREPARE_MAX];
    int nprepare;
    int batch; /* events of the run being dispatched */
};

static _Atomic unsigned loop_forks;
static pthread_once_t loop_fork_once = PTHREAD_ONCE_INIT;

static void loop_forked(void)
{
    atomic_fetch_add(&loop_forks, 1);
}

static void loop_watch_forks(void)
{
    if (pthread_atfork(NULL, loop_forked, NULL) != 0)
        atomic_store(&loop_forks, 1u << 31); /* unknown: never equal */
}

unsigned loop_fork_count(void)
{
    pthread_once(&loop_fork_once, loop_watch_forks);
    return atomic_load(&loop_forks);
}

loop_t *loop_create(void)
{
    pthread_once(&loop_fork_once, loop_watch_forks);
    loop_t *loop = calloc(1, sizeof(*loop));
    if (loop == NULL) {
        log_error("loop: calloc: %s", strerror(errno));
        return NULL;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        log_error("epoll_create1: %s", strerror(errno));
        free(loop);
        return NULL;
    }
    timer_init(&loop->timers);
    loop->deferred_tail = &loop->deferred;
    return loop;
}

void loop_free(loop_t *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    free(loop->handlers);
    timer_free(&loop->timers);
    while (loop->deferred != NULL) {
        loop_deferred_t *d = loop->deferred;
        loop->deferred = d->next;
        free(d);
    }
    while (loop->spare != NULL) {
        loop_deferred_t *d = loop->spare;
        loop->spare = d->next;
        free(d);
    }
    free(loop);
}

static int loop_grow(loop_t *loop, int fd)
{
    if (fd < loop->nhandlers)
        return 0;
    int n = loop->nhandlers ? loop->nhandlers : 64;
    while (n <= fd)
        n *= 2;
    loop_handler_t *h = realloc(loop->handlers, (size_t)n * sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    memset(h + loop->nhandlers, 0,
           (size_t)(n - loop->nhandlers) * sizeof(*h));
    loop->handlers = h;
    loop->nhandlers = n;
    return 0;
}

static uint64_t loop_tag(const loop_t *loop, int fd)
{
    return (uint64_t)loop->handlers[fd].gen << 32 | (uint32_t)fd;
}

static uint32_t loop_epoll_bits(int events)
{
    uint32_t e = 0;
    if (events & LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (events & LOOP_WRITE)
        e |= EPOLLOUT;
    if (events & LOOP_RDHUP)
        e |= EPOLLRDHUP;
    /* The kernel takes EPOLLEXCLUSIVE with EPOLLIN and EPOLLOUT only. */
    if (events & LOOP_EXCLUSIVE)
        e = (e & (EPOLLIN | EPOLLOUT)) | EPOLLEXCLUSIVE;
    return e;
}

int loop_add(loop_t *loop, int fd, int events, loop_io_cb *cb, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if (loop_grow(loop, fd) < 0)
        return -ENOMEM;
    /* epoll says whether fd is watched: a slot still marked used may be
     * that of an fd closed without loop_del, which epoll forgot. */
    loop_handler_t *h = &loop->handlers[fd];
    uint32_t gen = h->gen + 1;
    struct epoll_event ev = {.events = loop_epoll_bits(events),
                             .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    *h = (loop_handler_t){cb, arg, events, 1, gen};
    return 0;
}

int loop_mod(loop_t *loop, int fd, int events)
{
    if (loop_events(loop, fd) < 0)
        return -ENOENT;
    if (loop->handlers[fd].events == events)
        return 0;
    struct epoll_event ev = {.events = loop_epoll_bits(events),
                             .data.u64 = loop_tag(loop, fd)};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        return -errno;
    loop->handlers[fd].events = events;
    return 0;
}

/* The slot is released even when epoll_ctl fails (the fd was closed
 * first, say): nothing more is delivered for it. */
int loop_del(loop_t *loop, int fd)
{
    if (loop_events(loop, fd) < 0)
        return -ENOENT;
    loop->handlers[fd].used = 0;
    loop->handlers[fd].events = 0;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
        return -errno;
    return 0;
}

int loop_forget(loop_t *loop, int fd)
{
    if (loop_events(loop, fd) < 0)
        return -ENOENT;
    loop->handlers[fd].used = 0;
    loop->handlers[fd].events = 0;
    return 0;
}

int loop_batch(const loop_t *loop)
{
    return loop->batch;
}

int loop_events(const loop_t *loop, int fd)
{
    if (fd < 0 || fd >= loop->nhandlers || !loop->handlers[fd].used)
        return -1;
    return loop->handlers[fd].events;
}

timer_heap_t *loop_timers(loop_t *loop)
{
    return &loop->timers;
}

/* Run calls kept for reuse: a base-mode worker defers two calls per HTTP
 * request, and their malloc and free were 3% of its own instructions. */
#define LOOP_SPARE_MAX 64

int loop_defer(loop_t *loop, loop_defer_cb *cb, void *arg)
{
    loop_deferred_t *d = loop->spare;
    if (d != NULL) {
        loop->spare = d->next;
        loop->nspare--;
    } else if ((d = malloc(sizeof(*d))) == NULL) {
        return -ENOMEM;
    }
    *d = (loop_deferred_t){cb, arg, NULL};
    *loop->deferred_tail = d;
    loop->deferred_tail = &d->next;
    return 0;
}

/* Calls deferred during this run wait for the next one. */
static void loop_run_deferred(loop_t *loop)
{
    loop_deferred_t *d = loop->deferred;
    loop->deferred = NULL;
    loop->deferred_tail = &loop->deferred;
    while (d != NULL) {
        loop_deferred_t *next = d->next;
        d->cb(d->arg);
        if (loop->nspare < LOOP_SPARE_MAX) {
            d->next = loop->spare;
            loop->spare = d;
            loop->nspare++;
        } else {
            free(d);
        }
        d = next;
    }
}

void loop_run_deferred_now(loop_t *loop)
{
    if (loop->deferred != NULL)
        loop_run_deferred(loop);
}

static int loop_min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    return b < 0 || a < b ? a : b;
}

/* Also wake for a log summary that falls due, so that a quiet process
 * still reports lines it held back. */
static int loop_timeout(loop_t *loop, int timeout_ms)
{
    if (loop->deferred != NULL)
        return 0;
    int t = timer_next_timeout(&loop->timers, loop_now());
    return loop_min_timeout(loop_min_timeout(t, timeout_ms), log_due_in_ms());
}

int loop_prepare(loop_t *loop, loop_defer_cb *cb, void *arg)
{
    if (loop->nprepare == LOOP_PREPARE_MAX)
        return -ENOSPC;
    loop->prepare[loop->nprepare].cb = cb;
    loop->prepare[loop->nprepare].arg = arg;
    loop->nprepare++;
    return 0;
}

int loop_run_once(loop_t *loop, int timeout_ms)
{
    struct epoll_event evs[LOOP_BATCH];
    for (int i = 0; i < loop->nprepare; i++)
        loop->prepare[i].cb(loop->prepare[i].arg);
    int n = raw_epoll_wait(loop->epfd, evs, LOOP_BATCH,
                           loop_timeout(loop, timeout_ms));
    if (n < 0 && errno != EINTR)
        return -errno;
    if (n < 0)
        n = 0;
    loop->batch = n;
    for (int i = 0; i < n; i++) {
        int fd = (int)(uint32_t)evs[i].data.u64;
        /* An earlier handler in this batch may have removed fd, and may
         * have added another under its number. */
        if (loop_events(loop, fd) < 0 || loop_tag(loop, fd) != evs[i].data.u64)
            continue;
        int fired = 0;
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
            fired |= LOOP_READ;
        if (evs[i].events & EPOLLOUT)
            fired |= LOOP_WRITE;
        /* Only to those who asked: others see it as LOOP_READ. */
        if ((evs[i].events & EPOLLRDHUP) &&
            (loop->handlers[fd].events & LOOP_RDHUP))
            fired |= LOOP_RDHUP;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            fired |= LOOP_ERROR | LOOP_READ;
        loop_handler_t h = loop->handlers[fd];
        h.cb(loop, fd, fired, h.arg);
    }
    log_tick();
    if (timer_count(&loop->timers) > 0)
        timer_run_due(&loop->timers, loop_now());
    if (loop->deferred != NULL)
        loop_run_deferred(loop);
    return n;
}
