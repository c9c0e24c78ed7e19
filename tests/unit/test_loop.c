/* test_loop.c: the event loop: timers, deferred calls, fd handlers and the
 * reuse of fd numbers, loop_mod and loop_del, how long it waits. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/loop.h"

static loop_t *loop;

/* What the callbacks saw, in order. */
enum { SEEN_MAX = 64 };
static intptr_t seen[SEEN_MAX];
static int64_t seen_at[SEEN_MAX];
static int nseen;

static void note(intptr_t what)
{
    ck_assert_int_lt(nseen, SEEN_MAX);
    seen_at[nseen] = loop_now();
    seen[nseen++] = what;
}

static void setup(void)
{
    loop = loop_create();
    ck_assert_ptr_nonnull(loop);
    nseen = 0;
}

static void teardown(void)
{
    loop_free(loop);
}

/* A timer due after ms from now (the loop's clock when 0). */
static int64_t add_timer_from(int64_t now, int64_t after, int64_t interval,
                              timer_cb *cb, intptr_t arg)
{
    int64_t id = timer_add(loop_timers(loop), now ? now : loop_now(), after,
                           interval, cb, (void *)arg);
    ck_assert_int_gt(id, 0);
    return id;
}

static int64_t add_timer(int64_t after, int64_t interval, timer_cb *cb,
                         intptr_t arg)
{
    return add_timer_from(0, after, interval, cb, arg);
}

/* Run passes until n callbacks were seen, for at most 5 s. */
static void run_until(int n)
{
    int64_t give_up = loop_now() + 5000;
    while (nseen < n && loop_now() < give_up)
        ck_assert_int_ge(loop_run_once(loop, 100), 0);
    ck_assert_int_ge(nseen, n);
}

static void pipe_nb(int fds[2])
{
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void put(int fd)
{
    ck_assert_int_eq(write(fd, "x", 1), 1);
}

/* ---- timers ---- */

static void note_cb(int64_t id, void *arg)
{
    (void)id;
    note((intptr_t)arg);
}

START_TEST(timers_fire_in_order_and_never_early)
{
    /* One "now" for all, so that a busy machine pausing this process
     * between two adds cannot reorder their due times. */
    int64_t start = loop_now();
    add_timer_from(start, 30, 0, note_cb, 30);
    add_timer_from(start, 10, 0, note_cb, 10);
    add_timer_from(start, 20, 0, note_cb, 20);
    add_timer_from(start, 20, 0, note_cb, 21); /* same due: added later,
                                                  runs later */
    add_timer_from(start, 0, 0, note_cb, 0);
    run_until(5);
    const intptr_t order[] = {0, 10, 20, 21, 30};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(seen[i], order[i]);
        /* On the loop's clock, none runs before its time. */
        ck_assert_int_ge(seen_at[i] - start, order[i] == 21 ? 20 : order[i]);
    }
    ck_assert_uint_eq(timer_count(loop_timers(loop)), 0);
}
END_TEST

static int64_t victim, child_id;

static void adds_and_clears_cb(int64_t id, void *arg)
{
    (void)arg;
    note(1);
    ck_assert_int_eq(timer_clear(loop_timers(loop), victim), 0);
    child_id = add_timer(0, 0, note_cb, 3);
    /* A timer cleared while another runs is gone at once. */
    ck_assert_int_eq(timer_exists(loop_timers(loop), victim), 0);
    ck_assert_int_eq(timer_exists(loop_timers(loop), id), 1);
}

START_TEST(timer_added_and_cleared_from_a_callback)
{
    add_timer(5, 0, adds_and_clears_cb, 0);
    victim = add_timer(5, 0, note_cb, 2); /* due with the first: cleared */
    run_until(1);
    ck_assert_int_eq(nseen, 1);
    /* The timer added by the callback waits for the next pass. */
    ck_assert_int_eq(timer_exists(loop_timers(loop), child_id), 1);
    ck_assert_int_ge(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(nseen, 2);
    ck_assert_int_eq(seen[1], 3);
    ck_assert_uint_eq(timer_count(loop_timers(loop)), 0);
}
END_TEST

static void tick_thrice_cb(int64_t id, void *arg)
{
    (void)arg;
    note(id);
    if (nseen == 3)
        ck_assert_int_eq(timer_clear(loop_timers(loop), id), 0);
}

START_TEST(repeating_timer_clears_itself)
{
    int64_t start = loop_now();
    add_timer(5, 5, tick_thrice_cb, 0);
    run_until(3);
    for (int i = 0; i < 10; i++)
        ck_assert_int_ge(loop_run_once(loop, 10), 0);
    ck_assert_int_eq(nseen, 3);
    ck_assert_int_ge(seen_at[2] - start, 15);
    ck_assert_uint_eq(timer_count(loop_timers(loop)), 0);
}
END_TEST

START_TEST(waits_no_longer_than_the_next_timer)
{
    int64_t start = loop_now();
    add_timer(50, 0, note_cb, 50);
    /* Asked to wait up to 10 s, it wakes for the timer, once. */
    ck_assert_int_ge(loop_run_once(loop, 10000), 0);
    int64_t took = loop_now() - start;
    ck_assert_int_eq(nseen, 1);
    ck_assert_int_ge(took, 50);
    ck_assert_int_lt(took, 2000);
    /* With no timer left, the timeout given is the wait. */
    start = loop_now();
    ck_assert_int_eq(loop_run_once(loop, 30), 0);
    ck_assert_int_ge(loop_now() - start, 30);
}
END_TEST

START_TEST(a_shorter_timeout_wins_over_a_later_timer)
{
    add_timer(10000, 0, note_cb, 1);
    int64_t start = loop_now();
    ck_assert_int_eq(loop_run_once(loop, 20), 0);
    ck_assert_int_lt(loop_now() - start, 2000);
    ck_assert_int_eq(nseen, 0);
}
END_TEST

/* ---- deferred calls ---- */

static void defer_note_cb(void *arg)
{
    note((intptr_t)arg);
}

static void defer_again_cb(void *arg)
{
    note((intptr_t)arg);
    ck_assert_int_eq(loop_defer(loop, defer_note_cb, (void *)(intptr_t)9), 0);
}

static void io_note_cb(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)events;
    char b[16];
    while (read(fd, b, sizeof(b)) > 0)
        ;
    note((intptr_t)arg);
}

