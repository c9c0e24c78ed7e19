/* test_timer.c: the timer heap: order, re-arming, clearing, callbacks. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "event/timer.h"

/* What the callbacks saw, in order. */
enum { LOG_MAX = 200000 };
static int64_t fired_id[LOG_MAX];
static int64_t fired_due[LOG_MAX];
static int nfired;
static int64_t clock_ms; /* the now_ms of the pass in progress */
static timer_heap_t th;

static void record_cb(int64_t id, void *arg)
{
    ck_assert_int_lt(nfired, LOG_MAX);
    fired_id[nfired] = id;
    fired_due[nfired] = (int64_t)(intptr_t)arg;
    nfired++;
}

static void setup(void)
{
    timer_init(&th);
    nfired = 0;
    clock_ms = 0;
}

static void teardown(void)
{
    timer_free(&th);
}

static int run(int64_t now)
{
    clock_ms = now;
    return timer_run_due(&th, now);
}

static int64_t add_at(int64_t now, int64_t after, int64_t interval)
{
    int64_t id = timer_add(&th, now, after, interval, record_cb,
                           (void *)(intptr_t)(now + after));
    ck_assert_int_gt(id, 0);
    return id;
}

START_TEST(empty_heap)
{
    ck_assert_int_eq(timer_next_timeout(&th, 0), -1);
    ck_assert_int_eq(run(1000), 0);
    ck_assert_int_eq(timer_clear(&th, 1), -ENOENT);
    ck_assert_int_eq(timer_clear(&th, 0), -ENOENT);
    ck_assert_int_eq(timer_clear(&th, -5), -ENOENT);
    ck_assert_int_eq(timer_exists(&th, 1), 0);
    ck_assert_uint_eq(timer_count(&th), 0);
    ck_assert_uint_eq(timer_memory(&th), 0);
}
END_TEST

START_TEST(bad_arguments)
{
    ck_assert_int_eq(timer_add(&th, 0, 10, 0, NULL, NULL), -EINVAL);
    ck_assert_int_eq(timer_add(&th, 0, -1, 0, record_cb, NULL), -EINVAL);
    ck_assert_int_eq(timer_add(&th, 0, 1, -1, record_cb, NULL), -EINVAL);
    ck_assert_uint_eq(timer_count(&th), 0);
}
END_TEST

START_TEST(ids_count_up_and_are_not_reused)
{
    int64_t a = add_at(0, 5, 0);
    int64_t b = add_at(0, 5, 0);
    ck_assert_int_eq(a, 1);
    ck_assert_int_eq(b, 2);
    ck_assert_int_eq(timer_clear(&th, b), 0);
    ck_assert_int_eq(add_at(0, 5, 0), 3);
    ck_assert_int_eq(run(5), 2);
    ck_assert_int_eq(timer_exists(&th, a), 0);
    ck_assert_int_eq(timer_clear(&th, a), -ENOENT);
    ck_assert_int_eq(add_at(5, 5, 0), 4);
}
END_TEST

START_TEST(next_timeout_values)
{
    add_at(100, 250, 0);
    ck_assert_int_eq(timer_next_timeout(&th, 100), 250);
    ck_assert_int_eq(timer_next_timeout(&th, 349), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 350), 0);
    ck_assert_int_eq(timer_next_timeout(&th, 10000), 0);
    add_at(100, 10, 0);
    ck_assert_int_eq(timer_next_timeout(&th, 100), 10);
    ck_assert_int_eq(run(110), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 110), 240);
    ck_assert_int_eq(run(350), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 350), -1);
    /* Far away or past INT64_MAX: clamped, not wrapped. */
    add_at(0, (int64_t)INT_MAX * 4, 0);
    ck_assert_int_eq(timer_next_timeout(&th, 0), INT_MAX);
    int64_t id = timer_add(&th, INT64_MAX - 5, 100, 0, record_cb, NULL);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(timer_next_timeout(&th, INT64_MIN), INT_MAX);
}
END_TEST

