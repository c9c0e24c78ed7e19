/* plugin_io.c: a plugin's timers, file descriptors and deferred calls in its
 * process's event loop. Each remembers the plugin that made it, so that
 * swx_config_* in the callback read that plugin's config. */
#include "plugin/plugin_io.h"

#include <errno.h>
#include <stdlib.h>

#include "plugin/api.h"
#include "core/log.h"
#include "proc/watch.h"

typedef struct pio_timer {
    const plugin_t *plugin;
    swx_timer_cb *cb;
    void *arg;
    int once;
    int cleared;                 /* cleared by its own callback */
    struct pio_timer *prev, *next;
} pio_timer_t;

typedef struct pio_fd {
    const plugin_t *plugin;
    swx_event_cb *cb;
    void *arg;
} pio_fd_t;

typedef struct pio_call {
    const plugin_t *plugin;
    swx_defer_cb *cb;
    void *arg;
} pio_call_t;

static loop_t *loop;
static pio_timer_t *timers;    /* every live timer, to free them at exit */
static pio_timer_t *running;   /* the timer whose callback runs */
static pio_fd_t **fds;         /* by fd */
static int nfds_cap;
static int nfds;

void pio_init(loop_t *l)
{
    loop = l;
}

static void timer_unlink(pio_timer_t *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        timers = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
}

void pio_free(void)
{
    while (timers != NULL) {
        pio_timer_t *t = timers;
        timer_unlink(t);
        free(t);
    }
    for (int fd = 0; fd < nfds_cap; fd++)
        if (fds[fd] != NULL)
            pio_event_del(fd);
    free(fds);
    fds = NULL;
    nfds_cap = 0;
}

int pio_active(void)
{
    return (int)timer_count(loop_timers(loop)) + nfds;
}

static void pio_timer_fire(int64_t id, void *arg)
{
    pio_timer_t *t = arg;
    const plugin_t *prev = api_enter(t->plugin);
    running = t;
    watch_begin(t->plugin, "a timer", -1, 0);
    t->cb(id, t->arg);
    watch_end();
    running = NULL;
    api_enter(prev);
    if (t->once || t->cleared) {
        timer_unlink(t);
        free(t);
    }
}

int64_t pio_timer_add(long ms, int repeat, swx_timer_cb *cb, void *arg)
{
    if (loop == NULL)
        return -ENOTSUP;
    if (cb == NULL || ms < (repeat ? 1 : 0))
        return -EINVAL;
    pio_timer_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    *t = (pio_timer_t){api_current(), cb, arg, !repeat, 0, NULL, timers};
    int64_t id = timer_add(loop_timers(loop), loop_now(), ms, repeat ? ms : 0,
                           pio_timer_fire, t);
    if (id < 0) {
        free(t);
        return id;
    }
    if (timers != NULL)
        timers->prev = t;
    timers = t;
    return id;
}

int pio_timer_clear(int64_t id)
{
    if (loop == NULL)
        return -ENOTSUP;
    pio_timer_t *t = timer_arg(loop_timers(loop), id);
    if (t == NULL || timer_clear(loop_timers(loop), id) < 0)
        return -ENOENT;
    if (t == running) {
        t->cleared = 1; /* freed when its callback returns */
        return 0;
    }
    timer_unlink(t);
    free(t);
    return 0;
}

static void pio_fd_io(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    pio_fd_t *f = arg;
    const plugin_t *prev = api_enter(f->plugin);
    watch_begin(f->plugin, "an fd callback", -1, 0);
    f->cb(fd, events, f->arg);
    watch_end();
    api_enter(prev);
}

static int pio_grow(int fd)
{
    if (fd < nfds_cap)
        return 0;
    int n = nfds_cap ? nfds_cap : 64;
    while (n <= fd)
        n *= 2;
    pio_fd_t **p = realloc(fds, (size_t)n * sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    for (int i = nfds_cap; i < n; i++)
        p[i] = NULL;
    fds = p;
    nfds_cap = n;
    return 0;
}

static int pio_check_events(int events)
{
    return (events & ~(SWX_EVENT_READ | SWX_EVENT_WRITE)) == 0 ? 0 : -EINVAL;
}

int pio_event_add(int fd, int events, swx_event_cb *cb, void *arg)
{
    if (loop == NULL)
        return -ENOTSUP;
    if (fd < 0 || cb == NULL || pio_check_events(events) < 0)
        return -EINVAL;
    if (loop_events(loop, fd) >= 0)
        return -EEXIST;
    pio_fd_t *f = malloc(sizeof(*f));
    if (f == NULL || pio_grow(fd) < 0) {
        free(f);
        return -ENOMEM;
    }
    *f = (pio_fd_t){api_current(), cb, arg};
    int rc = loop_add(loop, fd, events, pio_fd_io, f);
    if (rc < 0) {
        free(f);
        return rc;
    }
    fds[fd] = f;
    nfds++;
    return 0;
}

int pio_event_set(int fd, int events)
{
    if (loop == NULL)
        return -ENOTSUP;
    if (fd < 0 || fd >= nfds_cap || fds[fd] == NULL)
        return -ENOENT;
    if (pio_check_events(events) < 0)
        return -EINVAL;
    return loop_mod(loop, fd, events);
}

int pio_event_del(int fd)
{
    if (loop == NULL)
        return -ENOTSUP;
    if (fd < 0 || fd >= nfds_cap || fds[fd] == NULL)
        return -ENOENT;
    loop_del(loop, fd);
    free(fds[fd]);
    fds[fd] = NULL;
    nfds--;
    return 0;
}

static void pio_call_run(void *arg)
{
    pio_call_t *c = arg;
    const plugin_t *prev = api_enter(c->plugin);
    watch_begin(c->plugin, "a deferred call", -1, 0);
    c->cb(c->arg);
    watch_end();
    api_enter(prev);
    free(c);
}

int pio_defer(swx_defer_cb *cb, void *arg)
{
    if (loop == NULL)
        return -ENOTSUP;
    if (cb == NULL)
        return -EINVAL;
    pio_call_t *c = malloc(sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    *c = (pio_call_t){api_current(), cb, arg};
    if (loop_defer(loop, pio_call_run, c) < 0) {
        free(c);
        return -ENOMEM;
    }
    return 0;
}
