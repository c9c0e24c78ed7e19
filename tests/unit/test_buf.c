/* test_buf.c: the byte buffer under connections' input and channels:
 * appends and consumes keep the pending bytes, and buf_trim gives back the
 * memory of a large message without losing what is pending. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define KEEP 1024

static void fill(buf_t *b, size_t n, char c)
{
    char *tmp = malloc(n);
    ck_assert_ptr_nonnull(tmp);
    memset(tmp, c, n);
    ck_assert_int_eq(buf_append(b, tmp, n), 0);
    free(tmp);
}

START_TEST(test_append_consume)
{
    buf_t b = {0};
    ck_assert_int_eq(buf_append(&b, "hello ", 6), 0);
    ck_assert_int_eq(buf_append(&b, "world", 5), 0);
    ck_assert_uint_eq(buf_pending(&b), 11);
    buf_consume(&b, 6);
    ck_assert_int_eq(memcmp(buf_head(&b), "world", 5), 0);
    /* Consumed space is reused before the buffer grows. */
    size_t cap = b.cap;
    fill(&b, cap - 5, 'x');
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_int_eq(memcmp(buf_head(&b), "world", 5), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_trim_releases_when_empty)
{
    buf_t b = {0};
    fill(&b, 100 * KEEP, 'a');
    buf_consume(&b, 100 * KEEP);
    ck_assert_uint_ge(b.cap, 100 * KEEP);
    buf_trim(&b, KEEP);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
    ck_assert_int_eq(buf_append(&b, "again", 5), 0);
    ck_assert_int_eq(memcmp(buf_head(&b), "again", 5), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_trim_keeps_pending)
{
    buf_t b = {0};
    fill(&b, 100 * KEEP, 'a');
    ck_assert_int_eq(buf_append(&b, "tail", 4), 0);
    buf_consume(&b, 100 * KEEP);
    buf_trim(&b, KEEP);
    ck_assert_uint_eq(b.cap, KEEP);
    ck_assert_uint_eq(buf_pending(&b), 4);
    ck_assert_int_eq(memcmp(buf_head(&b), "tail", 4), 0);
    ck_assert_int_eq(buf_append(&b, "+more", 5), 0);
    ck_assert_int_eq(memcmp(buf_head(&b), "tail+more", 9), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_trim_leaves_small_and_busy)
{
    buf_t b = {0};
    /* Small: nothing to give back. */
    ck_assert_int_eq(buf_append(&b, "x", 1), 0);
    char *data = b.data;
    buf_trim(&b, 64 * KEEP);
    ck_assert_ptr_eq(b.data, data);
    buf_free(&b);
    /* Large with much pending (a message half read): kept as it is. */
    fill(&b, 10 * KEEP, 'b');
    data = b.data;
    buf_trim(&b, KEEP);
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(buf_pending(&b), 10 * KEEP);
    buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *t = tcase_create("buf");
    tcase_add_test(t, test_append_consume);
    tcase_add_test(t, test_trim_releases_when_empty);
    tcase_add_test(t, test_trim_keeps_pending);
    tcase_add_test(t, test_trim_leaves_small_and_busy);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
