/* test_coro.c: the coroutine runtime on a real loop: the context switch,
 * the scheduler (go, yield, resume, defer, locals, limits, cancellation),
 * sleeps and their timeouts, fd waits, channels and wait groups. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro/chan.h"
#include "coro/coro.h"
#include "coro/wait.h"
#include "event/loop.h"

static loop_t *loop;
enum { SEEN_MAX = 4096 };
static intptr_t seen[SEEN_MAX];
static int nseen;
static int local_var;

static void note(intptr_t what)
{
    ck_assert_int_lt(nseen, SEEN_MAX);
    seen[nseen++] = what;
}

static void setup(void)
{
    loop = loop_create();
    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(coro_init(loop, 64 * 1024, 1000, 1), 0);
    coro_wait_init(loop);
    ck_assert_int_eq(coro_local(&local_var, sizeof(local_var)), 0);
    nseen = 0;
}

static void teardown(void)
{
    coro_cancel_all(loop_now() + 1000);
    coro_wait_free();
    coro_free();
    loop_free(loop);
}

/* Run the loop until no coroutine lives, up to ms. */
static void run_until_done(int ms)
{
    int64_t end = loop_now() + ms;
    coro_stats_t st;
    for (coro_get_stats(&st); st.live > 0 && loop_now() < end;
         coro_get_stats(&st))
        loop_run_once(loop, 10);
    ck_assert_int_eq(st.live, 0);
}

/* ---- the switch and the scheduler ---- */

static void add_one(void *arg)
{
    note((intptr_t)arg);
    /* callee-saved registers and the FPU survive a switch */
    volatile double d = 1.5 * (double)(intptr_t)arg;
    coro_yield();
    note((intptr_t)(d * 2));
}

START_TEST(go_runs_at_once_and_yield_resume)
{
    int64_t id = coro_go(add_one, (void *)(intptr_t)7);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(nseen, 1);
    ck_assert_int_eq(seen[0], 7);
    ck_assert_int_eq(coro_resume(id), 0);
    ck_assert_int_eq(nseen, 2);
    ck_assert_int_eq(seen[1], 21);
    ck_assert_int_eq(coro_resume(id), -ENOENT); /* it ended */
    ck_assert_ptr_null(coro_self());
    ck_assert_int_eq(coro_yield(), -EPERM);
}
END_TEST

static void deferred(void *arg)
{
    note((intptr_t)arg);
}

static void with_defers(void *arg)
{
    (void)arg;
    coro_defer(deferred, (void *)1);
    coro_defer(deferred, (void *)2);
    coro_defer(deferred, (void *)3);
    note(0);
}

START_TEST(defers_run_last_first)
{
    ck_assert_int_gt(coro_go(with_defers, NULL), 0);
    ck_assert_int_eq(nseen, 4);
    ck_assert_int_eq(seen[0], 0);
    ck_assert_int_eq(seen[1], 3);
    ck_assert_int_eq(seen[3], 1);
    ck_assert_int_eq(coro_defer(deferred, NULL), -EPERM);
}
END_TEST

static void sees_local(void *arg)
{
    note(local_var);
    local_var = (int)(intptr_t)arg;
    coro_yield();
    note(local_var);
}

START_TEST(locals_are_per_coroutine)
{
    local_var = 5;
    int64_t a = coro_go(sees_local, (void *)10);
    int64_t b = coro_go(sees_local, (void *)20);
    ck_assert_int_eq(local_var, 5);
    coro_resume(a);
    coro_resume(b);
    ck_assert_int_eq(nseen, 4);
    ck_assert_int_eq(seen[0], 5); /* inherited */
    ck_assert_int_eq(seen[2], 10);
    ck_assert_int_eq(seen[3], 20);
    ck_assert_int_eq(local_var, 5);
}
END_TEST

static void parks_forever(void *arg)
{
    note(coro_park(-1));
    note(coro_sleep((long)(intptr_t)arg)); /* after cancel: at once */
}

START_TEST(limit_refuses_and_counts)
{
    coro_stats_t st;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_gt(coro_go(parks_forever, (void *)10), 0);
    ck_assert_int_eq(coro_go(parks_forever, NULL), -EAGAIN);
    coro_get_stats(&st);
    ck_assert_int_eq(st.live, 1000);
    ck_assert_int_eq(st.peak, 1000);
    ck_assert_int_eq(st.refused, 1);
    ck_assert_int_eq(coro_cancel_all(loop_now() + 5000), 0);
    ck_assert_int_eq(nseen, 2000);
    for (int i = 0; i < 2000; i++)
        ck_assert_int_eq(seen[i], -ECANCELED);
    coro_get_stats(&st);
    ck_assert_int_eq(st.live, 0);
    ck_assert_int_eq(st.pooled, 64);
}
END_TEST

