/* coro.h: stackful coroutines on a process's event loop: the scheduler, the
 * park/wake protocol the waiting primitives use, and the stack pool. */
#ifndef SWX_CORO_H
#define SWX_CORO_H

#include <stddef.h>
#include <stdint.h>

#include "event/loop.h"

typedef void coro_fn(void *arg);
typedef struct coro coro_t;

/* Swoole's defaults: max_coroutine 100000; our stacks 256 KiB. */
#define CORO_MAX_DEFAULT 100000
#define CORO_STACK_DEFAULT (256 * 1024)
#define CORO_STACK_MIN (32 * 1024)
#define CORO_STACK_MAX (64 * 1024 * 1024)

typedef struct coro_stats {
    int64_t live;       /* coroutines alive now (running or waiting) */
    int64_t peak;       /* most alive at once */
    int64_t created;    /* since the process started */
    int64_t refused;    /* swx_go refused: max_coroutine reached */
    int64_t pooled;     /* finished stacks kept for reuse */
    size_t stack_size;  /* usable bytes per stack */
    int64_t max;        /* max_coroutine */
} coro_stats_t;

/*
 * Set up this process's runtime on loop: stacks of stack_size bytes (a
 * page multiple) plus a guard page, at most max alive; callbacks: run
 * event callbacks in coroutines (enable_coroutine). Installs the guard
 * page's SIGSEGV handler. 0 or -errno (logged).
 */
int coro_init(loop_t *loop, size_t stack_size, int64_t max, int callbacks);
/* Wake every waiting coroutine with -ECANCELED and run them until they end
 * or deadline_ms (loop_now()) passes; later waits fail at once. The number
 * still alive. */
int coro_cancel_all(int64_t deadline_ms);
/* Free the pool (at exit, after coro_cancel_all). */
void coro_free(void);

/* Start fn(arg) in a new coroutine and run it until it first waits or
 * ends (Swoole's go). Its id (> 0), or -EAGAIN (max_coroutine reached,
 * counted), -ENOMEM, -EINVAL, -ENOTSUP (no runtime in this process). */
int64_t coro_go(coro_fn *fn, void *arg);
/* Run an event callback: fn(arg) in a new coroutine when enable_coroutine
 * is on and none runs now, else a plain call. fn must copy what *arg holds
 * before it first waits: arg belongs to the caller, who goes on when it
 * waits. The coroutine when it still lives (waits), else NULL. */
coro_t *coro_callback(coro_fn *fn, void *arg);
/* Run fn(arg) when co ends, after its own defers (the caller's memory
 * that co still reads). 0 or -ENOMEM. */
int coro_hold(coro_t *co, coro_fn *fn, void *arg);
/* Whether callbacks run in coroutines here (enable_coroutine). */
int coro_callbacks_on(void);

/* The running coroutine, or NULL in the loop's own context. */
coro_t *coro_self(void);
int64_t coro_id(const coro_t *co);
/* Swoole's Coroutine::yield / resume. yield: 0 once resumed, -ECANCELED
 * when the process stops, -EPERM outside a coroutine. resume: 0, -ENOENT
 * (no such coroutine), -EBUSY (it did not yield: it runs or waits in a
 * primitive). */
int coro_yield(void);
int coro_resume(int64_t id);
/* Run fn(arg) when the running coroutine ends, last registered first.
 * 0, -EPERM (outside), -ENOMEM. */
int coro_defer(coro_fn *fn, void *arg);
void coro_get_stats(coro_stats_t *out);

/*
 * The protocol of the waiting primitives (wait.c, chan.c, the SDK's
 * blocking calls): coro_park suspends the running coroutine until someone
 * calls coro_wake on it, or timeout_ms passes (-1: no limit). It returns
 * the rc given to coro_wake, -ETIMEDOUT, or -ECANCELED (the process
 * stops: the caller must unlink itself from whatever it waited on, as on
 * a timeout). -EPERM outside a coroutine, -ECANCELED at once after
 * coro_cancel_all.
 */
int coro_park(long timeout_ms);
/* Make a parked coroutine runnable with rc and run it now, until it
 * waits again or ends; then the caller goes on. Ignored when co is not
 * parked by coro_park. */
void coro_wake(coro_t *co, int rc);
/* Whether co waits in coro_park (a waker's check). */
int coro_parked(const coro_t *co);

/* A variable of the server that each coroutine sees its own copy of
 * (the current plugin, the current listener): saved and restored at every
 * switch, inherited by a new coroutine from its creator. size <= 16; at
 * most 8; call before the first coroutine. 0 or -ENOSPC. */
int coro_local(void *var, size_t size);
/* The same, but a new coroutine starts with zeros (state about what one
 * coroutine runs, such as proc/watch.c's record of its callback). */
int coro_local_fresh(void *var, size_t size);

/* Called at every switch: leave while the running context's locals are
 * still in place, enter once the next one's are (coro_self() is then the
 * next one). back: the switch returns to the origin (a wait or the end),
 * rather than going into a coroutine that is started or woken. For what
 * a copied variable cannot do alone (proc/watch.c withdraws and
 * publishes a record in shared memory). One pair per process; NULL:
 * none. */
typedef void coro_switch_fn(int back);
void coro_on_switch(coro_switch_fn *leave, coro_switch_fn *enter);

#endif
