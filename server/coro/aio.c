/* aio.c: the per-process thread pool behind the coroutines' file calls. A
 * coroutine queues a job and parks; a pool thread (started on demand, with
 * every signal blocked) runs it and puts it on a done list, and an eventfd
 * the loop watches brings the loop's thread to wake the coroutine. Threads
 * above aio_core_worker_num end after aio_max_idle_time without a job and
 * are joined by the loop. Why threads rather than io_uring:
 * docs/architecture.md, "Files and programs". */
#include "coro/aio.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "coro/aio_policy.h"
#include "coro/chan.h"
#include "coro/coro.h"
#include "core/log.h"

enum { AIO_QUEUED, AIO_RUNNING, AIO_DONE };

static struct {
    loop_t *loop;
    aio_limits_t lim;         /* the config's four settings */
    pid_t pid;                /* the process the threads belong to */
    int efd;                  /* a thread -> the loop: jobs are done */
    pthread_mutex_t mu;       /* guards what follows, up to threads */
    pthread_cond_t cv;        /* a job queued, or stopping */
    aio_job_t *qhead, *qtail; /* queued, oldest first */
    aio_job_t *done;          /* finished, for the loop */
    int queued, idle, nthreads;
    pthread_t threads[AIO_THREADS_MAX]; /* live, [0, nthreads) */
    pthread_t exited[AIO_THREADS_MAX];  /* ended when idle, to be joined */
    atomic_int nexited;       /* changed under mu; read without it too */
    atomic_int stopping;
    coro_waitq_t room;        /* coroutines waiting for room in the queue */
} pool = {.efd = -1, .mu = PTHREAD_MUTEX_INITIALIZER,
          .cv = PTHREAD_COND_INITIALIZER};

void aio_init(loop_t *loop, int max_threads)
{
    pool.loop = loop;
    aio_set_limits(AIO_CORE_DEFAULT,
                   max_threads > 0 ? max_threads : AIO_THREADS_DEFAULT,
                   AIO_MAX_WAIT_DEFAULT, AIO_MAX_IDLE_DEFAULT);
}

void aio_set_limits(int core, int max_threads, double max_wait_time,
                    double max_idle_time)
{
    pool.lim = aio_limits(core, max_threads, AIO_THREADS_MAX, max_wait_time,
                          max_idle_time);
}

int aio_stopping(void)
{
    return atomic_load_explicit(&pool.stopping, memory_order_relaxed);
}

/* ---- the threads ---- */

static aio_job_t *aio_take(void)
{
    aio_job_t *job = pool.qhead;
    pool.qhead = job->next;
    if (pool.qhead == NULL)
        pool.qtail = NULL;
    pool.queued--;
    job->state = AIO_RUNNING;
    return job;
}

