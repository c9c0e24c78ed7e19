/* test_log_limit.c: the log rate limit: a burst, then one line a second per
 * kind; held-back lines counted and summed up when due, none lost; and the
 * same through log.c into a file, at exit, across fork and from a loop's
 * tick. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/log_limit.h"

static log_limit_t t;
static const char kind_a[] = "kind a %d";
static const char kind_b[] = "kind b %d";

static void setup(void)
{
    log_limit_reset(&t);
}

/* Offer n lines of key at now; how many may be written. Summaries that
 * come with them are added to *noted. */
static int offer(const void *key, int level, int64_t now, int n,
                 unsigned *noted)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        log_limit_note_t note;
        char text[32];
        snprintf(text, sizeof(text), "line %d at %lld", i, (long long)now);
        ok += log_limit_admit(&t, key, level, now, text, "reactor 1", &note);
        if (noted != NULL)
            *noted += note.count;
        else
            ck_assert_uint_eq(note.count, 0);
    }
    return ok;
}

START_TEST(test_burst_then_held)
{
    ck_assert_int_eq(offer(kind_a, SWX_LOG_WARNING, 5000, 100, NULL),
                     LOG_LIMIT_BURST);
    ck_assert_int_eq(offer(kind_a, SWX_LOG_WARNING, 5000 + LOG_LIMIT_EVERY_MS - 1,
                           5, NULL), 0);
    /* The first one held back starts the summary. */
    ck_assert_int_eq(t.due, 5000 + LOG_LIMIT_EVERY_MS);
}
END_TEST

START_TEST(test_refill_brings_the_summary)
{
    offer(kind_a, SWX_LOG_WARNING, 5000, 25, NULL);
    log_limit_note_t note;
    int ok = log_limit_admit(&t, kind_a, SWX_LOG_WARNING,
                             5000 + LOG_LIMIT_EVERY_MS, "next", "master",
                             &note);
    ck_assert_int_eq(ok, 1);
    ck_assert_uint_eq(note.count, 25 - LOG_LIMIT_BURST);
    ck_assert_int_eq(note.level, SWX_LOG_WARNING);
    ck_assert_str_eq(note.text, "line 10 at 5000");
    ck_assert_str_eq(note.role, "reactor 1");
    /* Taken: the next one comes with none, and is held back. */
    ok = log_limit_admit(&t, kind_a, SWX_LOG_WARNING,
                         5000 + LOG_LIMIT_EVERY_MS, "again", "master", &note);
    ck_assert_int_eq(ok, 0);
    ck_assert_uint_eq(note.count, 0);
}
END_TEST

START_TEST(test_steady_flood_nothing_lost)
{
    /* 10 s of 200 lines a second: the burst, then one a second; every
     * line is either written or counted in a summary. */
    unsigned noted = 0;
    int written = 0;
    int64_t start = 100000;
    for (int ms = 0; ms < 10000; ms += 5)
        written += offer(kind_a, SWX_LOG_ERROR, start + ms, 1, &noted);
    ck_assert_int_le(written, LOG_LIMIT_BURST + 10000 / LOG_LIMIT_EVERY_MS);
    ck_assert_int_ge(written, LOG_LIMIT_BURST + 10000 / LOG_LIMIT_EVERY_MS - 1);
    log_limit_note_t notes[4];
    int n = log_limit_take_due(&t, INT64_MAX, notes, 4);
    ck_assert_int_eq(n, 1);
    noted += notes[0].count;
    ck_assert_uint_eq(noted + (unsigned)written, 2000);
    ck_assert_int_eq(t.due, INT64_MAX);
}
END_TEST

START_TEST(test_kinds_and_levels_apart)
{
    offer(kind_a, SWX_LOG_WARNING, 7000, 50, NULL);
    ck_assert_int_eq(offer(kind_b, SWX_LOG_WARNING, 7000, 3, NULL), 3);
    ck_assert_int_eq(offer(kind_a, SWX_LOG_INFO, 7000, 3, NULL), 3);
}
END_TEST