START_TEST(defer_runs_once_at_the_end_of_a_pass)
{
    int p[2];
    pipe_nb(p);
    ck_assert_int_eq(loop_add(loop, p[0], LOOP_READ, io_note_cb,
                              (void *)(intptr_t)1), 0);
    ck_assert_int_eq(loop_defer(loop, defer_note_cb, (void *)(intptr_t)2), 0);
    ck_assert_int_eq(loop_defer(loop, defer_again_cb, (void *)(intptr_t)3), 0);
    add_timer(0, 0, note_cb, 4);
    put(p[1]);
    /* A pending deferred call makes the pass not wait. */
    int64_t start = loop_now();
    ck_assert_int_eq(loop_run_once(loop, 10000), 1);
    ck_assert_int_lt(loop_now() - start, 2000);
    /* I/O, then timers, then the deferred calls in the order asked. */
    ck_assert_int_eq(nseen, 4);
    const intptr_t order[] = {1, 4, 2, 3};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(seen[i], order[i]);
    /* One deferred while deferred calls ran waits for the next pass. */
    ck_assert_int_eq(loop_run_once(loop, 10000), 0);
    ck_assert_int_eq(nseen, 5);
    ck_assert_int_eq(seen[4], 9);
    /* And each ran once. */
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(nseen, 5);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* ---- fd handlers ---- */

/* Two pipes ready in one batch: whichever handler runs first closes the
 * other's read end and opens a new pipe that gets its number. */
static int pa[2], pb[2], pc[2];
static int replaced;

static void stale_cb(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    (void)arg;
    note(100); /* the new pipe was never written: no event is its own */
}

static void replace_other_cb(loop_t *l, int fd, int events, void *arg)
{
    (void)events;
    (void)arg;
    char b[16];
    while (read(fd, b, sizeof(b)) > 0)
        ;
    note(fd);
    if (replaced)
        return;
    replaced = 1;
    int other = fd == pa[0] ? pb[0] : pa[0];
    ck_assert_int_eq(loop_del(l, other), 0);
    ck_assert_int_eq(close(other), 0);
    pipe_nb(pc);
    ck_assert_int_eq(pc[0], other);
    ck_assert_int_eq(loop_add(l, pc[0], LOOP_READ, stale_cb, NULL), 0);
}

START_TEST(reused_fd_gets_no_event_of_the_closed_one)
{
    pipe_nb(pa);
    pipe_nb(pb);
    replaced = 0;
    ck_assert_int_eq(loop_add(loop, pa[0], LOOP_READ, replace_other_cb, NULL),
                     0);
    ck_assert_int_eq(loop_add(loop, pb[0], LOOP_READ, replace_other_cb, NULL),
                     0);
    put(pa[1]);
    put(pb[1]);
    ck_assert_int_eq(loop_run_once(loop, 1000), 2);
    ck_assert_int_eq(replaced, 1);
    ck_assert_int_eq(nseen, 1);
    /* The new pipe works as any other. */
    put(pc[1]);
    ck_assert_int_eq(loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(nseen, 2);
    ck_assert_int_eq(seen[1], 100);
}
END_TEST

static void del_other_cb(loop_t *l, int fd, int events, void *arg)
{
    (void)events;
    (void)arg;
    note(fd);
    int other = fd == pa[0] ? pb[0] : pa[0];
    if (loop_events(l, other) >= 0)
        ck_assert_int_eq(loop_del(l, other), 0);
}

START_TEST(removed_fd_gets_no_event_of_the_batch)
{
    pipe_nb(pa);
    pipe_nb(pb);
    ck_assert_int_eq(loop_add(loop, pa[0], LOOP_READ, del_other_cb, NULL), 0);
    ck_assert_int_eq(loop_add(loop, pb[0], LOOP_READ, del_other_cb, NULL), 0);
    put(pa[1]);
    put(pb[1]);
    ck_assert_int_eq(loop_run_once(loop, 1000), 2);
    ck_assert_int_eq(nseen, 1);
}
END_TEST

static int last_events;

static void events_cb(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)fd;
    (void)arg;
    last_events = events;
    note(events);
}

START_TEST(mod_and_del)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    ck_assert_int_eq(loop_events(loop, sv[0]), -1);
    ck_assert_int_eq(loop_events(loop, -1), -1);
    ck_assert_int_eq(loop_mod(loop, sv[0], LOOP_READ), -ENOENT);
    ck_assert_int_eq(loop_del(loop, sv[0]), -ENOENT);
    ck_assert_int_lt(loop_add(loop, -1, LOOP_READ, events_cb, NULL), 0);
    ck_assert_int_eq(loop_add(loop, sv[0], 0, events_cb, NULL), 0);
    ck_assert_int_eq(loop_add(loop, sv[0], LOOP_READ, events_cb, NULL),
                     -EEXIST);
    ck_assert_int_eq(loop_events(loop, sv[0]), 0);

    /* Watched for nothing: neither readable nor writable is reported. */
    put(sv[1]);
    ck_assert_int_eq(loop_run_once(loop, 20), 0);
    ck_assert_int_eq(nseen, 0);

    ck_assert_int_eq(loop_mod(loop, sv[0], LOOP_WRITE), 0);
    ck_assert_int_eq(loop_events(loop, sv[0]), LOOP_WRITE);
    ck_assert_int_eq(loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(last_events, LOOP_WRITE);

    ck_assert_int_eq(loop_mod(loop, sv[0], LOOP_READ | LOOP_WRITE), 0);
    ck_assert_int_eq(loop_mod(loop, sv[0], LOOP_READ | LOOP_WRITE), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(last_events, LOOP_READ | LOOP_WRITE);

    /* Removed: nothing more, and it can be watched again. */
    ck_assert_int_eq(loop_del(loop, sv[0]), 0);
    ck_assert_int_eq(loop_del(loop, sv[0]), -ENOENT);
    ck_assert_int_eq(loop_mod(loop, sv[0], LOOP_READ), -ENOENT);
    ck_assert_int_eq(loop_events(loop, sv[0]), -1);
    int before = nseen;
    ck_assert_int_eq(loop_run_once(loop, 20), 0);
    ck_assert_int_eq(nseen, before);
    ck_assert_int_eq(loop_add(loop, sv[0], LOOP_READ, events_cb, NULL), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(last_events, LOOP_READ);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(rdhup_only_to_those_who_ask)
{
    int a[2], b[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a),
                     0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b),
                     0);
    ck_assert_int_eq(loop_add(loop, a[0], LOOP_READ, events_cb, NULL), 0);
    ck_assert_int_eq(shutdown(a[1], SHUT_WR), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(last_events, LOOP_READ);
    ck_assert_int_eq(loop_del(loop, a[0]), 0);

    ck_assert_int_eq(loop_add(loop, b[0], LOOP_RDHUP, events_cb, NULL), 0);
    put(b[1]); /* data alone does not wake a LOOP_RDHUP watcher */
    ck_assert_int_eq(loop_run_once(loop, 20), 0);
    ck_assert_int_eq(shutdown(b[1], SHUT_WR), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(last_events, LOOP_READ | LOOP_RDHUP);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}
END_TEST

START_TEST(hangup_is_reported_as_error_and_read)
{
    int p[2];
    pipe_nb(p);
    ck_assert_int_eq(loop_add(loop, p[0], LOOP_READ, events_cb, NULL), 0);
    close(p[1]);
    ck_assert_int_eq(loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(last_events, LOOP_READ | LOOP_ERROR);
    close(p[0]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("timers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, timers_fire_in_order_and_never_early);
    tcase_add_test(tc, timer_added_and_cleared_from_a_callback);
    tcase_add_test(tc, repeating_timer_clears_itself);
    tcase_add_test(tc, waits_no_longer_than_the_next_timer);
    tcase_add_test(tc, a_shorter_timeout_wins_over_a_later_timer);
    suite_add_tcase(s, tc);
    tc = tcase_create("defer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, defer_runs_once_at_the_end_of_a_pass);
    suite_add_tcase(s, tc);
    tc = tcase_create("fds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, reused_fd_gets_no_event_of_the_closed_one);
    tcase_add_test(tc, removed_fd_gets_no_event_of_the_batch);
    tcase_add_test(tc, mod_and_del);
    tcase_add_test(tc, rdhup_only_to_those_who_ask);
    tcase_add_test(tc, hangup_is_reported_as_error_and_read);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
