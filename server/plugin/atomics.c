/* atomics.c: named 64-bit counters in shared memory, with futex wait/wakeup. */
#include "plugin/atomics.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "ipc/shm.h"

/*
 * Counters are looked up by a linear scan of the slots in use: opening a
 * counter is rare (a handle is kept), and a scan needs no lock. Only
 * creating one takes the registration lock, a robust process-shared mutex,
 * so two processes opening the same new name get one counter, and a
 * process that dies while creating one leaves a slot that the next opener
 * frees again.
 *
 * wait/wakeup sleep on `seq`, a 32-bit word next to the value that every
 * wakeup bumps, rather than on half of the 64-bit value: a waiter reads
 * seq before it checks the value, so a wakeup between the check and the
 * sleep changes seq and the futex call returns at once. The futex calls
 * are not FUTEX_PRIVATE: the word is shared by processes.
 */

#define ATOMICS_MAGIC 0x7377782d61746f6dull

enum slot_state { SLOT_EMPTY = 0, SLOT_WRITING = 1, SLOT_READY = 2 };

struct atomics_counter {
    _Alignas(64) _Atomic int64_t value;
    _Atomic uint32_t seq;   /* futex word: bumped by every wakeup */
    _Atomic uint32_t state; /* enum slot_state */
    char name[ATOMICS_NAME_MAX + 1];
};

struct atomics {
    uint64_t magic;
    size_t map_size;
    uint32_t capacity;
    _Atomic uint32_t used; /* slots [0, used) have been handed out */
    pthread_mutex_t lock;  /* creating counters */
    atomics_counter_t counters[];
};

_Static_assert(sizeof(atomics_counter_t) == 64, "one counter per cache line");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "shared atomics must be lock-free");

size_t atomics_size_for(uint32_t capacity)
{
    if (capacity == 0 || capacity > ATOMICS_MAX)
        return 0;
    return sizeof(atomics_t) + (size_t)capacity * sizeof(atomics_counter_t);
}

int atomics_create(atomics_t **out, uint32_t capacity)
{
    size_t size = atomics_size_for(capacity);
    if (size == 0)
        return -EINVAL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_error("atomics: mmap(%zu bytes, MAP_SHARED): %s", size,
                  strerror(errno));
        return -ENOMEM;
    }
    atomics_t *a = p; /* zero-filled: every slot empty */
    a->magic = ATOMICS_MAGIC;
    a->map_size = size;
    a->capacity = capacity;
    int rc = shm_mutex_init(&a->lock);
    if (rc < 0) {
        munmap(p, size);
        return rc;
    }
    *out = a;
    return 0;
}

void atomics_destroy(atomics_t *a)
{
    if (a != NULL && a->magic == ATOMICS_MAGIC)
        munmap(a, a->map_size);
}

static int name_check(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return -EINVAL;
    if (strnlen(name, ATOMICS_NAME_MAX + 1) > ATOMICS_NAME_MAX)
        return -ENAMETOOLONG;
    return 0;
}

