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
    aio_job_t *next;
};

/* Set the loop and the most threads this process may start (lazily: none
 * runs before the first job). No thread, no fd yet: safe before a fork. */
void aio_init(loop_t *loop, int max_threads);

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
