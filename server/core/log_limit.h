/* log_limit.h: how often one kind of log line may be written: a burst, then
 * one a second; the rest are counted and summed up in one line later. */
#ifndef SWX_LOG_LIMIT_H
#define SWX_LOG_LIMIT_H

#include <stdint.h>

/* Lines of one kind written at once before the limit applies. */
#define LOG_LIMIT_BURST 10
/* Past the burst, one line of the kind per this many ms. */
#define LOG_LIMIT_EVERY_MS 1000
/* Kinds tracked at a time; past that (or past LOG_LIMIT_PROBE slots tried)
 * kinds share a slot and its budget. */
#define LOG_LIMIT_SLOTS 128
#define LOG_LIMIT_PROBE 8
/* What is kept of the first held-back line and of its thread's role. */
#define LOG_LIMIT_TEXT 240
#define LOG_LIMIT_ROLE 32

/* A summary: count lines like text were held back. */
typedef struct log_limit_note {
    unsigned count;
    int level;
    char role[LOG_LIMIT_ROLE];
    char text[LOG_LIMIT_TEXT];
} log_limit_note_t;

typedef struct log_limit_slot {
    const void *key;      /* the kind: a format string; NULL when unused */
    int level;
    int64_t tat;          /* when the bucket is full again (GCRA), ms */
    log_limit_note_t held; /* held.count > 0: a summary is pending */
} log_limit_slot_t;

typedef struct log_limit {
    log_limit_slot_t slots[LOG_LIMIT_SLOTS];
    int64_t due;          /* no summary is due before this; INT64_MAX: none */
} log_limit_t;

/* Forget every kind and every count. */
void log_limit_reset(log_limit_t *t);

/* May a line of kind (key, level) with this text be written at now (ms,
 * monotonic)? 1: yes, and when note->count > 0 the summary of the lines
 * held back before it is to be written first. 0: no; it is counted (and its
 * text and role kept when it is the first held back). */
int log_limit_admit(log_limit_t *t, const void *key, int level, int64_t now,
                    const char *text, const char *role, log_limit_note_t *note);

/* Move up to max summaries that are due at now into notes (every pending
 * one when now is INT64_MAX, as at exit); how many. A summary is due when
 * a line of its kind would be written again. */
int log_limit_take_due(log_limit_t *t, int64_t now, log_limit_note_t *notes,
                       int max);

#endif
