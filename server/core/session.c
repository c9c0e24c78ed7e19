/* session.c: the session table, open addressing with backward-shift delete. */
#include "core/session.h"

#include <errno.h>
#include <stdlib.h>

static size_t session_hash(uint64_t id, size_t mask)
{
    /* Fibonacci hashing spreads sequential ids over the table. */
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & mask;
}

int session_table_init(session_table_t *t, size_t hint)
{
    size_t cap = 64;
    while (cap < hint * 2)
        cap *= 2;
    t->keys = calloc(cap, sizeof(*t->keys));
    t->vals = calloc(cap, sizeof(*t->vals));
    if (t->keys == NULL || t->vals == NULL) {
        session_table_free(t);
        return -ENOMEM;
    }
    t->cap = cap;
    t->count = 0;
    return 0;
}

void session_table_free(session_table_t *t)
{
    free(t->keys);
    free(t->vals);
    t->keys = NULL;
    t->vals = NULL;
    t->cap = t->count = 0;
}

static size_t session_find(const session_table_t *t, uint64_t id)
{
    size_t mask = t->cap - 1;
    size_t i = session_hash(id, mask);
    while (t->keys[i] != 0 && t->keys[i] != id)
        i = (i + 1) & mask;
    return i;
}

static int session_grow(session_table_t *t)
{
    session_table_t n;
    if (session_table_init(&n, t->cap) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->keys[i] != 0) {
            size_t j = session_find(&n, t->keys[i]);
            n.keys[j] = t->keys[i];
            n.vals[j] = t->vals[i];
        }
    }
    n.count = t->count;
    session_table_free(t);
    *t = n;
    return 0;
}

int session_put(session_table_t *t, uint64_t id, void *val)
{
    if (id == 0)
        return -EINVAL;
    /* Keep the load under 1/2 so probes stay short. */
    if ((t->count + 1) * 2 > t->cap && session_grow(t) < 0)
        return -ENOMEM;
    size_t i = session_find(t, id);
    if (t->keys[i] == id)
        return -EEXIST;
    t->keys[i] = id;
    t->vals[i] = val;
    t->count++;
    return 0;
}

void *session_get(const session_table_t *t, uint64_t id)
{
    if (id == 0 || t->cap == 0)
        return NULL;
    size_t i = session_find(t, id);
    return t->keys[i] == id ? t->vals[i] : NULL;
}

void *session_del(session_table_t *t, uint64_t id)
{
    if (id == 0 || t->cap == 0)
        return NULL;
    size_t mask = t->cap - 1;
    size_t i = session_find(t, id);
    if (t->keys[i] != id)
        return NULL;
    void *val = t->vals[i];
    /* Shift later members of the probe run back so lookups still find
     * them without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (t->keys[j] == 0)
            break;
        size_t home = session_hash(t->keys[j], mask);
        /* Move j into the hole at i unless its home lies in (i, j]. */
        int between = (i <= j) ? (i < home && home <= j)
                               : (i < home || home <= j);
        if (!between) {
            t->keys[i] = t->keys[j];
            t->vals[i] = t->vals[j];
            i = j;
        }
    }
    t->keys[i] = 0;
    t->vals[i] = NULL;
    t->count--;
    return val;
}