/* 10 000 timers at random times, many sharing a millisecond: each runs
 * once, no earlier than due, in (due, id) order. */
START_TEST(random_timers_run_in_order)
{
    enum { N = 10000 };
    srand(42);
    for (int i = 0; i < N; i++)
        add_at(0, rand() % 5000, 0);
    ck_assert_uint_eq(timer_count(&th), N);
    int total = 0;
    for (int64_t now = 0; now <= 5000; now += 1 + rand() % 37) {
        int before = nfired;
        ck_assert_int_eq(run(now), nfired - before);
        for (int k = before; k < nfired; k++)
            ck_assert_int_le(fired_due[k], now);
        total = nfired;
        int next = timer_next_timeout(&th, now);
        if (timer_count(&th) > 0)
            ck_assert_int_gt(next, 0);
    }
    total += run(5000);
    ck_assert_int_eq(total, N);
    ck_assert_uint_eq(timer_count(&th), 0);
    for (int k = 1; k < N; k++) {
        int ordered = fired_due[k - 1] < fired_due[k] ||
                      (fired_due[k - 1] == fired_due[k] &&
                       fired_id[k - 1] < fired_id[k]);
        ck_assert_msg(ordered, "timer %d out of order", k);
    }
}
END_TEST

START_TEST(ties_run_in_insertion_order)
{
    int64_t ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = add_at(i * 10, 100 - i * 10, 0); /* all due at 100 */
    ck_assert_int_eq(run(100), 8);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(fired_id[i], ids[i]);
}
END_TEST

START_TEST(tick_rearms_from_its_due_time)
{
    int64_t id = add_at(0, 100, 100);
    ck_assert_int_eq(run(99), 0);
    ck_assert_int_eq(run(100), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 100), 100);
    /* 30 ms late: the next one is still due at 300, not 330. */
    ck_assert_int_eq(run(230), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 230), 70);
    ck_assert_int_eq(run(300), 1);
    ck_assert_int_eq(timer_exists(&th, id), 1);
    ck_assert_uint_eq(timer_count(&th), 1);
    ck_assert_int_eq(nfired, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fired_id[i], id);
}
END_TEST

START_TEST(late_tick_skips_instead_of_bursting)
{
    add_at(0, 100, 100);
    /* Ten intervals late: one run, then due a full interval from now. */
    ck_assert_int_eq(run(1050), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 1050), 100);
    ck_assert_int_eq(run(1149), 0);
    ck_assert_int_eq(run(1150), 1);
    /* Late by exactly one interval: 1250 + 100 = 1350 is due at 1350. */
    ck_assert_int_eq(run(1350), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 1350), 100);
}
END_TEST

START_TEST(clear_before_due)
{
    int64_t a = add_at(0, 10, 0);
    int64_t b = add_at(0, 20, 0);
    int64_t c = add_at(0, 20, 5);
    ck_assert_int_eq(timer_clear(&th, b), 0);
    ck_assert_int_eq(timer_clear(&th, b), -ENOENT);
    ck_assert_int_eq(timer_clear(&th, c), 0);
    ck_assert_int_eq(run(100), 1);
    ck_assert_int_eq(fired_id[0], a);
    ck_assert_int_eq(timer_next_timeout(&th, 100), -1);
}
END_TEST

static int self_clear_after;

static void self_clearing_cb(int64_t id, void *arg)
{
    (void)arg;
    record_cb(id, NULL);
    if (nfired == self_clear_after) {
        ck_assert_int_eq(timer_exists(&th, id), 1);
        ck_assert_int_eq(timer_clear(&th, id), 0);
        ck_assert_int_eq(timer_exists(&th, id), 0);
        ck_assert_int_eq(timer_clear(&th, id), -ENOENT);
    }
}

START_TEST(tick_clears_itself)
{
    self_clear_after = 3;
    int64_t id = timer_add(&th, 0, 10, 10, self_clearing_cb, NULL);
    for (int64_t now = 10; now <= 100; now += 10)
        run(now);
    ck_assert_int_eq(nfired, 3);
    ck_assert_int_eq(timer_exists(&th, id), 0);
    ck_assert_uint_eq(timer_count(&th), 0);
    ck_assert_int_eq(timer_next_timeout(&th, 100), -1);
}
END_TEST

