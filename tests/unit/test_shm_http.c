/* test_shm_http.c: the HTTP figures of /metrics: status classes, a
 * duration in the first bucket whose bound it does not pass (Prometheus's
 * "le"), +Inf past the last, the sum and count; rows per listener and
 * thread kept apart; out-of-range arguments ignored. */
#include <check.h>
#include <stdlib.h>

#include "ipc/shm_http.h"

static uint64_t get(_Atomic uint64_t *v)
{
    return atomic_load(v);
}

START_TEST(status_classes)
{
    shm_http_t *m = shm_http_create(2, 3);
    ck_assert_ptr_nonnull(m);
    int statuses[] = {101, 200, 204, 304, 404, 499, 502, 0, 600, 99};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        shm_http_count(m, 1, 2, statuses[i], 1);
    shm_http_row_t *r = &m->rows[1 * 3 + 2];
    ck_assert_uint_eq(get(&r->status[0]), 1);
    ck_assert_uint_eq(get(&r->status[1]), 2);
    ck_assert_uint_eq(get(&r->status[2]), 1);
    ck_assert_uint_eq(get(&r->status[3]), 2);
    ck_assert_uint_eq(get(&r->status[4]), 1);
    /* Every call is a duration, whatever its status. */
    ck_assert_uint_eq(get(&r->count), 10);
    /* The other rows saw nothing. */
    for (int i = 0; i < 6; i++)
        if (i != 5)
            ck_assert_uint_eq(get(&m->rows[i].count), 0);
    shm_http_destroy(m);
}
END_TEST

START_TEST(buckets)
{
    shm_http_t *m = shm_http_create(1, 1);
    int64_t us[] = {-5, 0, 5000, 5001, 10000, 9999999, 10000000, 10000001,
                    3600000000LL};
    for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++)
        shm_http_count(m, 0, 0, 200, us[i]);
    shm_http_row_t *r = &m->rows[0];
    ck_assert_uint_eq(get(&r->bucket[0]), 3);  /* -5 (as 0), 0, 5000 */
    ck_assert_uint_eq(get(&r->bucket[1]), 2);  /* 5001, 10000 */
    ck_assert_uint_eq(get(&r->bucket[SHM_HTTP_BOUNDS - 1]), 2);
    ck_assert_uint_eq(get(&r->bucket[SHM_HTTP_BOUNDS]), 2); /* +Inf */
    uint64_t n = 0;
    for (int i = 0; i <= SHM_HTTP_BOUNDS; i++)
        n += get(&r->bucket[i]);
    ck_assert_uint_eq(n, get(&r->count));
    ck_assert_uint_eq(get(&r->sum_us), 0 + 0 + 5000 + 5001 + 10000 +
                      9999999 + 10000000 + 10000001 + 3600000000ULL);
    shm_http_destroy(m);
}
END_TEST

START_TEST(out_of_range)
{
    shm_http_t *m = shm_http_create(1, 1);
    shm_http_count(m, 1, 0, 200, 1);
    shm_http_count(m, 0, 1, 200, 1);
    shm_http_count(m, -1, 0, 200, 1);
    shm_http_count(NULL, 0, 0, 200, 1);
    ck_assert_uint_eq(get(&m->rows[0].count), 0);
    shm_http_destroy(m);
    shm_http_destroy(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shm_http");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, status_classes);
    tcase_add_test(tc, buckets);
    tcase_add_test(tc, out_of_range);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
