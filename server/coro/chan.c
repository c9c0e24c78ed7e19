/* chan.c: channels (a ring of pointers with queues of waiting producers and
 * consumers, Swoole's Coroutine\Channel) and wait groups. A waiter is a
 * node on its own coroutine's stack, so waiting allocates nothing. */
#include "coro/chan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "coro/coro.h"

typedef struct coro_waiter {
    coro_t *co;
    void *item;            /* a push's item, or where a pop's arrived */
    int linked;
    struct coro_waiter *prev, *next;
} waiter_t;

typedef coro_waitq_t wq_t;

struct swx_co_chan {
    void **ring;
    size_t cap, head, len;
    int closed;
    wq_t producers, consumers;
};

struct swx_co_wg {
    long count;
    wq_t waiters;
};

/* ---- wait queues ---- */

static void wq_push(wq_t *q, waiter_t *w)
{
    w->prev = q->tail;
    w->next = NULL;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->linked = 1;
}

static void wq_unlink(wq_t *q, waiter_t *w)
{
    if (!w->linked)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->linked = 0;
}

/* Wake the first waiter of q with rc; 0 when there was none. */
static int wq_wake_one(wq_t *q, int rc)
{
    waiter_t *w = q->head;
    if (w == NULL)
        return 0;
    wq_unlink(q, w);
    coro_wake(w->co, rc);
    return 1;
}

/* Queue self on q and park: the waker unlinks it; a timeout or a
 * cancellation leaves it linked, so unlink it here. */
static int wq_wait(wq_t *q, waiter_t *w, long timeout_ms)
{
    w->co = coro_self();
    if (w->co == NULL)
        return -EPERM;
    wq_push(q, w);
    int rc = coro_park(timeout_ms);
    wq_unlink(q, w);
    return rc;
}

int coro_waitq_wait(coro_waitq_t *q, long timeout_ms)
{
    waiter_t w = {0};
    return wq_wait(q, &w, timeout_ms);
}

int coro_waitq_wake_one(coro_waitq_t *q, int rc)
{
    return wq_wake_one(q, rc);
}

/* Take every waiter off q, then wake them one by one: a woken coroutine
 * runs at once and may free q (a wait group, a channel), so q is not
 * read again, and the next waiter is read before waking one (its node is
 * on the stack of the coroutine that runs). */
static waiter_t *wq_take_all(wq_t *q)
{
    waiter_t *list = q->head;
    for (waiter_t *w = list; w != NULL; w = w->next)
        w->linked = 0;
    q->head = q->tail = NULL;
    return list;
}

static int wq_wake_list(waiter_t *w, int rc)
{
    int n = 0;
    while (w != NULL) {
        waiter_t *next = w->next;
        coro_wake(w->co, rc);
        w = next;
        n++;
    }
    return n;
}

int coro_waitq_wake_all(coro_waitq_t *q, int rc)
{
    return wq_wake_list(wq_take_all(q), rc);
}

int coro_waitq_empty(const coro_waitq_t *q)
{
    return q->head == NULL;
}

/* ---- channels ---- */

coro_chan_t *coro_chan_new(size_t capacity)
{
    if (capacity == 0 || capacity > (SIZE_MAX / sizeof(void *)))
        return NULL;
    coro_chan_t *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return NULL;
    ch->ring = malloc(capacity * sizeof(void *));
    if (ch->ring == NULL) {
        free(ch);
        return NULL;
    }
    ch->cap = capacity;
    return ch;
}

int coro_chan_free(coro_chan_t *ch)
{
    if (ch == NULL)
        return 0;
    if (ch->producers.head != NULL || ch->consumers.head != NULL)
        return -EBUSY;
    free(ch->ring);
    free(ch);
    return 0;
}

int coro_chan_push(coro_chan_t *ch, void *item, long timeout_ms)
{
    if (ch->closed)
        return -EPIPE;
    /* A consumer waits only when the ring is empty: hand it over. */
    waiter_t *c = ch->consumers.head;
    if (c != NULL) {
        wq_unlink(&ch->consumers, c);
        c->item = item;
        coro_wake(c->co, 0);
        return 0;
    }
    while (ch->len == ch->cap) {
        waiter_t w = {0};
        int rc = wq_wait(&ch->producers, &w, timeout_ms);
        if (rc < 0)
            return rc;
        if (ch->closed)
            return -EPIPE;
    }
    ch->ring[(ch->head + ch->len++) % ch->cap] = item;
    return 0;
}

int coro_chan_pop(coro_chan_t *ch, void **item, long timeout_ms)
{
    if (ch->len == 0) {
        if (ch->closed)
            return -EPIPE;
        waiter_t w = {0};
        int rc = wq_wait(&ch->consumers, &w, timeout_ms);
        if (rc < 0)
            return rc;
        *item = w.item; /* handed over by a push */
        return 0;
    }
    *item = ch->ring[ch->head];
    ch->head = (ch->head + 1) % ch->cap;
    ch->len--;
    wq_wake_one(&ch->producers, 0); /* it re-checks for room */
    return 0;
}

int coro_chan_close(coro_chan_t *ch)
{
    if (ch->closed)
        return -EPIPE;
    ch->closed = 1;
    /* Both lists first: a woken coroutine may free the channel. */
    waiter_t *producers = wq_take_all(&ch->producers);
    waiter_t *consumers = wq_take_all(&ch->consumers);
    wq_wake_list(producers, -EPIPE);
    wq_wake_list(consumers, -EPIPE);
    return 0;
}

size_t coro_chan_length(const coro_chan_t *ch)
{
    return ch->len;
}

size_t coro_chan_capacity(const coro_chan_t *ch)
{
    return ch->cap;
}

/* ---- wait groups ---- */

coro_wg_t *coro_wg_new(void)
{
    return calloc(1, sizeof(coro_wg_t));
}

int coro_wg_free(coro_wg_t *wg)
{
    if (wg != NULL && wg->waiters.head != NULL)
        return -EBUSY;
    free(wg);
    return 0;
}

int coro_wg_add(coro_wg_t *wg, long n)
{
    if (wg->count + n < 0)
        return -EINVAL;
    wg->count += n;
    if (wg->count == 0)
        coro_waitq_wake_all(&wg->waiters, 0);
    return 0;
}

int coro_wg_wait(coro_wg_t *wg, long timeout_ms)
{
    if (wg->count == 0)
        return 0;
    /* Woken only when the count reached 0; wg is not read again after:
     * a waiter woken before this one may have freed it. */
    waiter_t w = {0};
    return wq_wait(&wg->waiters, &w, timeout_ms);
}

long coro_wg_count(const coro_wg_t *wg)
{
    return wg->count;
}