START_TEST(once_timer_clears_itself)
{
    self_clear_after = 1;
    int64_t id = timer_add(&th, 0, 10, 0, self_clearing_cb, NULL);
    add_at(0, 10, 0);
    ck_assert_int_eq(run(10), 2);
    ck_assert_int_eq(fired_id[0], id);
    ck_assert_uint_eq(timer_count(&th), 0);
}
END_TEST

static int64_t victim;

static void clear_victim_cb(int64_t id, void *arg)
{
    record_cb(id, arg);
    ck_assert_int_eq(timer_clear(&th, victim), 0);
}

START_TEST(clear_another_due_timer)
{
    /* Both due at 10; the first clears the second, which must not run. */
    int64_t killer = timer_add(&th, 0, 10, 0, clear_victim_cb, NULL);
    victim = add_at(0, 10, 0);
    int64_t other = add_at(0, 10, 0);
    ck_assert_int_eq(run(50), 2);
    ck_assert_int_eq(fired_id[0], killer);
    ck_assert_int_eq(fired_id[1], other);
    ck_assert_uint_eq(timer_count(&th), 0);
}
END_TEST

START_TEST(clear_a_due_tick_from_another_callback)
{
    int64_t killer = timer_add(&th, 0, 10, 0, clear_victim_cb, NULL);
    victim = add_at(0, 10, 3);
    ck_assert_int_eq(run(10), 1);
    ck_assert_int_eq(fired_id[0], killer);
    ck_assert_int_eq(run(1000), 0);
}
END_TEST

static int64_t added_id;
static int64_t add_now_offset;

static void adding_cb(int64_t id, void *arg)
{
    record_cb(id, arg);
    added_id = timer_add(&th, clock_ms + add_now_offset, 0, 0, record_cb,
                         NULL);
    ck_assert_int_gt(added_id, id);
}

START_TEST(timer_added_by_callback_runs_next_pass)
{
    add_now_offset = _i == 0 ? 0 : -1000; /* also with a stale now */
    int64_t id = timer_add(&th, 0, 10, 0, adding_cb, NULL);
    int64_t later = add_at(0, 10, 0);
    ck_assert_int_eq(run(10), 2);
    ck_assert_int_eq(fired_id[0], id);
    ck_assert_int_eq(fired_id[1], later);
    ck_assert_int_eq(timer_exists(&th, added_id), 1);
    ck_assert_int_eq(timer_next_timeout(&th, 10), 0);
    ck_assert_int_eq(run(10), 1);
    ck_assert_int_eq(fired_id[2], added_id);
    ck_assert_uint_eq(timer_count(&th), 0);
}
END_TEST

static void tick_adding_cb(int64_t id, void *arg)
{
    record_cb(id, arg);
    ck_assert_int_gt(timer_add(&th, clock_ms, 0, 0, record_cb, NULL), 0);
}

START_TEST(tick_adding_zero_timers_terminates)
{
    timer_add(&th, 0, 0, 1, tick_adding_cb, NULL);
    ck_assert_int_eq(run(0), 1);
    ck_assert_int_eq(run(0), 1); /* the added one; the tick is due at 1 */
    ck_assert_int_eq(run(1), 1);
    ck_assert_uint_eq(timer_count(&th), 2);
}
END_TEST

static void reentering_cb(int64_t id, void *arg)
{
    record_cb(id, arg);
    ck_assert_int_eq(timer_run_due(&th, clock_ms), -EBUSY);
}

START_TEST(run_due_is_not_reentrant)
{
    timer_add(&th, 0, 0, 0, reentering_cb, NULL);
    ck_assert_int_eq(run(0), 1);
}
END_TEST

/* 100 000 live timers: every clear finds its timer, nothing cleared runs,
 * and the memory stays near 64 bytes a timer. */