static void aio_signal_loop(void)
{
    uint64_t one = 1;
    /* Fails only when the counter would overflow: the loop is woken
     * already. */
    if (write(pool.efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_error("aio: write(eventfd): %s", strerror(errno));
}

static int64_t aio_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* aio_max_idle_time from now, on CLOCK_MONOTONIC. */
static struct timespec aio_idle_deadline(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return aio_timespec_after(&now, pool.lim.max_idle_ns);
}

/* Wait (pool.mu held) for a job. 0: one is queued; -ECANCELED: the
 * process stops; -ETIMEDOUT: idle for aio_max_idle_time with more threads
 * than aio_core_worker_num, so this one ends. The queue is looked at
 * after every wake, a timed-out one included, so a job queued as the time
 * ran out is taken rather than left without a thread. */
static int aio_wait_job(void)
{
    struct timespec at = aio_idle_deadline();
    while (pool.qhead == NULL && !aio_stopping()) {
        pool.idle++;
        int rc = pool.lim.max_idle_ns > 0
                     ? pthread_cond_clockwait(&pool.cv, &pool.mu,
                                              CLOCK_MONOTONIC, &at)
                     : pthread_cond_wait(&pool.cv, &pool.mu);
        pool.idle--;
        if (rc != ETIMEDOUT || pool.qhead != NULL || aio_stopping())
            continue;
        if (aio_should_retire(&pool.lim, pool.queued, pool.nthreads))
            return -ETIMEDOUT;
        /* A core thread: a new deadline, or the past one would spin. */
        at = aio_idle_deadline();
    }
    return aio_stopping() ? -ECANCELED : 0;
}

/* This thread ends for idleness (pool.mu held): out of threads[], onto
 * exited[] for the loop to join (aio_reap), and the loop woken for it. */
static void aio_retire(void)
{
    pthread_t self = pthread_self();
    for (int i = 0; i < pool.nthreads; i++) {
        if (pthread_equal(pool.threads[i], self)) {
            pool.threads[i] = pool.threads[--pool.nthreads];
            break;
        }
    }
    pool.exited[pool.nexited++] = self;
    aio_signal_loop();
}

static void *aio_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        int rc = aio_wait_job();
        if (rc == -ETIMEDOUT)
            aio_retire();
        if (rc < 0)
            break;
        aio_job_t *job = aio_take();
        pthread_mutex_unlock(&pool.mu);
        job->work(job);
        pthread_mutex_lock(&pool.mu);
        job->state = AIO_DONE;
        job->next = pool.done;
        pool.done = job;
        aio_signal_loop();
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

/* Start one more thread (pool.mu held) with every signal blocked: the
 * process's signals are the loop's (signalfd), and a thread must not take
 * one. 0 or -errno (logged). */
static int aio_spawn(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&pool.threads[pool.nthreads], NULL, aio_thread,
                            NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("aio: pthread_create (thread %d of %d): %s",
                  pool.nthreads + 1, pool.lim.max, strerror(rc));
        return -rc;
    }
    pthread_setname_np(pool.threads[pool.nthreads], "swx-aio");
    pool.nthreads++;
    return 0;
}

/* ---- the loop's side ---- */

/* Join the threads that ended for idleness (they have left the mutex or
 * are about to: each join is short). Outside pool.mu. Usually there are
 * none, seen without the mutex; one missed here has woken the loop, whose
 * aio_done_io reaps it. */
static void aio_reap(void)
{
    pthread_t done[AIO_THREADS_MAX];
    if (atomic_load_explicit(&pool.nexited, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&pool.mu);
    int n = pool.nexited;
    memcpy(done, pool.exited, (size_t)n * sizeof(done[0]));
    pool.nexited = 0;
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < n; i++) {
        int rc = pthread_join(done[i], NULL);
        if (rc != 0)
            log_error("aio: pthread_join: %s", strerror(rc));
    }
}

/* The loop saw the eventfd: wake the owners of finished jobs, release the
 * abandoned ones, and let coroutines waiting for room try again. */
static void aio_done_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    (void)arg;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_error("aio: read(eventfd): %s", strerror(errno));
    pthread_mutex_lock(&pool.mu);
    aio_job_t *list = pool.done;
    pool.done = NULL;
    pthread_mutex_unlock(&pool.mu);
    while (list != NULL) {
        aio_job_t *job = list;
        list = job->next;
        if (job->waiter != NULL)
            coro_wake(job->waiter, 0); /* it takes the job back */
        else
            job->release(job);
    }
    coro_waitq_wake_all(&pool.room, 0);
    aio_reap();
}

/* The eventfd, on first use in this process. 0 or -errno (logged). */
static int aio_open(void)
{
    if (pool.loop == NULL)
        return -ENOTSUP;
    if (pool.pid != 0)
        return pool.pid == getpid() ? 0 : -ENOTSUP;
    pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool.efd < 0) {
        int err = errno;
        log_error("aio: eventfd: %s", strerror(err));
        return -err;
    }
    int rc = loop_add(pool.loop, pool.efd, LOOP_READ, aio_done_io, NULL);
    if (rc < 0) {
        log_error("aio: epoll_ctl(eventfd): %s", strerror(-rc));
        close(pool.efd);
        pool.efd = -1;
        return rc;
    }
    pool.pid = getpid();
    return 0;
}

/* Milliseconds left until deadline (-1: none), at least 0. */
static long aio_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - loop_now();
    return left > 0 ? (long)left : 0;
}

/* Wait for room in the queue. 0 or -errno. */
static int aio_admit(int64_t deadline)
{
    for (;;) {
        if (aio_stopping())
            return -ECANCELED;
        pthread_mutex_lock(&pool.mu);
        int full = pool.queued >= AIO_QUEUE_MAX;
        pthread_mutex_unlock(&pool.mu);
        if (!full)
            return 0;
        int rc = coro_waitq_wait(&pool.room, aio_left(deadline));
        if (rc < 0)
            return rc;
    }
}

