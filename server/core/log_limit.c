/* log_limit.c: a budget per kind of log line (GCRA) and counts of the rest. */
#include "core/log_limit.h"

#include <stdio.h>
#include <string.h>

/* How far ahead of now the bucket's refill time may run: the burst. */
#define LOG_LIMIT_TAU ((int64_t)(LOG_LIMIT_BURST - 1) * LOG_LIMIT_EVERY_MS)

void log_limit_reset(log_limit_t *t)
{
    memset(t, 0, sizeof(*t));
    t->due = INT64_MAX;
}

static unsigned log_limit_hash(const void *key, int level)
{
    uint64_t x = (uint64_t)(uintptr_t)key ^ ((uint64_t)(unsigned)level << 59);
    x *= 0x9E3779B97F4A7C15ull;
    return (unsigned)(x >> 32) % LOG_LIMIT_SLOTS;
}

/* A slot that holds nothing and whose bucket is full is as good as new. */
static int log_limit_idle(const log_limit_slot_t *s, int64_t now)
{
    return s->held.count == 0 && s->tat <= now;
}

/* The kind's slot: its own, else an idle one near its hash (taken over),
 * else the one at its hash, shared. */
static log_limit_slot_t *log_limit_find(log_limit_t *t, const void *key,
                                        int level, int64_t now)
{
    unsigned h = log_limit_hash(key, level);
    log_limit_slot_t *idle = NULL;
    for (unsigned i = 0; i < LOG_LIMIT_PROBE; i++) {
        log_limit_slot_t *s = &t->slots[(h + i) % LOG_LIMIT_SLOTS];
        if (s->key == key && s->level == level)
            return s;
        if (idle == NULL && log_limit_idle(s, now))
            idle = s;
    }
    if (idle == NULL)
        return &t->slots[h];
    idle->key = key;
    idle->level = level;
    return idle;
}

static int64_t log_limit_slot_due(const log_limit_slot_t *s)
{
    return s->tat - LOG_LIMIT_TAU;
}

static void log_limit_hold(log_limit_t *t, log_limit_slot_t *s, int level,
                           const char *text, const char *role)
{
    if (s->held.count++ > 0)
        return;
    s->held.level = level;
    snprintf(s->held.text, sizeof(s->held.text), "%s", text);
    snprintf(s->held.role, sizeof(s->held.role), "%s", role);
    if (log_limit_slot_due(s) < t->due)
        t->due = log_limit_slot_due(s);
}

int log_limit_admit(log_limit_t *t, const void *key, int level, int64_t now,
                    const char *text, const char *role, log_limit_note_t *note)
{
    log_limit_slot_t *s = log_limit_find(t, key, level, now);
    note->count = 0;
    if (now < log_limit_slot_due(s)) {
        log_limit_hold(t, s, level, text, role);
        return 0;
    }
    s->tat = (s->tat > now ? s->tat : now) + LOG_LIMIT_EVERY_MS;
    if (s->held.count > 0) {
        *note = s->held;
        s->held.count = 0;
    }
    return 1;
}

int log_limit_take_due(log_limit_t *t, int64_t now, log_limit_note_t *notes,
                       int max)
{
    int n = 0;
    int64_t next = INT64_MAX;
    for (unsigned i = 0; i < LOG_LIMIT_SLOTS; i++) {
        log_limit_slot_t *s = &t->slots[i];
        if (s->held.count == 0)
            continue;
        if (n < max && now >= log_limit_slot_due(s)) {
            notes[n++] = s->held;
            s->held.count = 0;
        } else if (log_limit_slot_due(s) < next) {
            next = log_limit_slot_due(s);
        }
    }
    t->due = next;
    return n;
}