START_TEST(churn_of_100000_timers)
{
    enum { N = 100000, MAX_ID = 4 * N };
    static int64_t ids[N];
    static char cleared[MAX_ID];
    srand(7);
    for (int i = 0; i < N; i++)
        ids[i] = add_at(0, 1000 + rand() % 100000, i % 10 == 0 ? 500 : 0);
    ck_assert_uint_eq(timer_count(&th), N);
    ck_assert_uint_lt(timer_memory(&th), (size_t)N * 64);
    for (int round = 0; round < 5; round++) {
        for (int i = round; i < N; i += 2) {
            ck_assert_int_eq(timer_clear(&th, ids[i]), 0);
            cleared[ids[i]] = 1;
            ids[i] = add_at(0, 1000 + rand() % 100000, 0);
        }
    }
    ck_assert_uint_eq(timer_count(&th), N);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(timer_exists(&th, ids[i]), 1);
    for (int i = 0; i < N; i += 3) {
        ck_assert_int_eq(timer_clear(&th, ids[i]), 0);
        cleared[ids[i]] = 1;
    }
    int left = N - (N + 2) / 3;
    ck_assert_uint_eq(timer_count(&th), left);
    ck_assert_int_eq(run(200000), left);
    for (int k = 0; k < nfired; k++) {
        ck_assert_int_lt(fired_id[k], MAX_ID);
        ck_assert(!cleared[fired_id[k]]);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(timer_clear(&th, ids[i]), -ENOENT);
    ck_assert_uint_eq(timer_count(&th), 0);
    /* Memory went back down with the count. */
    ck_assert_uint_lt(timer_memory(&th), 4096);
}
END_TEST

/* Interleaved adds, clears and runs against a simple model. */
START_TEST(matches_a_model)
{
    enum { N = 3000 };
    static char live[N + 1];
    int64_t now = 0;
    srand(11);
    for (int step = 0; step < 20000; step++) {
        int op = rand() % 4;
        if (op < 2) {
            int64_t id = add_at(now, rand() % 50, 0);
            if (id > N) {
                ck_assert_int_eq(timer_clear(&th, id), 0);
                break;
            }
            live[id] = 1;
        } else if (op == 2) {
            int64_t id = 1 + rand() % N;
            int rc = timer_clear(&th, id);
            ck_assert_int_eq(rc, live[id] ? 0 : -ENOENT);
            live[id] = 0;
        } else {
            now += rand() % 20;
            int before = nfired;
            run(now);
            for (int k = before; k < nfired; k++) {
                ck_assert(live[fired_id[k]]);
                ck_assert_int_le(fired_due[k], now);
                live[fired_id[k]] = 0;
            }
        }
    }
    uint32_t n = 0;
    for (int i = 1; i <= N; i++) {
        ck_assert_int_eq(timer_exists(&th, i), live[i]);
        n += live[i];
    }
    ck_assert_uint_eq(timer_count(&th), n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("heap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, empty_heap);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, ids_count_up_and_are_not_reused);
    tcase_add_test(tc, next_timeout_values);
    tcase_add_test(tc, random_timers_run_in_order);
    tcase_add_test(tc, ties_run_in_insertion_order);
    tcase_add_test(tc, tick_rearms_from_its_due_time);
    tcase_add_test(tc, late_tick_skips_instead_of_bursting);
    tcase_add_test(tc, clear_before_due);
    tcase_add_test(tc, tick_clears_itself);
    tcase_add_test(tc, once_timer_clears_itself);
    tcase_add_test(tc, clear_another_due_timer);
    tcase_add_test(tc, clear_a_due_tick_from_another_callback);
    tcase_add_loop_test(tc, timer_added_by_callback_runs_next_pass, 0, 2);
    tcase_add_test(tc, tick_adding_zero_timers_terminates);
    tcase_add_test(tc, run_due_is_not_reentrant);
    tcase_add_test(tc, churn_of_100000_timers);
    tcase_add_test(tc, matches_a_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