/* Take a job that no thread has taken off the queue (pool.mu held). */
static void aio_unqueue(aio_job_t *job)
{
    aio_job_t **p = &pool.qhead, *prev = NULL;
    while (*p != job) {
        prev = *p;
        p = &(*p)->next;
    }
    *p = job->next;
    if (pool.qtail == job)
        pool.qtail = prev;
    pool.queued--;
}

/* Whether to start a thread for the job just queued (pool.mu held): the
 * threads that ended and are not yet joined count against the most, so
 * that threads[] and exited[] together never pass AIO_THREADS_MAX. */
static int aio_grow(void)
{
    int64_t waited = aio_now_ns() - pool.qhead->queued_ns;
    return aio_should_grow(&pool.lim, pool.queued, pool.idle,
                           pool.nthreads + pool.nexited, waited);
}

/* Queue job, with one more thread when none is idle to take it, or when
 * the oldest job has waited past aio_max_wait_time. 0, or -EAGAIN when no
 * thread runs and none could be started. */
static int aio_queue(aio_job_t *job)
{
    aio_reap();
    pthread_mutex_lock(&pool.mu);
    job->state = AIO_QUEUED;
    job->queued_ns = aio_now_ns();
    job->next = NULL;
    if (pool.qtail != NULL)
        pool.qtail->next = job;
    else
        pool.qhead = job;
    pool.qtail = job;
    pool.queued++;
    int rc = 0;
    if (aio_grow() && aio_spawn() < 0 && pool.nthreads == 0) {
        aio_unqueue(job);
        rc = -EAGAIN;
    }
    pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    return rc;
}

/* The waiter gave up (timeout, stop): a job still queued is released now;
 * one that runs, or is done and not yet seen by the loop, is released by
 * aio_done_io. */
static void aio_abandon(aio_job_t *job)
{
    pthread_mutex_lock(&pool.mu);
    int queued = job->state == AIO_QUEUED;
    if (queued)
        aio_unqueue(job);
    job->waiter = NULL;
    pthread_mutex_unlock(&pool.mu);
    if (queued)
        job->release(job);
}

int aio_run(aio_job_t *job, long timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : loop_now() + timeout_ms;
    int rc = coro_self() == NULL ? -EPERM : aio_open();
    if (rc == 0)
        rc = aio_admit(deadline);
    if (rc == 0) {
        job->waiter = coro_self();
        rc = aio_queue(job);
    }
    if (rc < 0) {
        job->release(job);
        return rc;
    }
    rc = coro_park(aio_left(deadline));
    if (rc < 0)
        aio_abandon(job);
    return rc;
}

/* ---- stop ---- */

void aio_cancel(void)
{
    atomic_store(&pool.stopping, 1);
    pthread_mutex_lock(&pool.mu);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

/* Join the threads by deadline_ms; how many are still busy (detached). */
static int aio_join(int64_t deadline_ms)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    int64_t left = deadline_ms - loop_now();
    if (left < 0)
        left = 0;
    at.tv_sec += left / 1000;
    at.tv_nsec += (left % 1000) * 1000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    int busy = 0;
    for (int i = 0; i < pool.nthreads; i++) {
        if (pthread_timedjoin_np(pool.threads[i], NULL, &at) == 0)
            continue;
        pthread_detach(pool.threads[i]);
        busy++;
    }
    pool.nthreads = 0;
    return busy;
}

static void aio_release_list(aio_job_t *list)
{
    while (list != NULL) {
        aio_job_t *job = list;
        list = job->next;
        job->release(job);
    }
}

void aio_free(int64_t deadline_ms)
{
    if (pool.pid != getpid())
        return; /* never started here (or another process's) */
    aio_cancel();
    int busy = aio_join(deadline_ms);
    aio_reap();
    pthread_mutex_lock(&pool.mu);
    aio_job_t *queued = pool.qhead, *done = pool.done;
    pool.qhead = pool.qtail = pool.done = NULL;
    pool.queued = 0;
    pthread_mutex_unlock(&pool.mu);
    aio_release_list(queued);
    aio_release_list(done);
    loop_del(pool.loop, pool.efd);
    if (busy > 0) {
        /* Their jobs stay allocated; the eventfd stays open so that their
         * last write cannot reach an fd of the same number. */
        log_warn("aio: %d thread(s) still in a blocking call at exit", busy);
        return;
    }
    close(pool.efd);
    pool.efd = -1;
    pool.pid = 0;
}