START_TEST(test_summary_due_without_new_lines)
{
    offer(kind_a, SWX_LOG_WARNING, 5000, 12, NULL);
    offer(kind_b, SWX_LOG_INFO, 5500, 13, NULL);
    log_limit_note_t notes[4];
    ck_assert_int_eq(log_limit_take_due(&t, 5999, notes, 4), 0);
    ck_assert_int_eq(t.due, 6000);
    ck_assert_int_eq(log_limit_take_due(&t, 6000, notes, 4), 1);
    ck_assert_uint_eq(notes[0].count, 2);
    ck_assert_int_eq(notes[0].level, SWX_LOG_WARNING);
    ck_assert_int_eq(t.due, 6500);
    ck_assert_int_eq(log_limit_take_due(&t, 6000, notes, 4), 0);
    ck_assert_int_eq(log_limit_take_due(&t, 9000, notes, 4), 1);
    ck_assert_uint_eq(notes[0].count, 3);
    ck_assert_int_eq(notes[0].level, SWX_LOG_INFO);
    ck_assert_int_eq(t.due, INT64_MAX);
}
END_TEST

START_TEST(test_take_due_at_most_max)
{
    static char keys[6];
    for (int i = 0; i < 6; i++)
        offer(&keys[i], SWX_LOG_INFO, 5000, LOG_LIMIT_BURST + 1, NULL);
    log_limit_note_t notes[4];
    ck_assert_int_eq(log_limit_take_due(&t, INT64_MAX, notes, 4), 4);
    ck_assert_int_le(t.due, 6000); /* the rest are still due */
    ck_assert_int_eq(log_limit_take_due(&t, INT64_MAX, notes, 4), 2);
    ck_assert_int_eq(log_limit_take_due(&t, INT64_MAX, notes, 4), 0);
}
END_TEST

START_TEST(test_idle_slots_are_reused)
{
    /* Far more kinds than slots, each a few lines, a second apart: every
     * line is written, since a kind at rest takes no slot. */
    static char keys[4 * LOG_LIMIT_SLOTS];
    for (int i = 0; i < 4 * LOG_LIMIT_SLOTS; i++)
        ck_assert_int_eq(offer(&keys[i], SWX_LOG_INFO,
                               10000 + (int64_t)i * 20000, 3, NULL), 3);
}
END_TEST

START_TEST(test_shared_slots_lose_no_count)
{
    /* Far more flooding kinds than slots: kinds share budgets, but every
     * line is still written or counted. */
    static char keys[4 * LOG_LIMIT_SLOTS];
    unsigned noted = 0;
    int written = 0;
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 4 * LOG_LIMIT_SLOTS; i++)
            written += offer(&keys[i], SWX_LOG_WARNING, 1000 + round * 100,
                             1, &noted);
    log_limit_note_t notes[LOG_LIMIT_SLOTS];
    int n = log_limit_take_due(&t, INT64_MAX, notes, LOG_LIMIT_SLOTS);
    for (int i = 0; i < n; i++)
        noted += notes[i].count;
    ck_assert_uint_eq(noted + (unsigned)written, 20 * 4 * LOG_LIMIT_SLOTS);
    ck_assert_int_le(written, LOG_LIMIT_SLOTS * (LOG_LIMIT_BURST + 2));
}
END_TEST

START_TEST(test_long_text_cut)
{
    char text[1000];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    offer(kind_a, SWX_LOG_INFO, 5000, LOG_LIMIT_BURST, NULL);
    log_limit_note_t note;
    log_limit_admit(&t, kind_a, SWX_LOG_INFO, 5000, text, "a role that is "
                    "longer than thirty-two bytes", &note);
    log_limit_note_t notes[1];
    ck_assert_int_eq(log_limit_take_due(&t, INT64_MAX, notes, 1), 1);
    ck_assert_uint_eq(strlen(notes[0].text), LOG_LIMIT_TEXT - 1);
    ck_assert_uint_eq(strlen(notes[0].role), LOG_LIMIT_ROLE - 1);
}
END_TEST

/* ---- through log.c */

static char log_path[64];

