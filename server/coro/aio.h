/* aio.h: a small pool of threads per process that runs blocking jobs (file
 * reads and writes) while the coroutine that asked waits and the loop goes
 * on (Swoole's "aio" threads). */
#ifndef SWX_CORO_AIO_H
#define SWX_CORO_AIO_H

#include <stdint.h>

#include "event/loop.h"

/* Jobs queued and not yet taken by a thread, at most; a coroutine that
 * finds the queue full waits for room (within its timeout). */
#define AIO_QUEUE_MAX 1024
#define AIO_THREADS_DEFAULT 4
#define AIO_THREADS_MAX 256
/* Swoole's aio_max_wait_time and aio_max_idle_time defaults (seconds);
 * aio_core_worker_num's is 1 here (Swoole's is a thread per CPU, for one
 * process: docs/config.md). */
#define AIO_CORE_DEFAULT 1
#define AIO_MAX_WAIT_DEFAULT 0.001
#define AIO_MAX_IDLE_DEFAULT 1.0

typedef struct aio_job aio_job_t;
/* Runs in a pool thread: blocking calls are fine, the loop's and the
 * coroutines' state is not to be touched. */
typedef void aio_work_fn(aio_job_t *job);
/* Frees a job and everything it owns (run by the loop's thread). */
typedef void aio_release_fn(aio_job_t *job);

/* The head of a job; embed it first in a struct of the caller's. */
struct aio_job {
    aio_work_fn *work;
    aio_release_fn *release;
    /* the pool's */
    void *waiter;          /* the coroutine that waits; NULL: abandoned */
    int state;
    int64_t queued_ns;     /* CLOCK_MONOTONIC when queued */
    aio_job_t *next;
};

/* Set the loop and the most threads this process may start (lazily: none
 * runs before the first job), with the other limits at their defaults. No
 * thread, no fd yet: safe before a fork. */
void aio_init(loop_t *loop, int max_threads);
/* All four limits (after aio_init, before the first job): the threads
 * kept however idle (clamped to [1, max_threads]), the most, the wait of
 * the oldest queued job past which one more thread starts (seconds, 0
 * off), and the idleness past which a thread above the core count ends
 * (seconds, 0: none ever ends). */
void aio_set_limits(int core, int max_threads, double max_wait_time,
                    double max_idle_time);

/*
 * Run job->work in a pool thread and wait (in the running coroutine) for
 * it, up to timeout_ms (-1: no limit) including any wait for room in the
 * queue. 0: done, the job is the caller's again. On an error the job is
 * the pool's, released now or when its thread finishes with it (a job that
 * runs cannot be stopped; its result is thrown away): -ETIMEDOUT,
 * -ECANCELED (the process stops), -EPERM (not in a coroutine), -ENOTSUP
 * (no pool in this process: the master, the manager, or a process forked
 * from a worker), -EAGAIN/-ENOMEM (no thread or eventfd could be made).
 */
int aio_run(aio_job_t *job, long timeout_ms);

/* Whether the process stops: a long job checks it between chunks and
 * gives up with -ECANCELED. Any thread. */
int aio_stopping(void);

/* Stopping: jobs that run give up at their next chunk, new ones are
 * refused. Idempotent. */
void aio_cancel(void);
/* At exit: join the threads (those still busy at deadline_ms, loop_now()
 * clock, are left detached and logged), release every job, close the
 * eventfd. */
void aio_free(int64_t deadline_ms);

#endif