static void nested(void *arg)
{
    intptr_t depth = (intptr_t)arg;
    if (depth < 50)
        ck_assert_int_gt(coro_go(nested, (void *)(depth + 1)), 0);
    note(depth);
}

START_TEST(go_from_a_coroutine_nests)
{
    coro_go(nested, (void *)0);
    ck_assert_int_eq(nseen, 51);
    ck_assert_int_eq(seen[0], 50);
    ck_assert_int_eq(seen[50], 0);
}
END_TEST

static void cb_body(void *arg)
{
    note(coro_self() != NULL);
    if (arg != NULL)
        note(coro_sleep(1));
}

START_TEST(callbacks_run_in_coroutines)
{
    ck_assert_ptr_null(coro_callback(cb_body, NULL));
    ck_assert_ptr_nonnull(coro_callback(cb_body, (void *)1));
    ck_assert_int_eq(seen[0], 1);
    run_until_done(1000);
    ck_assert_int_eq(seen[3], 0);
}
END_TEST

/* ---- time ---- */

/* Notes its due time when it wakes, not before it. */
static void sleeper(void *arg)
{
    int64_t due = loop_now() + (intptr_t)arg;
    ck_assert_int_eq(coro_sleep((long)(intptr_t)arg), 0);
    ck_assert_int_ge(loop_now(), due);
    note((intptr_t)due);
}

START_TEST(sleeps_wake_in_order)
{
    static const int ms[] = {30, 5, 20, 0, 10, 25, 15};
    int64_t start = loop_now();
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        coro_go(sleeper, (void *)(intptr_t)ms[i]);
    run_until_done(2000);
    ck_assert_int_eq(nseen, 7);
    for (int i = 1; i < nseen; i++)
        ck_assert_int_le(seen[i - 1], seen[i]);
    ck_assert_int_ge(loop_now() - start, 30);
    ck_assert_int_ge(seen[nseen - 1] - start, 30);
    ck_assert_int_eq(coro_sleep(1), -EPERM);
}
END_TEST

static void park_timeout(void *arg)
{
    (void)arg;
    int64_t t = loop_now();
    note(coro_park(20));
    note(loop_now() - t >= 20);
}

START_TEST(park_times_out)
{
    coro_go(park_timeout, NULL);
    run_until_done(1000);
    ck_assert_int_eq(seen[0], -ETIMEDOUT);
    ck_assert_int_eq(seen[1], 1);
}
END_TEST

/* ---- fds ---- */

static int sv[2];

static void reader(void *arg)
{
    note(coro_wait_fd(sv[0], LOOP_READ, (long)(intptr_t)arg));
}

START_TEST(wait_fd_readable_and_timeout)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    coro_go(reader, (void *)1000);
    ck_assert_int_gt(coro_go(reader, (void *)1000), 0);
    ck_assert_int_eq(nseen, 1);
    ck_assert_int_eq(seen[0], -EBUSY); /* a second reader of one fd */
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    run_until_done(1000);
    ck_assert_int_eq(seen[1], LOOP_READ);
    char c;
    ck_assert_int_eq(read(sv[0], &c, 1), 1);
    coro_go(reader, (void *)10);
    run_until_done(1000);
    ck_assert_int_eq(seen[2], -ETIMEDOUT);
    ck_assert_int_eq(loop_events(loop, sv[0]), -1); /* unregistered */
    ck_assert_int_eq(coro_wait_fd(sv[0], LOOP_READ, 0), -EPERM);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* ---- channels and wait groups ---- */

static coro_chan_t *ch;
static coro_wg_t *wg;

static void consumer(void *arg)
{
    void *item;
    int rc;
    while ((rc = coro_chan_pop(ch, &item, -1)) == 0) {
        note((intptr_t)item);
        coro_sleep(1);
    }
    ck_assert_int_eq(rc, -EPIPE);
    (void)arg;
    coro_wg_add(wg, -1);
}

/* The producer: two consumers, 20 items through a channel of 4, close
 * (the consumers drain what is left), wait for both. */
static void producer(void *arg)
{
    (void)arg;
    coro_wg_add(wg, 2);
    coro_go(consumer, NULL);
    coro_go(consumer, NULL);
    for (intptr_t i = 1; i <= 20; i++)
        ck_assert_int_eq(coro_chan_push(ch, (void *)i, -1), 0);
    coro_chan_close(ch);
    ck_assert_int_eq(coro_wg_wait(wg, 1000), 0);
    note(-1);
}