atomics_counter_t *atomics_find(atomics_t *a, const char *name)
{
    if (name_check(name) < 0)
        return NULL;
    uint32_t used = atomic_load(&a->used);
    for (uint32_t i = 0; i < used; i++) {
        atomics_counter_t *c = &a->counters[i];
        /* The name is written before the release of READY. */
        if (atomic_load_explicit(&c->state, memory_order_acquire) ==
                SLOT_READY &&
            strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

/* The registration lock; a slot left half-made by a dead process is
 * emptied again. */
static int atomics_lock(atomics_t *a)
{
    int rc = pthread_mutex_lock(&a->lock);
    if (rc == EOWNERDEAD) {
        uint32_t used = atomic_load(&a->used);
        for (uint32_t i = 0; i < used; i++)
            if (atomic_load(&a->counters[i].state) == SLOT_WRITING)
                atomic_store(&a->counters[i].state, SLOT_EMPTY);
        log_warn("atomics: a process died creating a counter; slot freed");
        rc = pthread_mutex_consistent(&a->lock);
        if (rc != 0)
            pthread_mutex_unlock(&a->lock);
    }
    if (rc != 0) {
        log_error("atomics: pthread_mutex_lock: %s", strerror(rc));
        return -rc;
    }
    return 0;
}

/* Fill the first empty slot; the caller holds the lock. */
static atomics_counter_t *slot_claim(atomics_t *a, const char *name,
                                     int64_t initial)
{
    for (uint32_t i = 0; i < a->capacity; i++) {
        atomics_counter_t *c = &a->counters[i];
        if (atomic_load(&c->state) != SLOT_EMPTY)
            continue;
        atomic_store(&c->state, SLOT_WRITING);
        strcpy(c->name, name);
        atomic_store(&c->value, initial);
        atomic_store(&c->seq, 0);
        if (i >= atomic_load(&a->used))
            atomic_store(&a->used, i + 1);
        atomic_store_explicit(&c->state, SLOT_READY, memory_order_release);
        return c;
    }
    return NULL;
}

int atomics_open(atomics_t *a, const char *name, int64_t initial,
                 atomics_counter_t **out)
{
    int rc = name_check(name);
    if (rc < 0)
        return rc;
    if ((*out = atomics_find(a, name)) != NULL)
        return 0;
    if ((rc = atomics_lock(a)) < 0)
        return rc;
    rc = 0;
    if ((*out = atomics_find(a, name)) == NULL) {
        *out = slot_claim(a, name, initial);
        rc = *out != NULL ? 1 : -ENOSPC;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

const char *atomics_name(const atomics_counter_t *c)
{
    return c->name;
}

int64_t atomics_get(atomics_counter_t *c)
{
    return atomic_load(&c->value);
}

void atomics_set(atomics_counter_t *c, int64_t value)
{
    atomic_store(&c->value, value);
}

/* Atomic read-modify-write of signed integers wraps (C11 7.17.7.5); the
 * new value is computed unsigned so it wraps the same way. */
int64_t atomics_add(atomics_counter_t *c, int64_t delta)
{
    int64_t old = atomic_fetch_add(&c->value, delta);
    return (int64_t)((uint64_t)old + (uint64_t)delta);
}

int64_t atomics_sub(atomics_counter_t *c, int64_t delta)
{
    int64_t old = atomic_fetch_sub(&c->value, delta);
    return (int64_t)((uint64_t)old - (uint64_t)delta);
}

int atomics_cmpset(atomics_counter_t *c, int64_t expected, int64_t desired)
{
    return atomic_compare_exchange_strong(&c->value, &expected, desired);
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val,
                  const struct timespec *ts, uint32_t val3)
{
    return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, val3);
}

/* Take the event: 0 if the value was 1 (now 0), -EAGAIN if it is 0,
 * -EINVAL otherwise. */
static int event_take(atomics_counter_t *c)
{
    int64_t v = 1;
    if (atomic_compare_exchange_strong(&c->value, &v, 0))
        return 0;
    return v == 0 ? -EAGAIN : -EINVAL;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int atomics_wait(atomics_counter_t *c, int timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms > 0)
        deadline_after(&deadline, timeout_ms);
    for (;;) {
        uint32_t seq = atomic_load(&c->seq);
        int rc = event_take(c);
        if (rc != -EAGAIN)
            return rc;
        if (timeout_ms == 0)
            return -ETIMEDOUT;
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline,
         * so wake-ups that lose the race do not stretch the timeout. */
        if (futex(&c->seq, FUTEX_WAIT_BITSET, seq,
                  timeout_ms > 0 ? &deadline : NULL,
                  FUTEX_BITSET_MATCH_ANY) == 0 || errno == EAGAIN)
            continue;
        if (errno == ETIMEDOUT)
            return event_take(c) == 0 ? 0 : -ETIMEDOUT;
        if (errno == EINTR)
            return -EINTR;
        rc = -errno;
        log_error("atomics: futex(FUTEX_WAIT_BITSET, %s): %s", c->name,
                  strerror(-rc));
        return rc;
    }
}

int atomics_wakeup(atomics_counter_t *c, int n)
{
    if (n < 1)
        return -EINVAL;
    int64_t zero = 0;
    if (!atomic_compare_exchange_strong(&c->value, &zero, 1))
        return 0;
    atomic_fetch_add(&c->seq, 1);
    long woken = futex(&c->seq, FUTEX_WAKE, (uint32_t)n, NULL, 0);
    if (woken < 0) {
        int err = errno;
        log_error("atomics: futex(FUTEX_WAKE, %s): %s", c->name,
                  strerror(err));
        return -err;
    }
    return (int)woken;
}
