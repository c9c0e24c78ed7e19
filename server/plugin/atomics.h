/* atomics.h: named 64-bit counters in shared memory for every process (like swoole_atomic). */
#ifndef SWX_ATOMICS_H
#define SWX_ATOMICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A fixed array of counters in one MAP_SHARED|MAP_ANONYMOUS mapping,
 * created before the fork. Any process can open a counter by name at any
 * time (the same name gives the same counter in every process); the
 * handle stays valid in every process that has the mapping. Arithmetic is
 * lock-free and wraps around like the hardware.
 */
#define ATOMICS_NAME_MAX 47 /* bytes in a name */
#define ATOMICS_MAX 65536   /* counters in one array */

typedef struct atomics atomics_t;
typedef struct atomics_counter atomics_counter_t;

/* Bytes the mapping takes for `capacity` counters, 0 if out of range. */
size_t atomics_size_for(uint32_t capacity);
/* Room for 1..ATOMICS_MAX counters (64 bytes each). 0, -EINVAL or -ENOMEM. */
int atomics_create(atomics_t **out, uint32_t capacity);
/* Unmap it from this process. */
void atomics_destroy(atomics_t *a);

/*
 * The counter called name, created with value `initial` if it does not
 * exist yet. 1 if created, 0 if it existed (initial ignored), or -EINVAL
 * (empty name), -ENAMETOOLONG, -ENOSPC (array full).
 */
int atomics_open(atomics_t *a, const char *name, int64_t initial,
                 atomics_counter_t **out);
/* The counter called name, or NULL. Lock-free. */
atomics_counter_t *atomics_find(atomics_t *a, const char *name);
const char *atomics_name(const atomics_counter_t *c);

int64_t atomics_get(atomics_counter_t *c);
void atomics_set(atomics_counter_t *c, int64_t value);
/* Add or subtract and return the new value. */
int64_t atomics_add(atomics_counter_t *c, int64_t delta);
int64_t atomics_sub(atomics_counter_t *c, int64_t delta);
/* If the value is `expected`, make it `desired` and return 1; else 0. */
int atomics_cmpset(atomics_counter_t *c, int64_t expected, int64_t desired);

/*
 * Swoole's Atomic::wait()/wakeup(): the counter used as a 0/1 event.
 *
 * atomics_wait takes the event: if the value is 1 it sets it to 0 and
 * returns 0 at once; while it is 0 it sleeps (futex) until a wakeup lets
 * it take the 1, or until timeout_ms passes (< 0: no limit; 0: do not
 * sleep). Returns 0 when it took the event, -ETIMEDOUT, -EINTR if a signal
 * handler interrupted the sleep, or -EINVAL if the value is neither 0 nor
 * 1 (Swoole leaves that case undefined).
 *
 * atomics_wakeup: if the value is 0, sets it to 1 and wakes up to n
 * sleeping waiters; returns how many were woken (0 if none was asleep: the
 * next wait takes the 1 at once). If the value is already non-zero it does
 * nothing and returns 0. -EINVAL if n < 1.
 *
 * One wakeup is taken by one wait. Of several waiters woken by
 * wakeup(n > 1), one takes the event and the others sleep again for the
 * rest of their timeout (Swoole's return false to them at once instead).
 */
int atomics_wait(atomics_counter_t *c, int timeout_ms);
int atomics_wakeup(atomics_counter_t *c, int n);

#endif
