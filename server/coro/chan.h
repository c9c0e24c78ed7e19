/* chan.h: channels between coroutines (Swoole's Coroutine\Channel) and wait
 * groups (Swoole's Coroutine\WaitGroup), of one process. */
#ifndef SWX_CORO_CHAN_H
#define SWX_CORO_CHAN_H

#include <stddef.h>

typedef struct swx_co_chan coro_chan_t; /* the SDK's swx_co_chan_t */
typedef struct swx_co_wg coro_wg_t;

/* A channel holding up to capacity (>= 1) pointers; NULL on bad capacity
 * or no memory. */
coro_chan_t *coro_chan_new(size_t capacity);
/* Free an empty or not empty channel nobody waits on: 0, or -EBUSY
 * (coroutines wait on it: close it first). Items left are not freed. */
int coro_chan_free(coro_chan_t *ch);
/*
 * Push item, waiting up to timeout_ms (-1: no limit) for room. 0,
 * -ETIMEDOUT, -EPIPE (closed, also while waiting), -ECANCELED, -EPERM
 * (full, and not in a coroutine: a callback outside one cannot wait).
 */
int coro_chan_push(coro_chan_t *ch, void *item, long timeout_ms);
/* Pop the oldest item into *item, waiting up to timeout_ms for one. 0,
 * -ETIMEDOUT, -EPIPE (closed and empty: items pushed before close are
 * still popped), -ECANCELED, -EPERM (empty, not in a coroutine). */
int coro_chan_pop(coro_chan_t *ch, void **item, long timeout_ms);
/* Close: every waiter wakes with -EPIPE, later pushes fail. 0, or
 * -EPIPE when already closed. */
int coro_chan_close(coro_chan_t *ch);
size_t coro_chan_length(const coro_chan_t *ch);
size_t coro_chan_capacity(const coro_chan_t *ch);

/* A queue of coroutines waiting for a condition of the caller's (room in
 * a buffer, a connection of a pool): zero-initialised, no allocation. */
typedef struct coro_waitq {
    struct coro_waiter *head, *tail;
} coro_waitq_t;
/* Wait until woken: the waker's rc (coro_waitq_wake_*), -ETIMEDOUT,
 * -ECANCELED, -EPERM (not in a coroutine). */
int coro_waitq_wait(coro_waitq_t *q, long timeout_ms);
/* Wake the oldest waiter, or every one, with rc; how many woke. */
int coro_waitq_wake_one(coro_waitq_t *q, int rc);
int coro_waitq_wake_all(coro_waitq_t *q, int rc);
int coro_waitq_empty(const coro_waitq_t *q);

coro_wg_t *coro_wg_new(void);
/* 0, or -EBUSY (coroutines wait on it). */
int coro_wg_free(coro_wg_t *wg);
/* Add n (may be negative: done n times) to the counter. 0, or -EINVAL
 * when it would go below 0. At 0 the waiters wake. */
int coro_wg_add(coro_wg_t *wg, long n);
/* Wait until the counter is 0. 0, -ETIMEDOUT, -ECANCELED, -EPERM (not 0,
 * not in a coroutine). */
int coro_wg_wait(coro_wg_t *wg, long timeout_ms);
long coro_wg_count(const coro_wg_t *wg);

#endif
