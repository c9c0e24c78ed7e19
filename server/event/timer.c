/* timer.c: a min-heap of timers on (due, id) with an id -> position index. */
#include "event/timer.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* 40 bytes. With the index (4-byte slots, at most half full) a live timer
 * costs 48 bytes when both arrays are just full, up to 96 right after they
 * double: 63 bytes each at 100 000 timers. */
struct timer_entry {
    int64_t due;
    int64_t id;
    int64_t interval; /* 0: runs once */
    timer_cb *cb;
    void *arg;
};

#define TIMER_MIN_CAP 64u
#define TIMER_MAX_CAP (1u << 30)
#define MAP_EMPTY 0u
/* The slot of the entry being sifted: its heap position is in flux, so it
 * must match no lookup until it lands. */
#define MAP_MOVING UINT32_MAX

static int timer_less(const struct timer_entry *a, const struct timer_entry *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static uint32_t map_home(int64_t id, uint32_t mask)
{
    /* Fibonacci hashing spreads sequential ids over the index. */
    return (uint32_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* The slot that holds id, or the empty slot where it would go. Every
 * non-empty slot other than MAP_MOVING names the position of its id. */
static uint32_t map_slot(const timer_heap_t *th, int64_t id)
{
    uint32_t mask = th->map_cap - 1;
    uint32_t i = map_home(id, mask);
    for (;;) {
        uint32_t v = th->map[i];
        if (v == MAP_EMPTY)
            return i;
        if (v != MAP_MOVING && th->heap[v - 1].id == id)
            return i;
        i = (i + 1) & mask;
    }
}

/* Backward-shift delete, so probes never need tombstones. */
static void map_erase(timer_heap_t *th, uint32_t i)
{
    uint32_t mask = th->map_cap - 1;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t v = th->map[j];
        if (v == MAP_EMPTY)
            break;
        uint32_t home = map_home(th->heap[v - 1].id, mask);
        int between = (i <= j) ? (i < home && home <= j)
                               : (i < home || home <= j);
        if (!between) {
            th->map[i] = v;
            i = j;
        }
    }
    th->map[i] = MAP_EMPTY;
}

/* A new index of map_cap slots for the current heap; on failure the old
 * one stays. */
static int map_rebuild(timer_heap_t *th, uint32_t map_cap)
{
    uint32_t *map = calloc(map_cap, sizeof(*map));
    if (map == NULL) {
        log_error("timer: calloc(%u index slots): %s", map_cap,
                  strerror(errno));
        return -ENOMEM;
    }
    free(th->map);
    th->map = map;
    th->map_cap = map_cap;
    for (uint32_t i = 0; i < th->count; i++)
        th->map[map_slot(th, th->heap[i].id)] = i + 1;
    return 0;
}

static int heap_resize(timer_heap_t *th, uint32_t cap)
{
    struct timer_entry *h = realloc(th->heap, (size_t)cap * sizeof(*h));
    if (h == NULL) {
        log_error("timer: realloc(%u timers): %s", cap, strerror(errno));
        return -ENOMEM;
    }
    th->heap = h;
    th->cap = cap;
    return 0;
}

/* Room for one more timer in both arrays; nothing changes on failure. */
static int timer_reserve(timer_heap_t *th)
{
    if (th->count == th->cap) {
        if (th->cap >= TIMER_MAX_CAP)
            return -ENOMEM;
        uint32_t cap = th->cap ? th->cap * 2 : TIMER_MIN_CAP;
        if (heap_resize(th, cap) < 0)
            return -ENOMEM;
    }
    if ((th->count + 1) * 2 > th->map_cap) {
        uint32_t cap = th->map_cap ? th->map_cap * 2 : TIMER_MIN_CAP * 2;
        if (map_rebuild(th, cap) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Give memory back after many clears, down to the initial sizes (kept so
 * a loop that always has a timer or two does not allocate on every add);
 * a failure just keeps the memory. */
static void timer_shrink(timer_heap_t *th)
{
    if (th->cap > TIMER_MIN_CAP && th->count <= th->cap / 4)
        heap_resize(th, th->cap / 2);
    if (th->map_cap > TIMER_MIN_CAP * 2 && th->count <= th->map_cap / 8)
        map_rebuild(th, th->map_cap / 2);
}

/* Copy heap[from] into the hole at `to` and repoint its index slot. */
static void heap_move(timer_heap_t *th, uint32_t from, uint32_t to)
{
    uint32_t slot = map_slot(th, th->heap[from].id);
    th->heap[to] = th->heap[from];
    th->map[slot] = to + 1;
}

/* Put e, whose index slot is `slot`, into the hole at pos and restore the
 * heap order around it. */
static void heap_settle(timer_heap_t *th, uint32_t pos, struct timer_entry e,
                        uint32_t slot)
{
    th->map[slot] = MAP_MOVING;
    while (pos > 0 && timer_less(&e, &th->heap[(pos - 1) / 2])) {
        heap_move(th, (pos - 1) / 2, pos);
        pos = (pos - 1) / 2;
    }
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= th->count)
            break;
        if (child + 1 < th->count &&
            timer_less(&th->heap[child + 1], &th->heap[child]))
            child++;
        if (!timer_less(&th->heap[child], &e))
            break;
        heap_move(th, child, pos);
        pos = child;
    }
    th->heap[pos] = e;
    th->map[slot] = pos + 1;
}

static void heap_remove(timer_heap_t *th, uint32_t pos)
{
    map_erase(th, map_slot(th, th->heap[pos].id));
    th->count--;
    if (pos == th->count)
        return;
    struct timer_entry last = th->heap[th->count];
    heap_settle(th, pos, last, map_slot(th, last.id));
}

/* Heap position of id, or -1. */
static int64_t timer_find(const timer_heap_t *th, int64_t id)
{
    if (id <= 0 || th->map_cap == 0)
        return -1;
    uint32_t v = th->map[map_slot(th, id)];
    return v == MAP_EMPTY ? -1 : (int64_t)v - 1;
}

void timer_init(timer_heap_t *th)
{
    memset(th, 0, sizeof(*th));
    th->next_id = 1;
}

void timer_free(timer_heap_t *th)
{
    free(th->heap);
    free(th->map);
    th->heap = NULL;
    th->map = NULL;
    th->count = th->cap = th->map_cap = 0;
}

int64_t timer_add(timer_heap_t *th, int64_t now_ms, int64_t after_ms,
                  int64_t interval_ms, timer_cb *cb, void *arg)
{
    if (cb == NULL || after_ms < 0 || interval_ms < 0)
        return -EINVAL;
    if (th->next_id > INT64_MAX)
        return -EOVERFLOW;
    /* A timer added by a callback sorts after every timer of the pass
     * in progress; see timer_run_due. */
    if (th->running && now_ms < th->run_now)
        now_ms = th->run_now;
    int rc = timer_reserve(th);
    if (rc < 0)
        return rc;
    struct timer_entry e = {
        .due = add_sat(now_ms, after_ms),
        .id = (int64_t)th->next_id++,
        .interval = interval_ms,
        .cb = cb,
        .arg = arg,
    };
    th->count++;
    heap_settle(th, th->count - 1, e, map_slot(th, e.id));
    return e.id;
}

int timer_clear(timer_heap_t *th, int64_t id)
{
    int64_t pos = timer_find(th, id);
    if (pos < 0)
        return -ENOENT;
    heap_remove(th, (uint32_t)pos);
    timer_shrink(th);
    return 0;
}

int timer_exists(const timer_heap_t *th, int64_t id)
{
    return timer_find(th, id) >= 0;
}

void *timer_arg(const timer_heap_t *th, int64_t id)
{
    int64_t pos = timer_find(th, id);
    return pos < 0 ? NULL : th->heap[pos].arg;
}

uint32_t timer_count(const timer_heap_t *th)
{
    return th->count;
}

size_t timer_memory(const timer_heap_t *th)
{
    return (size_t)th->cap * sizeof(struct timer_entry) +
           (size_t)th->map_cap * sizeof(uint32_t);
}

int timer_next_timeout(const timer_heap_t *th, int64_t now_ms)
{
    if (th->count == 0)
        return -1;
    int64_t due = th->heap[0].due;
    if (due <= now_ms)
        return 0;
    /* due > now_ms, so due - now_ms overflows only past INT64_MAX. */
    uint64_t wait = (uint64_t)due - (uint64_t)now_ms;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* After the callback of `id` returned: drop it, re-arm it, or nothing if
 * the callback cleared it. */
static void timer_after_run(timer_heap_t *th, int64_t id, int64_t now_ms)
{
    int64_t pos = timer_find(th, id);
    if (pos < 0)
        return;
    struct timer_entry e = th->heap[pos];
    if (e.interval == 0) {
        heap_remove(th, (uint32_t)pos);
        timer_shrink(th);
        return;
    }
    e.due = add_sat(e.due, e.interval);
    if (e.due <= now_ms)
        e.due = add_sat(now_ms, e.interval);
    heap_settle(th, (uint32_t)pos, e, map_slot(th, id));
}

int timer_run_due(timer_heap_t *th, int64_t now_ms)
{
    if (th->running)
        return -EBUSY;
    th->running = 1;
    th->run_now = now_ms;
    /* Timers added during this pass have larger ids and, being due no
     * earlier than now_ms, sort after every timer that was due when the
     * pass began; stopping at the first of them runs exactly the timers
     * that were due. Re-armed timers are due after now_ms. */
    int64_t last_id = (int64_t)th->next_id - 1;
    int ran = 0;
    while (th->count > 0 && th->heap[0].due <= now_ms &&
           th->heap[0].id <= last_id) {
        struct timer_entry e = th->heap[0];
        /* It stays in the heap while it runs, so the callback can clear
         * it like any other timer. */
        e.cb(e.id, e.arg);
        ran++;
        timer_after_run(th, e.id, now_ms);
    }
    th->running = 0;
    return ran;
}
