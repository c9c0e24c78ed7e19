/* aio_policy.h: when the coroutines' file pool (coro/aio.c) starts a
 * thread and when an idle one ends (Swoole's aio_worker_num,
 * aio_core_worker_num, aio_max_wait_time, aio_max_idle_time): pure
 * decisions, apart from the threads, so that they can be tested alone. */
#ifndef SWX_CORO_AIO_POLICY_H
#define SWX_CORO_AIO_POLICY_H

#include <stdint.h>
#include <time.h>

typedef struct aio_limits {
    int core;            /* aio_core_worker_num: kept however idle */
    int max;             /* aio_worker_num: started at most */
    int64_t max_wait_ns; /* aio_max_wait_time; 0: off */
    int64_t max_idle_ns; /* aio_max_idle_time; 0: no thread ever ends */
} aio_limits_t;

/* The limits from the config's values (seconds as doubles), clamped:
 * max to [1, max_cap], core to [1, max], the times to >= 0. */
aio_limits_t aio_limits(int core, int max, int max_cap, double max_wait_s,
                        double max_idle_s);

/* Whether to start one more thread, just after a job was queued: queued
 * jobs not yet taken, idle threads, threads (those ending included), and
 * how long the oldest queued job has waited. */
int aio_should_grow(const aio_limits_t *l, int queued, int idle,
                    int nthreads, int64_t oldest_wait_ns);

/* Whether an idle thread whose wait for a job timed out ends now: no job
 * queued, and more live threads than the core count. */
int aio_should_retire(const aio_limits_t *l, int queued, int nthreads);

/* now + after_ns as a timespec (for pthread_cond_clockwait). */
struct timespec aio_timespec_after(const struct timespec *now,
                                   int64_t after_ns);

#endif
