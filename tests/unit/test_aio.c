/* test_aio.c: the coroutines' thread pool (coro/aio.c) with real threads on
 * a real loop: jobs run in a thread with every signal blocked and wake
 * their coroutine; none is started before the first job; a job given up
 * while it runs is released when its thread is done, one given up while
 * queued at once; a stop cancels the waiters and joins the threads. Jobs
 * block on a pipe the test controls. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "coro/aio.h"
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
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