static void log_setup(void)
{
    snprintf(log_path, sizeof(log_path), "/tmp/swx-test-log-XXXXXX");
    int fd = mkstemp(log_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(log_open(log_path, SWX_LOG_DEBUG), 0);
}

static void log_teardown(void)
{
    unlink(log_path);
}

/* Lines of the log file that contain needle. */
static int count_lines(const char *needle)
{
    FILE *f = fopen(log_path, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static void flood(int n)
{
    for (int i = 0; i < n; i++)
        log_warn("flooding line %d", i);
}

START_TEST(test_log_file_flood)
{
    log_set_role("tester");
    flood(500);
    log_info("another kind");
    for (int i = 0; i < 50; i++)
        log_debug("debug line %d", i);
    for (int i = 0; i < 30; i++)
        log_notice("milestone %d", i);
    ck_assert_int_eq(count_lines("flooding line"), LOG_LIMIT_BURST);
    ck_assert_int_eq(count_lines("another kind"), 1);
    ck_assert_int_eq(count_lines("debug line"), 50);
    ck_assert_int_eq(count_lines("milestone"), 30);
    log_flush();
    ck_assert_int_eq(count_lines("[warning] "), LOG_LIMIT_BURST + 1);
    char want[128];
    snprintf(want, sizeof(want), "tester: %d similar lines suppressed, the "
             "first: flooding line %d\n", 500 - LOG_LIMIT_BURST,
             LOG_LIMIT_BURST);
    ck_assert_int_eq(count_lines(want), 1);
}
END_TEST

START_TEST(test_log_counts_reported_at_exit)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        flood(30);
        exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(count_lines("similar lines suppressed"), 1);
    ck_assert_int_eq(count_lines("20 similar lines suppressed"), 1);
}
END_TEST

START_TEST(test_log_fork_starts_afresh)
{
    flood(30); /* 20 held back here, reported by this process alone */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        flood(3); /* a fresh budget: all written, nothing to report */
        exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(count_lines("flooding line"), LOG_LIMIT_BURST + 3);
    ck_assert_int_eq(count_lines("similar lines suppressed"), 0);
    log_flush();
    ck_assert_int_eq(count_lines("20 similar lines suppressed"), 1);
}
END_TEST

START_TEST(test_log_tick_writes_due_summary)
{
    ck_assert_int_eq(log_due_in_ms(), -1);
    flood(30);
    int left = log_due_in_ms();
    ck_assert(left > 0 && left <= LOG_LIMIT_EVERY_MS);
    log_tick(); /* not due yet */
    ck_assert_int_eq(count_lines("similar lines suppressed"), 0);
    usleep((useconds_t)(left + 5) * 1000);
    ck_assert_int_eq(log_due_in_ms(), 0);
    log_tick(); /* what an event loop does when it wakes */
    ck_assert_int_eq(count_lines("20 similar lines suppressed"), 1);
    ck_assert_int_eq(log_due_in_ms(), -1);
}
END_TEST

static Suite *log_limit_suite(void)
{
    Suite *s = suite_create("log_limit");
    TCase *t1 = tcase_create("limit");
    tcase_add_checked_fixture(t1, setup, NULL);
    tcase_add_test(t1, test_burst_then_held);
    tcase_add_test(t1, test_refill_brings_the_summary);
    tcase_add_test(t1, test_steady_flood_nothing_lost);
    tcase_add_test(t1, test_kinds_and_levels_apart);
    tcase_add_test(t1, test_summary_due_without_new_lines);
    tcase_add_test(t1, test_take_due_at_most_max);
    tcase_add_test(t1, test_idle_slots_are_reused);
    tcase_add_test(t1, test_shared_slots_lose_no_count);
    tcase_add_test(t1, test_long_text_cut);
    suite_add_tcase(s, t1);
    TCase *t2 = tcase_create("log");
    tcase_add_checked_fixture(t2, log_setup, log_teardown);
    tcase_add_test(t2, test_log_file_flood);
    tcase_add_test(t2, test_log_counts_reported_at_exit);
    tcase_add_test(t2, test_log_fork_starts_afresh);
    tcase_add_test(t2, test_log_tick_writes_due_summary);
    suite_add_tcase(s, t2);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_limit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
