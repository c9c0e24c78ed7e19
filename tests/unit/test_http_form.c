/* test_http_form.c: form pairs (queries and form bodies), cookies and
 * multipart/form-data parts as a plugin reads them: decoding, repeated and
 * empty names, malformed escapes and bodies, buffers too small. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/http_form.h"
#include "protocol/http_multipart.h"

static char out[64];

static int param(const char *s, const char *name)
{
    memset(out, 'X', sizeof(out));
    return http_form_param(s, strlen(s), name, out, sizeof(out));
}

static int cookie(const char *s, const char *name)
{
    memset(out, 'X', sizeof(out));
    return http_cookie_value(s, strlen(s), name, out, sizeof(out));
}

START_TEST(test_form_params)
{
    ck_assert_int_eq(param("a=1&b=two", "b"), 3);
    ck_assert_str_eq(out, "two");
    ck_assert_int_eq(param("q=hello+world%21&x", "q"), 12);
    ck_assert_str_eq(out, "hello world!");
    /* The first of repeated names; a name without '=' is "". */
    ck_assert_int_eq(param("k=1&k=2", "k"), 1);
    ck_assert_str_eq(out, "1");
    ck_assert_int_eq(param("flag&k=2", "flag"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(param("k=", "k"), 0);
    /* Names are compared decoded, and exactly. */
    ck_assert_int_eq(param("first%20name=Ann", "first name"), 3);
    ck_assert_str_eq(out, "Ann");
    ck_assert_int_eq(param("ab=1", "a"), -ENOENT);
    ck_assert_int_eq(param("a=1", "ab"), -ENOENT);
    ck_assert_int_eq(param("", "a"), -ENOENT);
    ck_assert_int_eq(param("&&=x&a=%C3%A9&", "a"), 2);
    ck_assert_str_eq(out, "\xc3\xa9");
    /* Bytes after a NUL escape stay counted. */
    ck_assert_int_eq(param("z=a%00b", "z"), 3);
    ck_assert_int_eq(memcmp(out, "a\0b", 4), 0);
}
END_TEST

START_TEST(test_form_errors)
{
    ck_assert_int_eq(param("a=%zz", "a"), -EINVAL);
    ck_assert_int_eq(param("a=%4", "a"), -EINVAL);
    ck_assert_int_eq(param("a=%", "a"), -EINVAL);
    /* A malformed name is skipped, not an error. */
    ck_assert_int_eq(param("%zz=1&a=2", "a"), 1);
    /* Too small: the value and its NUL must fit. */
    char small[4];
    ck_assert_int_eq(http_form_param("a=abc", 5, "a", small, 4), 3);
    ck_assert_str_eq(small, "abc");
    ck_assert_int_eq(http_form_param("a=abcd", 6, "a", small, 4), -ENOSPC);
    ck_assert_int_eq(http_form_param("a=", 2, "a", small, 0), -ENOSPC);
    ck_assert_int_eq(http_form_param(NULL, 0, "a", small, 4), -ENOENT);
}
END_TEST

START_TEST(test_cookies)
{
    ck_assert_int_eq(cookie("sid=abc123; theme=dark", "theme"), 4);
    ck_assert_str_eq(out, "dark");
    ck_assert_int_eq(cookie("sid=abc123;theme=dark", "sid"), 6);
    ck_assert_str_eq(out, "abc123");
    ck_assert_int_eq(cookie("a=\"quoted value\"", "a"), 12);
    ck_assert_str_eq(out, "quoted value");
    /* Not decoded; names are case-sensitive and exact. */
    ck_assert_int_eq(cookie("v=a%20b", "v"), 5);
    ck_assert_str_eq(out, "a%20b");
    ck_assert_int_eq(cookie("Sid=1", "sid"), -ENOENT);
    ck_assert_int_eq(cookie("sidx=1; xsid=2", "sid"), -ENOENT);
    ck_assert_int_eq(cookie("e=; f=1", "e"), 0);
    ck_assert_int_eq(cookie("", "a"), -ENOENT);
    char small[3];
    ck_assert_int_eq(http_cookie_value("a=xyz", 5, "a", small, 3), -ENOSPC);
}
END_TEST

static int str_is(const char *p, size_t len, const char *want)
{
    return p != NULL && len == strlen(want) && memcmp(p, want, len) == 0;
}

START_TEST(test_multipart_boundary)
{
    const char *b;
    size_t n;
    const char *t1 = "multipart/form-data; boundary=abc123";
    ck_assert_int_eq(http_multipart_boundary(t1, strlen(t1), &b, &n), 0);
    ck_assert(str_is(b, n, "abc123"));
    const char *t2 = "Multipart/Form-Data;charset=x; boundary=\"a b:c\"";
    ck_assert_int_eq(http_multipart_boundary(t2, strlen(t2), &b, &n), 0);
    ck_assert(str_is(b, n, "a b:c"));
    const char *t3 = "multipart/form-data";
    ck_assert_int_eq(http_multipart_boundary(t3, strlen(t3), &b, &n),
                     -EINVAL);
    const char *t4 = "application/json; boundary=x";
    ck_assert_int_eq(http_multipart_boundary(t4, strlen(t4), &b, &n),
                     -ENOTSUP);
    char t5[128];
    snprintf(t5, sizeof(t5), "multipart/form-data; boundary=%071d", 0);
    ck_assert_int_eq(http_multipart_boundary(t5, strlen(t5), &b, &n),
                     -EINVAL);
}
END_TEST

START_TEST(test_multipart_parts)
{
    const char body[] =
        "preamble\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"field\"\r\n"
        "\r\n"
        "value 1\r\n"
        "--XyZ  \r\n"
        "Content-Disposition: form-data; name=\"up\"; filename=\"a b.txt\"\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "line1\r\n--XyZnot a delimiter\r\nline3\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=empty\r\n"
        "\r\n"
        "\r\n"
        "--XyZ--\r\n"
        "epilogue";
    size_t len = sizeof(body) - 1, cursor = 0;
    http_part_t p;
    ck_assert_int_eq(http_multipart_next(body, len, "XyZ", 3, &cursor, &p), 1);
    ck_assert(str_is(p.name, p.name_len, "field"));
    ck_assert_ptr_null(p.filename);
    ck_assert_ptr_null(p.type);
    ck_assert(str_is(p.data, p.len, "value 1"));
    ck_assert_int_eq(http_multipart_next(body, len, "XyZ", 3, &cursor, &p), 1);
    ck_assert(str_is(p.name, p.name_len, "up"));
    ck_assert(str_is(p.filename, p.filename_len, "a b.txt"));
    ck_assert(str_is(p.type, p.type_len, "text/plain"));
    ck_assert(str_is(p.data, p.len,
                     "line1\r\n--XyZnot a delimiter\r\nline3"));
    ck_assert_int_eq(http_multipart_next(body, len, "XyZ", 3, &cursor, &p), 1);
    ck_assert(str_is(p.name, p.name_len, "empty"));
    ck_assert_uint_eq(p.len, 0);
    ck_assert_int_eq(http_multipart_next(body, len, "XyZ", 3, &cursor, &p), 0);
    ck_assert_int_eq(http_multipart_next(body, len, "XyZ", 3, &cursor, &p), 0);
}
END_TEST

START_TEST(test_multipart_malformed)
{
    http_part_t p;
    size_t cursor = 0;
    const char *none = "no delimiter at all";
    ck_assert_int_eq(http_multipart_next(none, strlen(none), "b", 1, &cursor,
                                         &p), -EINVAL);
    const char *open = "--b\r\nContent-Disposition: form-data; name=x\r\n"
                       "\r\nnever closed";
    cursor = 0;
    ck_assert_int_eq(http_multipart_next(open, strlen(open), "b", 1, &cursor,
                                         &p), -EINVAL);
    const char *nohead = "--b\r\nContent-Disposition: x";
    cursor = 0;
    ck_assert_int_eq(http_multipart_next(nohead, strlen(nohead), "b", 1,
                                         &cursor, &p), -EINVAL);
    const char *empty = "--b--\r\n";
    cursor = 0;
    ck_assert_int_eq(http_multipart_next(empty, strlen(empty), "b", 1,
                                         &cursor, &p), 0);
    const char *nocolon = "--b\r\nbroken header\r\n\r\nx\r\n--b--";
    cursor = 0;
    ck_assert_int_eq(http_multipart_next(nocolon, strlen(nocolon), "b", 1,
                                         &cursor, &p), -EINVAL);
}
END_TEST

static Suite *form_suite(void)
{
    Suite *s = suite_create("http_form");
    TCase *t = tcase_create("http_form");
    tcase_add_test(t, test_form_params);
    tcase_add_test(t, test_form_errors);
    tcase_add_test(t, test_cookies);
    tcase_add_test(t, test_multipart_boundary);
    tcase_add_test(t, test_multipart_parts);
    tcase_add_test(t, test_multipart_malformed);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(form_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
