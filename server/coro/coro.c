/* coro.c: the coroutine scheduler of one process: create, switch, park and
 * wake, yield and resume by id, defer, cancellation, and a pool of finished
 * coroutines whose stacks are reused. */
#include "coro/coro.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "coro/guard.h"
#include "coro/stack.h"
#include "core/log.h"
#include "core/session.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CORO_ASAN 1
#else
#define CORO_ASAN 0
#endif

#define CORO_LOCALS 8
#define CORO_LOCAL_SIZE 16
/* Finished coroutines kept with their stacks: a callback that never
 * waits then costs no mmap, and its stack pages are already touched. */
#define CORO_POOL_MAX 64

enum co_state { CO_RUNNING, CO_PARKED, CO_YIELDED, CO_DEAD };

typedef struct co_defer {
    coro_fn *fn;
    void *arg;
    struct co_defer *next;
} co_defer_t;

struct coro {
    void *sp;                /* saved by coro_switch while not running */
    int64_t id;              /* -1 for the loop's own context */
    int state;
    int first;               /* not entered yet: see locals_swap */
    int wake_rc;
    int64_t timer;           /* coro_park's timeout, 0 when none */
    coro_fn *fn;
    void *arg;
    coro_t *origin;          /* whom a wait or the end returns to */
    co_defer_t *defers;
    coro_t *prev, *next;     /* the live list, or the pool */
    coro_stack_t stack;
    void *asan_fake;         /* ASan's fake stack while switched out */
    const void *asan_lo;     /* the loop context's stack, as ASan says */
    size_t asan_size;
    unsigned char locals[CORO_LOCALS][CORO_LOCAL_SIZE];
};

static struct {
    loop_t *loop;
    size_t stack_size;
    int64_t max;
    int callbacks;
    int cancelling;
    coro_t main;             /* the loop's own context */
    coro_t *running;
    coro_t *live;            /* every coroutine alive */
    coro_t *pool;
    session_table_t yielded; /* id -> coroutine in coro_yield */
    int64_t next_id;
    coro_stats_t st;
    struct { void *var; size_t size; int fresh; } local[CORO_LOCALS];
    int nlocals;
    coro_switch_fn *leave, *enter; /* coro_on_switch */
    coro_t *from;            /* the last switch's origin (ASan) */
} rt = {.main = {.id = -1}, .running = &rt.main, .next_id = 1};

/* ---- switching ---- */

/* A local's bytes: its sizes are those of pointers and ints, copied
 * inline; a call to memcpy per local and switch cost more than the
 * rest of a switch. */
static inline void local_copy(void *dst, const void *src, size_t size)
{
    switch (size) {
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, size);
    }
}

/* The variables leave with from (unless it is dying: no one reads them
 * again) and to's come in. A coroutine entered the first time, always
 * by its creator right after co_new, starts with the creator's values,
 * which are in the variables already, and fresh ones zeroed. */
static void locals_swap(coro_t *from, coro_t *to, int dying)
{
    if (!dying)
        for (int i = 0; i < rt.nlocals; i++)
            local_copy(from->locals[i], rt.local[i].var, rt.local[i].size);
    if (to->first) {
        to->first = 0;
        for (int i = 0; i < rt.nlocals; i++)
            if (rt.local[i].fresh)
                memset(rt.local[i].var, 0, rt.local[i].size);
        return;
    }
    for (int i = 0; i < rt.nlocals; i++)
        local_copy(rt.local[i].var, to->locals[i], rt.local[i].size);
}

/* After a switch lands: tell ASan which stack we left (the first landing
 * from the loop's context teaches it that stack's bounds). */
static void asan_landed(void *fake)
{
#if CORO_ASAN
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(fake, &lo, &size);
    if (rt.from == &rt.main) {
        rt.main.asan_lo = lo;
        rt.main.asan_size = size;
    }
#else
    (void)fake;
#endif
}

/* Leave from for to; returns when something switches back to from. A
 * dying from gives its fake stack up (ASan). */
static void co_jump(coro_t *from, coro_t *to, int dying)
{
    if (rt.leave != NULL) /* a wait or the end goes back to the origin */
        rt.leave(to == from->origin);
    locals_swap(from, to, dying);
    rt.running = to;
    if (rt.enter != NULL)
        rt.enter(to == from->origin);
    rt.from = from;
#if CORO_ASAN
    const void *lo = to == &rt.main ? rt.main.asan_lo : to->stack.lo;
    size_t size = to == &rt.main ? rt.main.asan_size : to->stack.size;
    __sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake, lo, size);
#else
    (void)dying;
#endif
    coro_switch(&from->sp, to->sp);
    asan_landed(from->asan_fake);
}

/* Run co until it waits or ends; the caller's context is its origin. */
static void co_enter(coro_t *co)
{
    coro_t *self = rt.running;
    co->origin = self;
    co->state = CO_RUNNING;
    co_jump(self, co, 0);
}

/* ---- life and death ---- */

