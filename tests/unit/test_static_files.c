/* test_static_files.c: request paths made relative to a document_root:
 * decoding, "." and empty segments, and every way to climb out refused;
 * Content-Types by extension; HTTP dates both ways. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/mime.h"
#include "protocol/http_text.h"
#include "http/static_files.h"

static int path(const char *in, char *out)
{
    return static_path(in, strlen(in), out, 256);
}

START_TEST(test_paths)
{
    char out[256];
    ck_assert_int_eq(path("/", out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(path("/a/b.txt", out), 0);
    ck_assert_str_eq(out, "a/b.txt");
    ck_assert_int_eq(path("//a/./b//c/", out), 0);
    ck_assert_str_eq(out, "a/b/c");
    ck_assert_int_eq(path("/a%20b/%41", out), 0);
    ck_assert_str_eq(out, "a b/A");
    ck_assert_int_eq(path("/...", out), 0); /* a name, not a climb */
    ck_assert_str_eq(out, "...");
    ck_assert_int_eq(path("/a..b/..c", out), 0);
    ck_assert_str_eq(out, "a..b/..c");
}
END_TEST

START_TEST(test_climbing_refused)
{
    char out[256];
    const char *bad[] = {
        "/..", "/../etc/passwd", "/a/../../b", "/a/..", "/%2e%2e/x",
        "/%2E%2e/x", "/.%2e/x", "/a%2f..%2f..%2fetc", "/..%2fx",
        "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/x/..%5c", "/a/%2e%2e",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = path(bad[i], out);
        if (strcmp(bad[i], "/x/..%5c") == 0) { /* "..\\" is a name */
            ck_assert_int_eq(rc, 0);
            continue;
        }
        ck_assert_msg(rc == 400, "%s gave %d", bad[i], rc);
    }
}
END_TEST

START_TEST(test_bad_escapes_refused)
{
    char out[256];
    ck_assert_int_eq(path("/a%", out), 400);
    ck_assert_int_eq(path("/a%4", out), 400);
    ck_assert_int_eq(path("/a%zz", out), 400);
    ck_assert_int_eq(path("/a%00b", out), 400);
}
END_TEST

START_TEST(test_too_long)
{
    char in[600], out[256];
    memset(in, 'a', sizeof(in) - 1);
    in[0] = '/';
    in[sizeof(in) - 1] = '\0';
    ck_assert_int_eq(path(in, out), 414);
    ck_assert_int_eq(static_path("/abc", 4, out, 4), 414);
    ck_assert_int_eq(static_path("/abc", 4, out, 5), 0);
}
END_TEST

START_TEST(test_mime)
{
    ck_assert_str_eq(mime_type("a/index.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(mime_type("x.JSON"), "application/json");
    ck_assert_str_eq(mime_type("x.png"), "image/png");
    ck_assert_str_eq(mime_type("noext"), "application/octet-stream");
    ck_assert_str_eq(mime_type("dir.html/file"), "application/octet-stream");
    ck_assert_str_eq(mime_type("trailing."), "application/octet-stream");
}
END_TEST

START_TEST(test_dates)
{
    char d[HTTP_DATE_LEN + 1];
    time_t t;
    http_date(784111777, d);
    ck_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_int_eq(http_date_parse(d, strlen(d), &t), 0);
    ck_assert_int_eq((long)t, 784111777L);
    ck_assert_int_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", 29, &t),
                     -EINVAL);
    ck_assert_int_eq(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t),
                     -EINVAL);
    ck_assert_int_eq(http_date_parse("Sun, 06 Xyz 1994 08:49:37 GMT", 29, &t),
                     -EINVAL);
    ck_assert_str_eq(http_reason(413), "Content Too Large");
    ck_assert_str_eq(http_reason(799), "Unknown");
}
END_TEST

static Suite *static_suite(void)
{
    Suite *s = suite_create("static_files");
    TCase *t = tcase_create("paths");
    tcase_add_test(t, test_paths);
    tcase_add_test(t, test_climbing_refused);
    tcase_add_test(t, test_bad_escapes_refused);
    tcase_add_test(t, test_too_long);
    tcase_add_test(t, test_mime);
    tcase_add_test(t, test_dates);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(static_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
