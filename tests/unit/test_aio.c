/* test_aio.c: the coroutines' thread pool (coro/aio.c) with real threads on
 * a real loop: jobs run in a thread with every signal blocked and wake
 * their coroutine; none is started before the first job; a job given up
 * while it runs is released when its thread is done, one given up while
 * queued at once; a stop cancels the waiters and joins the threads; a
 * burst's threads above aio_core_worker_num end after aio_max_idle_time
 * and are joined, the core ones stay, and jobs queued while threads time
 * out all run. Jobs block on a pipe the test controls. The growth and
 * shrink decisions (coro/aio_policy.c) are checked alone as well. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "coro/aio.h"
#include "coro/aio_policy.h"
#include "coro/coro.h"
#include "coro/wait.h"
#include "event/loop.h"

static loop_t *loop;
static int gate[2];              /* a job blocks reading gate[0] */
static atomic_int released, ran;

typedef struct job {
    aio_job_t head;
    int block;                   /* read a byte of gate[0] first */
    pthread_t thread;
    int sigterm_blocked;
} job_t;

static void job_work(aio_job_t *j)
{
    job_t *job = (job_t *)j;
    char c;
    if (job->block && read(gate[0], &c, 1) != 1)
        return;
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    job->sigterm_blocked = sigismember(&mask, SIGTERM);
    job->thread = pthread_self();
    atomic_fetch_add(&ran, 1);
}

static void job_release(aio_job_t *j)
{
    atomic_fetch_add(&released, 1);
    free(j);
}

static job_t *job_new(int block)
{
    job_t *job = calloc(1, sizeof(*job));
    ck_assert_ptr_nonnull(job);
    job->head.work = job_work;
    job->head.release = job_release;
    job->block = block;
    return job;
}

static void setup(void)
{
    loop = loop_create();
    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(coro_init(loop, 64 * 1024, 1000, 0), 0);
    coro_wait_init(loop);
    aio_init(loop, 1);
    ck_assert_int_eq(pipe(gate), 0);
    released = ran = 0;
}

static void teardown(void)
{
    close(gate[1]); /* a job still blocked reads the end */
    coro_cancel_all(loop_now() + 1000);
    aio_free(loop_now() + 2000);
    close(gate[0]);
    coro_wait_free();
    coro_free();
    loop_free(loop);
}