static void live_unlink(coro_t *co)
{
    if (co->prev != NULL)
        co->prev->next = co->next;
    else
        rt.live = co->next;
    if (co->next != NULL)
        co->next->prev = co->prev;
    co->prev = co->next = NULL;
}

static void co_run_defers(coro_t *co)
{
    while (co->defers != NULL) {
        co_defer_t *d = co->defers;
        co->defers = d->next;
        d->fn(d->arg);
        free(d);
    }
}

/* Every coroutine starts here (from coro_boot) and never returns: its
 * last switch leaves it dead for its origin to recycle. */
void coro_entry(void) __attribute__((noreturn));
void coro_entry(void)
{
    coro_t *co = rt.running;
    asan_landed(NULL);
    co->fn(co->arg);
    co_run_defers(co);
    co->state = CO_DEAD;
    co_jump(co, co->origin, 1);
    abort(); /* a dead coroutine is never switched to */
}

static void co_release(coro_t *co)
{
    live_unlink(co);
    rt.st.live--;
    if (rt.st.pooled >= CORO_POOL_MAX) {
        coro_stack_del(&co->stack);
        free(co);
        return;
    }
#if CORO_ASAN
    /* Frames that never returned left their redzones poisoned. */
    ASAN_UNPOISON_MEMORY_REGION(co->stack.lo, co->stack.size);
#endif
    co->next = rt.pool;
    rt.pool = co;
    rt.st.pooled++;
}

/* Go into co and recycle it if it ended there; 1 if it lives on. */
static int co_resume(coro_t *co)
{
    co_enter(co);
    if (co->state != CO_DEAD)
        return 1;
    co_release(co);
    return 0;
}

static coro_t *co_alloc(void)
{
    coro_t *co = rt.pool;
    if (co != NULL) {
        rt.pool = co->next;
        rt.st.pooled--;
        return co;
    }
    co = calloc(1, sizeof(*co));
    if (co == NULL || coro_stack_new(&co->stack, rt.stack_size) < 0) {
        free(co);
        return NULL;
    }
    return co;
}

