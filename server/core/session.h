/* session.h: 64-bit session ids and the table that maps them to connections. */
#ifndef SWX_SESSION_H
#define SWX_SESSION_H

#include <stddef.h>
#include <stdint.h>

/*
 * A session id is (sequence << 8) | reactor id. The sequence is per reactor
 * thread and starts at 1, so an id is never 0 and never reused while the
 * server runs (2^56 connections per reactor), and the id alone tells a
 * worker which reactor owns the connection.
 */
#define SESSION_REACTOR_BITS 8
#define SESSION_MAX_REACTORS (1 << SESSION_REACTOR_BITS)

static inline uint64_t session_make(uint64_t seq, int reactor)
{
    return (seq << SESSION_REACTOR_BITS) | (uint64_t)reactor;
}

static inline int session_reactor(uint64_t session)
{
    return (int)(session & (SESSION_MAX_REACTORS - 1));
}

/* Open addressing with linear probing; 0 marks an empty slot. */
typedef struct session_table {
    uint64_t *keys;
    void **vals;
    size_t cap;   /* power of two */
    size_t count;
} session_table_t;

int session_table_init(session_table_t *t, size_t hint);
void session_table_free(session_table_t *t);
/* 0, -EEXIST, -EINVAL (id 0) or -ENOMEM. */
int session_put(session_table_t *t, uint64_t id, void *val);
void *session_get(const session_table_t *t, uint64_t id);
/* Removes id and returns its value, or NULL when absent. */
void *session_del(session_table_t *t, uint64_t id);

#endif
