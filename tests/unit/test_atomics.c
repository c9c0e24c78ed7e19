/* test_atomics.c: named shared counters: arithmetic, names, processes, wait/wakeup. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin/atomics.h"

static atomics_t *a;

static void setup(void)
{
    ck_assert_int_eq(atomics_create(&a, 16), 0);
}

static void teardown(void)
{
    atomics_destroy(a);
    a = NULL;
}

static atomics_counter_t *open_new(const char *name, int64_t initial)
{
    atomics_counter_t *c = NULL;
    ck_assert_int_eq(atomics_open(a, name, initial, &c), 1);
    ck_assert_ptr_nonnull(c);
    return c;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_children(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        int status;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "child %d: status %#x", i, status);
    }
}

START_TEST(create_limits)
{
    atomics_t *x = NULL;
    ck_assert_int_eq(atomics_create(&x, 0), -EINVAL);
    ck_assert_int_eq(atomics_create(&x, ATOMICS_MAX + 1), -EINVAL);
    ck_assert_ptr_null(x);
    ck_assert_uint_eq(atomics_size_for(0), 0);
    ck_assert_uint_ge(atomics_size_for(10), 10 * 64);
}
END_TEST

START_TEST(arithmetic)
{
    atomics_counter_t *c = open_new("n", 10);
    ck_assert_int_eq(atomics_get(c), 10);
    ck_assert_int_eq(atomics_add(c, 5), 15);
    ck_assert_int_eq(atomics_sub(c, 20), -5);
    ck_assert_int_eq(atomics_add(c, -5), -10);
    atomics_set(c, 1LL << 40);
    ck_assert_int_eq(atomics_get(c), 1LL << 40);
    ck_assert_int_eq(atomics_add(c, 1LL << 40), 1LL << 41);
    /* Wraps around, no undefined behaviour. */
    atomics_set(c, INT64_MAX);
    ck_assert_int_eq(atomics_add(c, 1), INT64_MIN);
    ck_assert_int_eq(atomics_sub(c, 1), INT64_MAX);
    ck_assert_int_eq(atomics_sub(c, INT64_MIN), -1);
}
END_TEST

START_TEST(cmpset)
{
    atomics_counter_t *c = open_new("c", 0);
    ck_assert_int_eq(atomics_cmpset(c, 1, 2), 0);
    ck_assert_int_eq(atomics_get(c), 0);
    ck_assert_int_eq(atomics_cmpset(c, 0, 7), 1);
    ck_assert_int_eq(atomics_get(c), 7);
    ck_assert_int_eq(atomics_cmpset(c, 7, INT64_MIN), 1);
    ck_assert_int_eq(atomics_cmpset(c, INT64_MIN, -1), 1);
    ck_assert_int_eq(atomics_get(c), -1);
}
END_TEST

START_TEST(names)
{
    atomics_counter_t *c = open_new("requests", 3), *d = NULL;
    ck_assert_int_eq(atomics_open(a, "requests", 99, &d), 0);
    ck_assert_ptr_eq(c, d);
    ck_assert_int_eq(atomics_get(d), 3); /* initial ignored */
    ck_assert_ptr_eq(atomics_find(a, "requests"), c);
    ck_assert_str_eq(atomics_name(c), "requests");
    ck_assert_ptr_null(atomics_find(a, "request"));
    ck_assert_ptr_null(atomics_find(a, ""));
    ck_assert_ptr_null(atomics_find(a, NULL));
    ck_assert_ptr_ne(open_new("requests2", 0), c);

    char name[ATOMICS_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[ATOMICS_NAME_MAX] = '\0';
    open_new(name, 0);
    ck_assert_ptr_nonnull(atomics_find(a, name));
    name[ATOMICS_NAME_MAX] = 'n';
    name[ATOMICS_NAME_MAX + 1] = '\0';
    ck_assert_int_eq(atomics_open(a, name, 0, &d), -ENAMETOOLONG);
    ck_assert_ptr_null(atomics_find(a, name));
    ck_assert_int_eq(atomics_open(a, "", 0, &d), -EINVAL);
    ck_assert_int_eq(atomics_open(a, NULL, 0, &d), -EINVAL);
}
END_TEST

START_TEST(full_array)
{
    char name[32];
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        open_new(name, i);
    }
    atomics_counter_t *c;
    ck_assert_int_eq(atomics_open(a, "more", 0, &c), -ENOSPC);
    ck_assert_int_eq(atomics_open(a, "c15", 0, &c), 0);
    ck_assert_int_eq(atomics_get(c), 15);
}
END_TEST

/* 4 processes add 100 000 each, and subtract a little: exact total. */
START_TEST(concurrent_adds_from_processes)
{
    enum { PROCS = 4, OPS = 100000 };
    atomics_counter_t *c = open_new("total", 0);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] > 0)
            continue;
        for (int i = 0; i < OPS; i++) {
            atomics_add(c, 3);
            if (i % 10 == 0)
                atomics_sub(c, 1);
            int64_t v;
            do
                v = atomics_get(c);
            while (i % 100 == 0 && !atomics_cmpset(c, v, v + 2));
        }
        _exit(0);
    }
    wait_children(pids, PROCS);
    ck_assert_int_eq(atomics_get(c),
                     (int64_t)PROCS * (OPS * 3 - OPS / 10 + OPS / 100 * 2));
}
END_TEST

