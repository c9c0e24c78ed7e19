/* test_session.c: the session table and the layout of session ids. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/session.h"

START_TEST(ids_carry_reactor_and_never_zero)
{
    for (int r = 0; r < SESSION_MAX_REACTORS; r++) {
        uint64_t id = session_make(1, r);
        ck_assert_uint_ne(id, 0);
        ck_assert_int_eq(session_reactor(id), r);
    }
    ck_assert_uint_ne(session_make(2, 0), session_make(1, 0));
    uint64_t big = session_make((1ull << 55) + 7, 200);
    ck_assert_int_eq(session_reactor(big), 200);
    ck_assert_uint_eq(big >> SESSION_REACTOR_BITS, (1ull << 55) + 7);
}
END_TEST

START_TEST(put_get_del)
{
    session_table_t t;
    int a = 1, b = 2;
    ck_assert_int_eq(session_table_init(&t, 4), 0);
    ck_assert_int_eq(session_put(&t, 10, &a), 0);
    ck_assert_int_eq(session_put(&t, 20, &b), 0);
    ck_assert_int_eq(session_put(&t, 10, &b), -EEXIST);
    ck_assert_int_eq(session_put(&t, 0, &b), -EINVAL);
    ck_assert_ptr_eq(session_get(&t, 10), &a);
    ck_assert_ptr_eq(session_get(&t, 20), &b);
    ck_assert_ptr_null(session_get(&t, 30));
    ck_assert_ptr_null(session_get(&t, 0));
    ck_assert_ptr_eq(session_del(&t, 10), &a);
    ck_assert_ptr_null(session_get(&t, 10));
    ck_assert_ptr_null(session_del(&t, 10));
    ck_assert_uint_eq(t.count, 1);
    session_table_free(&t);
}
END_TEST

/* Many ids, removed in a scattered order: every survivor stays findable,
 * which exercises growth and backward-shift deletion across probe runs. */
START_TEST(churn_keeps_every_survivor)
{
    enum { N = 20000 };
    session_table_t t;
    ck_assert_int_eq(session_table_init(&t, 16), 0);
    static char vals[N];
    for (uint64_t i = 1; i <= N; i++)
        ck_assert_int_eq(session_put(&t, session_make(i, (int)(i % 3)),
                                     &vals[i - 1]), 0);
    ck_assert_uint_eq(t.count, N);
    for (uint64_t i = 1; i <= N; i += 3)
        ck_assert_ptr_eq(session_del(&t, session_make(i, (int)(i % 3))),
                         &vals[i - 1]);
    for (uint64_t i = 1; i <= N; i++) {
        void *v = session_get(&t, session_make(i, (int)(i % 3)));
        if ((i - 1) % 3 == 0)
            ck_assert_ptr_null(v);
        else
            ck_assert_ptr_eq(v, &vals[i - 1]);
    }
    /* A later connection on the same reactor never gets an old id. */
    ck_assert_ptr_null(session_get(&t, session_make(N + 1, 0)));
    session_table_free(&t);
}
END_TEST

/* Ids that collide in the hash home: deletion in the middle of a run. */
START_TEST(delete_inside_probe_run)
{
    session_table_t t;
    ck_assert_int_eq(session_table_init(&t, 1), 0);
    int v[40];
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(session_put(&t, (uint64_t)(i + 1) * 64, &v[i]), 0);
    for (int i = 0; i < 40; i += 2)
        ck_assert_ptr_eq(session_del(&t, (uint64_t)(i + 1) * 64), &v[i]);
    for (int i = 1; i < 40; i += 2)
        ck_assert_ptr_eq(session_get(&t, (uint64_t)(i + 1) * 64), &v[i]);
    session_table_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, ids_carry_reactor_and_never_zero);
    tcase_add_test(tc, put_get_del);
    tcase_add_test(tc, churn_keeps_every_survivor);
    tcase_add_test(tc, delete_inside_probe_run);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