START_TEST(channel_producer_consumers)
{
    ch = coro_chan_new(4);
    wg = coro_wg_new();
    coro_go(producer, NULL);
    run_until_done(3000);
    ck_assert_int_eq(nseen, 21);
    long sum = 0;
    for (int i = 0; i < 20; i++)
        sum += seen[i];
    ck_assert_int_eq(sum, 210);
    ck_assert_int_eq(seen[20], -1);
    ck_assert_int_eq(coro_chan_free(ch), 0);
    ck_assert_int_eq(coro_wg_free(wg), 0);
}
END_TEST

static void pop_timeout(void *arg)
{
    void *item;
    note(coro_chan_pop(arg, &item, 10));
}

START_TEST(channel_edges)
{
    coro_chan_t *c = coro_chan_new(1);
    void *item;
    ck_assert_ptr_null(coro_chan_new(0));
    ck_assert_int_eq(coro_chan_pop(c, &item, 0), -EPERM); /* empty, outside */
    ck_assert_int_eq(coro_chan_push(c, (void *)1, 0), 0);
    ck_assert_int_eq(coro_chan_push(c, (void *)2, 0), -EPERM); /* full */
    ck_assert_int_eq(coro_chan_pop(c, &item, 0), 0);
    ck_assert_ptr_eq(item, (void *)1);
    coro_go(pop_timeout, c);
    ck_assert_int_eq(coro_chan_free(c), -EBUSY);
    run_until_done(1000);
    ck_assert_int_eq(seen[0], -ETIMEDOUT);
    ck_assert_int_eq(coro_chan_push(c, (void *)3, 0), 0);
    ck_assert_int_eq(coro_chan_close(c), 0);
    ck_assert_int_eq(coro_chan_close(c), -EPIPE);
    ck_assert_int_eq(coro_chan_push(c, (void *)4, 0), -EPIPE);
    ck_assert_int_eq(coro_chan_pop(c, &item, 0), 0); /* drained after close */
    ck_assert_ptr_eq(item, (void *)3);
    ck_assert_int_eq(coro_chan_pop(c, &item, 0), -EPIPE);
    ck_assert_int_eq(coro_chan_free(c), 0);
}
END_TEST

static void wg_waiter_frees(void *arg)
{
    coro_wg_t *g = arg;
    note(coro_wg_wait(g, 1000));
    if (nseen == 1) /* the first woken frees it; the second must not read it */
        ck_assert_int_eq(coro_wg_free(g), 0);
}

START_TEST(woken_waiter_frees_the_wait_group)
{
    coro_wg_t *g = coro_wg_new();
    coro_wg_add(g, 1);
    coro_go(wg_waiter_frees, g);
    coro_go(wg_waiter_frees, g);
    coro_wg_add(g, -1);
    ck_assert_int_eq(nseen, 2);
    ck_assert_int_eq(seen[0], 0);
    ck_assert_int_eq(seen[1], 0);
}
END_TEST

static void closed_pop(void *arg)
{
    void *item;
    note(coro_chan_pop(arg, &item, -1));
}

START_TEST(woken_on_close_may_free_the_channel)
{
    coro_chan_t *c = coro_chan_new(1);
    coro_go(closed_pop, c);
    ck_assert_int_eq(coro_chan_close(c), 0);
    ck_assert_int_eq(seen[0], -EPIPE);
    ck_assert_int_eq(coro_chan_free(c), 0);
}
END_TEST

START_TEST(wait_group_edges)
{
    coro_wg_t *g = coro_wg_new();
    ck_assert_int_eq(coro_wg_wait(g, 0), 0); /* already 0 */
    ck_assert_int_eq(coro_wg_add(g, -1), -EINVAL);
    ck_assert_int_eq(coro_wg_add(g, 2), 0);
    ck_assert_int_eq(coro_wg_wait(g, 0), -EPERM);
    ck_assert_int_eq(coro_wg_count(g), 2);
    ck_assert_int_eq(coro_wg_free(g), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coro");
    TCase *tc = tcase_create("coro");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, go_runs_at_once_and_yield_resume);
    tcase_add_test(tc, defers_run_last_first);
    tcase_add_test(tc, locals_are_per_coroutine);
    tcase_add_test(tc, limit_refuses_and_counts);
    tcase_add_test(tc, go_from_a_coroutine_nests);
    tcase_add_test(tc, callbacks_run_in_coroutines);
    tcase_add_test(tc, sleeps_wake_in_order);
    tcase_add_test(tc, park_times_out);
    tcase_add_test(tc, wait_fd_readable_and_timeout);
    tcase_add_test(tc, channel_producer_consumers);
    tcase_add_test(tc, channel_edges);
    tcase_add_test(tc, wait_group_edges);
    tcase_add_test(tc, woken_waiter_frees_the_wait_group);
    tcase_add_test(tc, woken_on_close_may_free_the_channel);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
