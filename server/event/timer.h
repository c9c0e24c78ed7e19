/* timer.h: one-shot and repeating timers for one event loop (one per process). */
#ifndef SWX_TIMER_H
#define SWX_TIMER_H

#include <stddef.h>
#include <stdint.h>

/*
 * A binary min-heap keyed on (due, id), so timers due at the same
 * millisecond run in the order they were added, plus an open-addressing
 * index id -> heap position kept up to date on every move, so clearing is
 * O(log n). Ids count up from 1 and are never reused within a heap. The
 * caller supplies the time (monotonic milliseconds) to every call; nothing
 * runs, and nothing costs CPU, outside timer_run_due. Not thread-safe: a
 * heap belongs to one loop.
 */
typedef void timer_cb(int64_t id, void *arg);

struct timer_entry;

typedef struct timer_heap {
    struct timer_entry *heap; /* heap[0] is the next timer due */
    uint32_t *map;            /* id -> heap index + 1; 0 is an empty slot */
    uint32_t count;
    uint32_t cap;             /* entries allocated in heap */
    uint32_t map_cap;         /* slots in map, a power of two */
    int running;              /* inside timer_run_due */
    uint64_t next_id;
    int64_t run_now;          /* now_ms of the timer_run_due in progress */
} timer_heap_t;

/* An empty heap; allocates nothing until the first timer_add. */
void timer_init(timer_heap_t *th);
/* Drops every timer without running it. Not from inside a callback. */
void timer_free(timer_heap_t *th);

/*
 * Run cb(id, arg) at now_ms + after_ms, then, if interval_ms > 0, every
 * interval_ms. A timer added from inside a callback never runs in the same
 * timer_run_due pass, even with after_ms 0 (its due time is at least that
 * pass's now_ms). Due times saturate at INT64_MAX. The new id (> 0), or
 * -EINVAL (cb NULL, a negative delay), -ENOMEM, or -EOVERFLOW after 2^63
 * ids.
 */
int64_t timer_add(timer_heap_t *th, int64_t now_ms, int64_t after_ms,
                  int64_t interval_ms, timer_cb *cb, void *arg);
/* Cancel a timer; allowed from any callback, its own included (a
 * repeating timer that clears itself is not re-armed). 0 or -ENOENT. */
int timer_clear(timer_heap_t *th, int64_t id);
/* 1 if id is pending (or running and not cleared), else 0. */
int timer_exists(const timer_heap_t *th, int64_t id);
uint32_t timer_count(const timer_heap_t *th);
/* The arg of a pending (or running) timer, or NULL. */
void *timer_arg(const timer_heap_t *th, int64_t id);
/* Bytes the heap holds in memory (for stats). */
size_t timer_memory(const timer_heap_t *th);

/* Milliseconds until the earliest timer (0 if one is due, -1 if none,
 * at most INT_MAX): an epoll_wait timeout. */
int timer_next_timeout(const timer_heap_t *th, int64_t now_ms);

/*
 * Run every timer due at now_ms, in (due, id) order, and return how many
 * ran; -EBUSY if called from inside a callback. A repeating timer is
 * re-armed at its previous due time + interval; if that is already due
 * (the loop fell a whole interval or more behind) it is re-armed at
 * now_ms + interval instead, so late ticks are dropped, never fired in a
 * burst, and a timer runs at most once per pass.
 */
int timer_run_due(timer_heap_t *th, int64_t now_ms);

#endif