/* Children open the same new names at once: one counter per name. */
START_TEST(concurrent_open_same_name)
{
    enum { PROCS = 4 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] > 0)
            continue;
        char name[32];
        for (int i = 0; i < 12; i++) {
            atomics_counter_t *c;
            snprintf(name, sizeof(name), "shared%d", i);
            if (atomics_open(a, name, 0, &c) < 0)
                _exit(1);
            atomics_add(c, 1);
        }
        _exit(0);
    }
    wait_children(pids, PROCS);
    char name[32];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "shared%d", i);
        atomics_counter_t *c = atomics_find(a, name);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(atomics_get(c), PROCS);
    }
    atomics_counter_t *c;
    for (int i = 12; i < 16; i++) {
        snprintf(name, sizeof(name), "x%d", i);
        ck_assert_int_eq(atomics_open(a, name, 0, &c), 1);
    }
    ck_assert_int_eq(atomics_open(a, "full", 0, &c), -ENOSPC);
}
END_TEST

START_TEST(wait_times_out)
{
    atomics_counter_t *c = open_new("ev", 0);
    ck_assert_int_eq(atomics_wait(c, 0), -ETIMEDOUT);
    int64_t t0 = now_ms();
    ck_assert_int_eq(atomics_wait(c, 150), -ETIMEDOUT);
    int64_t took = now_ms() - t0;
    ck_assert_int_ge(took, 150);
    ck_assert_int_lt(took, 2000);
    ck_assert_int_eq(atomics_get(c), 0);
}
END_TEST

START_TEST(wait_takes_a_pending_wakeup_at_once)
{
    atomics_counter_t *c = open_new("ev", 0);
    ck_assert_int_eq(atomics_wakeup(c, 1), 0); /* nobody asleep */
    ck_assert_int_eq(atomics_get(c), 1);
    ck_assert_int_eq(atomics_wakeup(c, 1), 0); /* already set */
    ck_assert_int_eq(atomics_get(c), 1);
    ck_assert_int_eq(atomics_wait(c, 0), 0);
    ck_assert_int_eq(atomics_get(c), 0);
    ck_assert_int_eq(atomics_wait(c, 0), -ETIMEDOUT);
    ck_assert_int_eq(atomics_wakeup(c, 0), -EINVAL);
    /* Not used as an event: no sleeping, no change. */
    atomics_set(c, 5);
    ck_assert_int_eq(atomics_wait(c, 1000), -EINVAL);
    ck_assert_int_eq(atomics_wakeup(c, 1), 0);
    ck_assert_int_eq(atomics_get(c), 5);
}
END_TEST

/* A child sleeps in wait; the parent's wakeup ends it well before the
 * child's timeout. */
START_TEST(wait_woken_by_another_process)
{
    atomics_counter_t *c = open_new("ev", 0);
    atomics_counter_t *ready = open_new("ready", 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        atomics_add(ready, 1);
        int64_t t0 = now_ms();
        int rc = atomics_wait(c, 10000);
        _exit(rc == 0 && now_ms() - t0 < 5000 ? 0 : 1);
    }
    while (atomics_get(ready) == 0)
        usleep(1000);
    usleep(100000); /* let it get to sleep */
    ck_assert_int_eq(atomics_wakeup(c, 1), 1);
    wait_children(&pid, 1);
    ck_assert_int_eq(atomics_get(c), 0); /* the child took it */
}
END_TEST

/* Three sleepers; each wakeup is taken by exactly one of them, so three
 * wakeups release all three and the value ends at 0. */
START_TEST(each_wakeup_releases_one_waiter)
{
    enum { PROCS = 3 };
    atomics_counter_t *c = open_new("ev", 0);
    atomics_counter_t *done = open_new("done", 0);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            int rc = atomics_wait(c, 10000);
            atomics_add(done, 1);
            _exit(rc == 0 ? 0 : 1);
        }
    }
    usleep(100000);
    for (int64_t want = 1; want <= PROCS; want++) {
        /* Wake all of them; only one may pass. */
        ck_assert_int_ge(atomics_wakeup(c, PROCS), 0);
        int64_t t0 = now_ms();
        while (atomics_get(done) < want && now_ms() - t0 < 5000)
            usleep(1000);
        ck_assert_int_eq(atomics_get(done), want);
        usleep(50000);
        ck_assert_int_eq(atomics_get(done), want);
    }
    wait_children(pids, PROCS);
    ck_assert_int_eq(atomics_get(c), 0);
}
END_TEST

static void on_alarm(int sig)
{
    (void)sig;
}

START_TEST(wait_interrupted_by_signal)
{
    atomics_counter_t *c = open_new("ev", 0);
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    alarm(1);
    int64_t t0 = now_ms();
    ck_assert_int_eq(atomics_wait(c, -1), -EINTR);
    ck_assert_int_lt(now_ms() - t0, 5000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("atomics");
    TCase *tc = tcase_create("counters");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, create_limits);
    tcase_add_test(tc, arithmetic);
    tcase_add_test(tc, cmpset);
    tcase_add_test(tc, names);
    tcase_add_test(tc, full_array);
    tcase_add_test(tc, concurrent_adds_from_processes);
    tcase_add_test(tc, concurrent_open_same_name);
    tcase_add_test(tc, wait_times_out);
    tcase_add_test(tc, wait_takes_a_pending_wakeup_at_once);
    tcase_add_test(tc, wait_woken_by_another_process);
    tcase_add_test(tc, each_wakeup_releases_one_waiter);
    tcase_add_test(tc, wait_interrupted_by_signal);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