static int threads_now(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A coroutine: run the job with the timeout given, keep aio_run's rc. */
typedef struct run {
    job_t *job;
    long timeout;
    int rc;
    int done;
} run_t;

static void runner(void *arg)
{
    run_t *r = arg;
    r->rc = aio_run(&r->job->head, r->timeout);
    if (r->rc == 0) /* the job is ours again */
        job_release(&r->job->head);
    r->done = 1;
}

static void run_until(const int *flag, int ms)
{
    int64_t end = loop_now() + ms;
    while (!*flag && loop_now() < end)
        loop_run_once(loop, 10);
    ck_assert_int_eq(*flag, 1);
}

START_TEST(a_job_starts_a_thread_and_wakes_its_coroutine)
{
    int before = threads_now();
    job_t *job = job_new(0);
    run_t r = {job, 5000, 1, 0};
    ck_assert_int_gt(coro_go(runner, &r), 0);
    ck_assert_int_eq(r.done, 0); /* it waits; the loop goes on */
    ck_assert_int_eq(threads_now(), before + 1);
    run_until(&r.done, 5000);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(ran, 1);
    ck_assert_int_eq(released, 1);
}
END_TEST

START_TEST(the_thread_is_not_the_loops_and_blocks_signals)
{
    job_t *job = job_new(0);
    run_t r = {job, 5000, 1, 0};
    ck_assert_int_gt(coro_go(runner, &r), 0);
    /* The job is read before the loop runs: the coroutine that frees it
     * wakes only then. */
    while (atomic_load(&ran) == 0)
        usleep(1000);
    ck_assert(!pthread_equal(job->thread, pthread_self()));
    ck_assert_int_eq(job->sigterm_blocked, 1);
    run_until(&r.done, 5000);
}
END_TEST

START_TEST(a_running_job_given_up_is_released_when_done)
{
    run_t r = {job_new(1), 50, 1, 0};
    ck_assert_int_gt(coro_go(runner, &r), 0);
    run_until(&r.done, 5000);
    ck_assert_int_eq(r.rc, -ETIMEDOUT);
    ck_assert_int_eq(released, 0); /* its thread still reads the pipe */
    ck_assert_int_eq(write(gate[1], "x", 1), 1);
    int64_t end = loop_now() + 5000;
    while (atomic_load(&released) == 0 && loop_now() < end)
        loop_run_once(loop, 10);
    ck_assert_int_eq(released, 1);
    ck_assert_int_eq(ran, 1);
}
END_TEST

START_TEST(a_queued_job_given_up_is_released_at_once)
{
    run_t a = {job_new(1), 5000, 1, 0}, b = {job_new(0), 50, 1, 0};
    ck_assert_int_gt(coro_go(runner, &a), 0);
    ck_assert_int_gt(coro_go(runner, &b), 0); /* one thread: b waits */
    run_until(&b.done, 5000);
    ck_assert_int_eq(b.rc, -ETIMEDOUT);
    ck_assert_int_eq(released, 1);
    ck_assert_int_eq(ran, 0); /* b never ran */
    ck_assert_int_eq(write(gate[1], "x", 1), 1);
    run_until(&a.done, 5000);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(ran, 1);
    ck_assert_int_eq(released, 2);
}
END_TEST

START_TEST(outside_a_coroutine_is_refused)
{
    ck_assert_int_eq(aio_run(&job_new(0)->head, -1), -EPERM);
    ck_assert_int_eq(released, 1);
}
END_TEST

START_TEST(a_stop_cancels_and_joins)
{
    run_t r = {job_new(1), -1, 1, 0};
    ck_assert_int_gt(coro_go(runner, &r), 0);
    aio_cancel();
    coro_cancel_all(loop_now() + 1000);
    ck_assert_int_eq(r.done, 1);
    ck_assert_int_eq(r.rc, -ECANCELED);
    run_t late = {job_new(0), -1, 1, 0};
    ck_assert_int_gt(coro_go(runner, &late), 0);
    ck_assert_int_eq(late.rc, -ECANCELED); /* refused once stopping */
    ck_assert_int_eq(write(gate[1], "x", 1), 1);
    aio_free(loop_now() + 2000); /* joins; the job given up is released */
    ck_assert_int_eq(released, 2);
}
END_TEST

/* Start n jobs (blocking on the gate when block) in coroutines. */
static void start_jobs(run_t *r, int n, int block)
{
    for (int i = 0; i < n; i++) {
        r[i] = (run_t){job_new(block), 5000, 1, 0};
        ck_assert_int_gt(coro_go(runner, &r[i]), 0);
    }
}

static void finish_jobs(run_t *r, int n)
{
    for (int i = 0; i < n; i++) {
        run_until(&r[i].done, 5000);
        ck_assert_int_eq(r[i].rc, 0);
    }
}

/* Run the loop (it joins the threads that end) until the process has
 * want threads, or ms pass. */
static int threads_within(int want, int ms)
{
    int64_t end = loop_now() + ms;
    while (threads_now() != want && loop_now() < end)
        loop_run_once(loop, 10);
    return threads_now();
}

START_TEST(a_bursts_threads_above_the_core_end_when_idle)
{
    aio_set_limits(1, 3, 0, 0.2);
    int before = threads_now();
    run_t r[3];
    start_jobs(r, 3, 1);
    ck_assert_int_eq(threads_now(), before + 3); /* none idle: one each */
    ck_assert_int_eq(write(gate[1], "xxx", 3), 3);
    finish_jobs(r, 3);
    ck_assert_int_eq(threads_within(before + 1, 5000), before + 1);
    /* The core thread, past its idle time, waits again rather than spin:
     * over 0.6 s (3 idle times) the process uses far less CPU than that. */
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    int64_t end = loop_now() + 600;
    while (loop_now() < end)
        loop_run_once(loop, 10);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) +
                 (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    ck_assert_msg(cpu < 0.2, "%.3f s of CPU while idle", cpu);
    start_jobs(r, 1, 0); /* the core thread still runs jobs */
    finish_jobs(r, 1);
    ck_assert_int_eq(threads_now(), before + 1);
}
END_TEST

/* A burst of 3 jobs with these limits: its 3 threads all stay. */
static void burst_keeps_its_threads(int core, double max_idle)
{
    aio_set_limits(core, 3, 0, max_idle);
    int before = threads_now();
    run_t r[3];
    start_jobs(r, 3, 1);
    ck_assert_int_eq(write(gate[1], "xxx", 3), 3);
    finish_jobs(r, 3);
    /* Many times the idle time: none may end. */
    int64_t end = loop_now() + 400;
    while (loop_now() < end)
        loop_run_once(loop, 10);
    ck_assert_int_eq(threads_now(), before + 3);
}

START_TEST(core_threads_stay)
{
    burst_keeps_its_threads(3, 0.05);
}
END_TEST

START_TEST(an_idle_time_of_0_keeps_every_thread)
{
    burst_keeps_its_threads(1, 0);
}
END_TEST

/* Threads end after 1 ms of idleness while bursts of jobs come at random
 * moments: every job runs (none is left queued with no thread), and the
 * stop joins what is left (LeakSanitizer checks the ASan run). */
START_TEST(jobs_queued_while_threads_time_out_all_run)
{
    aio_set_limits(1, 4, 0.0005, 0.001);
    unsigned seed = 7;
    run_t r[4];
    for (int round = 0; round < 300; round++) {
        int n = 1 + rand_r(&seed) % 4;
        start_jobs(r, n, 0);
        finish_jobs(r, n);
        usleep((useconds_t)(rand_r(&seed) % 2500));
    }
    ck_assert_int_eq(ran, released);
}
END_TEST

START_TEST(policy_limits_are_clamped)
{
    aio_limits_t l = aio_limits(9, 4, 256, 0.001, 1.0);
    ck_assert_int_eq(l.core, 4);
    ck_assert_int_eq(l.max, 4);
    ck_assert_int_eq(l.max_wait_ns, 1000000);
    ck_assert_int_eq(l.max_idle_ns, 1000000000);
    l = aio_limits(0, 1000, 256, -1, 0);
    ck_assert_int_eq(l.core, 1);
    ck_assert_int_eq(l.max, 256);
    ck_assert_int_eq(l.max_wait_ns, 0);
    ck_assert_int_eq(l.max_idle_ns, 0);
    ck_assert_int_eq(aio_limits(1, 1, 256, 1e-12, 0).max_wait_ns, 1);
}
END_TEST

START_TEST(policy_grows_for_jobs_without_idle_threads_or_a_long_wait)
{
    aio_limits_t l = aio_limits(1, 4, 256, 0.001, 1.0);
    ck_assert(aio_should_grow(&l, 1, 0, 0, 0));   /* the first job */
    ck_assert(aio_should_grow(&l, 2, 1, 2, 0));   /* more jobs than idle */
    ck_assert(!aio_should_grow(&l, 1, 1, 2, 0));  /* an idle one takes it */
    ck_assert(!aio_should_grow(&l, 5, 0, 4, 0));  /* at the most */
    ck_assert(!aio_should_grow(&l, 0, 0, 1, 0));  /* nothing queued */
    /* the oldest job waited past aio_max_wait_time: one more */
    ck_assert(!aio_should_grow(&l, 1, 1, 2, 1000000));
    ck_assert(aio_should_grow(&l, 1, 1, 2, 1000001));
    ck_assert(!aio_should_grow(&l, 1, 1, 4, 5000000000LL));
    l = aio_limits(1, 4, 256, 0, 1.0); /* 0: off */
    ck_assert(!aio_should_grow(&l, 1, 1, 2, 5000000000LL));
}
END_TEST

START_TEST(policy_retires_above_the_core_with_nothing_queued)
{
    aio_limits_t l = aio_limits(2, 4, 256, 0, 1.0);
    ck_assert(aio_should_retire(&l, 0, 3));
    ck_assert(!aio_should_retire(&l, 0, 2));  /* the core stays */
    ck_assert(!aio_should_retire(&l, 1, 3));  /* a job waits: take it */
    l = aio_limits(2, 4, 256, 0, 0);          /* 0: none ever ends */
    ck_assert(!aio_should_retire(&l, 0, 4));
}
END_TEST

START_TEST(policy_timespec_after_carries_nanoseconds)
{
    struct timespec now = {10, 999999999};
    struct timespec at = aio_timespec_after(&now, 1);
    ck_assert_int_eq(at.tv_sec, 11);
    ck_assert_int_eq(at.tv_nsec, 0);
    at = aio_timespec_after(&now, 2500000001LL);
    ck_assert_int_eq(at.tv_sec, 13);
    ck_assert_int_eq(at.tv_nsec, 500000000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("aio");
    TCase *tc = tcase_create("aio");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, a_job_starts_a_thread_and_wakes_its_coroutine);
    tcase_add_test(tc, the_thread_is_not_the_loops_and_blocks_signals);
    tcase_add_test(tc, a_running_job_given_up_is_released_when_done);
    tcase_add_test(tc, a_queued_job_given_up_is_released_at_once);
    tcase_add_test(tc, outside_a_coroutine_is_refused);
    tcase_add_test(tc, a_stop_cancels_and_joins);
    tcase_add_test(tc, a_bursts_threads_above_the_core_end_when_idle);
    tcase_add_test(tc, core_threads_stay);
    tcase_add_test(tc, an_idle_time_of_0_keeps_every_thread);
    tcase_add_test(tc, jobs_queued_while_threads_time_out_all_run);
    suite_add_tcase(s, tc);
    TCase *pc = tcase_create("policy");
    tcase_add_test(pc, policy_limits_are_clamped);
    tcase_add_test(pc, policy_grows_for_jobs_without_idle_threads_or_a_long_wait);
    tcase_add_test(pc, policy_retires_above_the_core_with_nothing_queued);
    tcase_add_test(pc, policy_timespec_after_carries_nanoseconds);
    suite_add_tcase(s, pc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