/* A new coroutine, linked and counted, not started; or NULL with *err. */
static coro_t *co_new(coro_fn *fn, void *arg, int *err)
{
    if (rt.st.live >= rt.max) {
        rt.st.refused++;
        *err = -EAGAIN;
        return NULL;
    }
    coro_t *co = co_alloc();
    if (co == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    /* Everything but the stack and the locals, which the first switch
     * into it leaves as they are (locals_swap). */
    coro_stack_t stack = co->stack;
    memset(co, 0, offsetof(coro_t, locals));
    co->id = rt.next_id++;
    co->fn = fn;
    co->arg = arg;
    co->stack = stack;
    co->first = 1;
    co->sp = coro_stack_frame(&co->stack);
    co->next = rt.live;
    if (rt.live != NULL)
        rt.live->prev = co;
    rt.live = co;
    rt.st.created++;
    if (++rt.st.live > rt.st.peak)
        rt.st.peak = rt.st.live;
    return co;
}

int64_t coro_go(coro_fn *fn, void *arg)
{
    if (rt.loop == NULL)
        return -ENOTSUP;
    if (fn == NULL)
        return -EINVAL;
    int err;
    coro_t *co = co_new(fn, arg, &err);
    if (co == NULL)
        return err;
    int64_t id = co->id;
    co_resume(co);
    return id;
}

coro_t *coro_callback(coro_fn *fn, void *arg)
{
    if (!rt.callbacks || rt.running != &rt.main) {
        fn(arg);
        return NULL;
    }
    int err;
    coro_t *co = co_new(fn, arg, &err);
    if (co == NULL) { /* counted in the stats; the callback still runs,
                         * and its waits fail with -EPERM */
        fn(arg);
        return NULL;
    }
    return co_resume(co) ? co : NULL;
}

int coro_hold(coro_t *co, coro_fn *fn, void *arg)
{
    co_defer_t *d = malloc(sizeof(*d)), **tail = &co->defers;
    if (d == NULL)
        return -ENOMEM;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *d = (co_defer_t){fn, arg, NULL};
    *tail = d;
    return 0;
}

/* ---- waiting ---- */

coro_t *coro_self(void)
{
    return rt.running != &rt.main ? rt.running : NULL;
}

int64_t coro_id(const coro_t *co)
{
    return co != NULL ? co->id : -1;
}

static void co_timeout(int64_t id, void *arg)
{
    (void)id;
    coro_t *co = arg;
    co->timer = 0;
    coro_wake(co, -ETIMEDOUT);
}

/* Back to whoever ran us, as state; the rc we are woken with. */
static int co_suspend(coro_t *co, int state)
{
    co->state = state;
    co_jump(co, co->origin, 0);
    return co->wake_rc;
}

int coro_park(long timeout_ms)
{
    coro_t *co = coro_self();
    if (co == NULL)
        return -EPERM;
    if (rt.cancelling)
        return -ECANCELED;
    if (timeout_ms >= 0) {
        int64_t t = timer_add(loop_timers(rt.loop), loop_now(), timeout_ms,
                              0, co_timeout, co);
        if (t < 0)
            return (int)t;
        co->timer = t;
    }
    return co_suspend(co, CO_PARKED);
}

void coro_wake(coro_t *co, int rc)
{
    if (co->state != CO_PARKED && co->state != CO_YIELDED)
        return;
    if (co->timer != 0) {
        timer_clear(loop_timers(rt.loop), co->timer);
        co->timer = 0;
    }
    co->wake_rc = rc;
    co_resume(co);
}

int coro_parked(const coro_t *co)
{
    return co->state == CO_PARKED;
}

int coro_yield(void)
{
    coro_t *co = coro_self();
    if (co == NULL)
        return -EPERM;
    if (rt.cancelling)
        return -ECANCELED;
    if (rt.yielded.cap == 0 && session_table_init(&rt.yielded, 64) < 0)
        return -ENOMEM;
    int rc = session_put(&rt.yielded, (uint64_t)co->id, co);
    if (rc < 0)
        return rc;
    rc = co_suspend(co, CO_YIELDED);
    session_del(&rt.yielded, (uint64_t)co->id);
    return rc;
}

int coro_resume(int64_t id)
{
    coro_t *co = id > 0 && rt.yielded.cap != 0
                     ? session_get(&rt.yielded, (uint64_t)id) : NULL;
    if (co == NULL)
        return -ENOENT;
    session_del(&rt.yielded, (uint64_t)id);
    coro_wake(co, 0);
    return 0;
}

int coro_defer(coro_fn *fn, void *arg)
{
    coro_t *co = coro_self();
    if (co == NULL)
        return -EPERM;
    if (fn == NULL)
        return -EINVAL;
    co_defer_t *d = malloc(sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    *d = (co_defer_t){fn, arg, co->defers};
    co->defers = d;
    return 0;
}

/* ---- the process ---- */

static int local_add(void *var, size_t size, int fresh)
{
    if (rt.nlocals >= CORO_LOCALS || size > CORO_LOCAL_SIZE)
        return -ENOSPC;
    for (int i = 0; i < rt.nlocals; i++)
        if (rt.local[i].var == var)
            return 0;
    rt.local[rt.nlocals].var = var;
    rt.local[rt.nlocals].size = size;
    rt.local[rt.nlocals].fresh = fresh;
    /* Coroutines alive already start with it zeroed (only the slots in
     * use are ever written). */
    for (coro_t *co = rt.live; co != NULL; co = co->next)
        memset(co->locals[rt.nlocals], 0, sizeof(co->locals[rt.nlocals]));
    rt.nlocals++;
    return 0;
}

int coro_local(void *var, size_t size)
{
    return local_add(var, size, 0);
}

int coro_local_fresh(void *var, size_t size)
{
    return local_add(var, size, 1);
}

void coro_on_switch(coro_switch_fn *leave, coro_switch_fn *enter)
{
    rt.leave = leave;
    rt.enter = enter;
}

int coro_init(loop_t *loop, size_t stack_size, int64_t max, int callbacks)
{
    if (stack_size % coro_page_size() != 0 || max <= 0)
        return -EINVAL;
    rt.loop = loop;
    rt.stack_size = stack_size;
    rt.max = max;
    rt.callbacks = callbacks;
    rt.cancelling = 0;
    rt.st.stack_size = stack_size;
    rt.st.max = max;
    return coro_guard_install();
}

int coro_callbacks_on(void)
{
    return rt.callbacks;
}

void coro_get_stats(coro_stats_t *out)
{
    *out = rt.st;
}

/* A coroutine that waits (parked or yielded), or NULL. */
static coro_t *co_waiting(void)
{
    for (coro_t *co = rt.live; co != NULL; co = co->next)
        if (co->state == CO_PARKED || co->state == CO_YIELDED)
            return co;
    return NULL;
}

int coro_cancel_all(int64_t deadline_ms)
{
    if (rt.loop == NULL || rt.running != &rt.main)
        return (int)rt.st.live;
    rt.cancelling = 1;
    coro_t *co;
    while ((co = co_waiting()) != NULL && loop_now() < deadline_ms) {
        if (co->state == CO_YIELDED)
            session_del(&rt.yielded, (uint64_t)co->id);
        coro_wake(co, -ECANCELED);
    }
    if (rt.st.live > 0)
        log_warn("coroutines: %lld still alive after cancellation",
                 (long long)rt.st.live);
    return (int)rt.st.live;
}

void coro_free(void)
{
    while (rt.pool != NULL) {
        coro_t *co = rt.pool;
        rt.pool = co->next;
        coro_stack_del(&co->stack);
        free(co);
    }
    rt.st.pooled = 0;
    session_table_free(&rt.yielded);
    rt.yielded = (session_table_t){0};
}

int coro_fault(const void *addr, int64_t *id, size_t *stack_size)
{
    coro_t *co = rt.running;
    if (co == &rt.main || !coro_stack_guard_hit(&co->stack, addr))
        return 0;
    *id = co->id;
    *stack_size = co->stack.size;
    return 1;
}
