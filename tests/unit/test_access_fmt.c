/* test_access_fmt.c: access_log_format compiled into operations (and its
 * errors), the request's values captured escaped as nginx escapes them,
 * lines rendered with the response's values, cut without losing their
 * newline, and the clock's two formats. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/access_fmt.h"

static http_request_t req;
static char head[4096];

static const http_request_t *parse(const char *text)
{
    snprintf(head, sizeof(head), "%s", text);
    http_request_init(&req);
    ck_assert_int_gt(http_parse_head(head, strlen(head), NULL, &req), 0);
    return &req;
}

static access_clock_t clk;

/* A response side with fixed values. */
static access_resp_t resp(void)
{
    access_resp_t r = {
        .status = 200, .bytes_sent = 150, .body_bytes_sent = 12,
        .request_length = 77, .request_us = 12345, .response_us = 678,
        .msec = 1765006800123LL, .clock = &clk, .pid = 4242,
        .worker_id = 3, .connection = 99, .connection_requests = 2};
    return r;
}

/* fmt rendered for the request head text (NULL: none) from 10.0.0.1:5000
 * via proxy (or NULL): a static buffer without the newline. */
static const char *line(const char *fmt, const char *text, const char *proxy)
{
    static char out[8192];
    char err[200];
    access_fmt_t f;
    buf_t cap = {0};
    ck_assert_msg(access_fmt_compile(&f, fmt, err, sizeof(err)) == 0, "%s",
                  err);
    access_req_t r = {text ? parse(text) : NULL, "10.0.0.1", 5000, proxy};
    ck_assert_int_eq(access_fmt_capture(&f, &r, &cap), 0);
    access_resp_t rs = resp();
    size_t bound = access_fmt_bound(&f, &cap);
    size_t n = access_fmt_render(&f, &cap, &rs, out, sizeof(out));
    ck_assert_uint_le(n, bound);
    ck_assert_int_eq(out[n - 1], '\n');
    out[n - 1] = '\0';
    buf_free(&cap);
    access_fmt_free(&f);
    return out;
}

static const char *compile_error(const char *fmt)
{
    static char err[200];
    access_fmt_t f;
    err[0] = '\0';
    ck_assert_int_eq(access_fmt_compile(&f, fmt, err, sizeof(err)), -1);
    ck_assert_ptr_null(f.ops);
    return err;
}

static void setup(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    access_clock_set(&clk, 1765006800); /* 2025-12-06 07:40:00 UTC */
}

START_TEST(combined_default)
{
    ck_assert_str_eq(clk.local, "06/Dec/2025:07:40:00 +0000");
    ck_assert_str_eq(clk.iso, "2025-12-06T07:40:00+00:00");
    ck_assert_str_eq(line(ACCESS_FMT_COMBINED,
                          "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n"
                          "User-Agent: curl/8\r\nReferer: http://r/\r\n\r\n",
                          NULL),
                     "10.0.0.1 - - [06/Dec/2025:07:40:00 +0000] "
                     "\"GET /a/b?x=1 HTTP/1.1\" 200 12 \"http://r/\" "
                     "\"curl/8\"");
}
END_TEST

START_TEST(request_variables)
{
    const char *h = "POST /p/q?k=v&z HTTP/1.0\r\nHost: example.org\r\n"
                    "Content-Length: 0\r\n\r\n";
    ck_assert_str_eq(line("$request_method|$request_uri|$uri|$path|$args|"
                          "$query_string|$host|$server_protocol", h, NULL),
                     "POST|/p/q?k=v&z|/p/q|/p/q|k=v&z|k=v&z|example.org|"
                     "HTTP/1.0");
    ck_assert_str_eq(line("$remote_addr:$remote_port via $proxy_addr", h,
                          "192.0.2.7"), "10.0.0.1:5000 via 192.0.2.7");
    ck_assert_str_eq(line("$proxy_addr|$args|", "GET / HTTP/1.1\r\n"
                          "Host: a\r\n\r\n", NULL), "-||");
    ck_assert_str_eq(line("${request_method}x${uri}", h, NULL), "POSTx/p/q");
}
END_TEST

START_TEST(response_variables)
{
    const char *h = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    ck_assert_str_eq(line("$status $bytes_sent $body_bytes_sent "
                          "$request_length", h, NULL), "200 150 12 77");
    ck_assert_str_eq(line("$request_time $request_time_us $response_time_us",
                          h, NULL), "0.012 12345 678");
    ck_assert_str_eq(line("$msec $pid $worker_id $connection "
                          "$connection_requests $remote_user $ssl_protocol",
                          h, NULL), "1765006800.123 4242 3 99 2 - -");
    ck_assert_str_eq(line("[$time_iso8601]", h, NULL),
                     "[2025-12-06T07:40:00+00:00]");
    setenv("TZ", "XST-5:30", 1);
    tzset();
    access_clock_set(&clk, 1765006800);
    ck_assert_str_eq(clk.local, "06/Dec/2025:13:10:00 +0530");
    ck_assert_str_eq(clk.iso, "2025-12-06T13:10:00+05:30");
}
END_TEST

START_TEST(headers_any_field)
{
    const char *h = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n"
                    "x-forwarded-for: 2.2.2.2\r\nX-Empty:\r\n\r\n";
    ck_assert_str_eq(line("$http_x_forwarded_for", h, NULL),
                     "1.1.1.1, 2.2.2.2");
    ck_assert_str_eq(line("[$http_x_empty][$http_x_missing][$http_host]", h,
                          NULL), "[][-][a]");
}
END_TEST

START_TEST(escaping)
{
    const char *h = "GET /%22q HTTP/1.1\r\nHost: a\r\n"
                    "User-Agent: a \"quoted\" \\ tab\there \xc3\xa9\xff\r\n\r\n";
    /* The parser refuses other control bytes; HTAB and obs-text pass. */
    ck_assert_str_eq(line("\"$http_user_agent\" $uri", h, NULL),
                     "\"a \\x22quoted\\x22 \\x5C tab\\x09here \\xC3\\xA9\\xFF\" "
                     "/%22q");
}
END_TEST

START_TEST(without_request)
{
    ck_assert_str_eq(line(ACCESS_FMT_COMBINED, NULL, NULL),
                     "10.0.0.1 - - [06/Dec/2025:07:40:00 +0000] \"-\" 200 12 "
                     "\"-\" \"-\"");
    /* Nothing captured at all (an empty buffer): every value is "-". */
    char out[256], err[100];
    access_fmt_t f;
    buf_t none = {0};
    access_resp_t r = resp();
    ck_assert_int_eq(access_fmt_compile(&f, "$remote_addr $uri $status", err,
                                        sizeof(err)), 0);
    size_t n = access_fmt_render(&f, &none, &r, out, sizeof(out));
    ck_assert_uint_le(n, access_fmt_bound(&f, &none));
    out[n] = '\0';
    ck_assert_str_eq(out, "- - 200\n");
    access_fmt_free(&f);
}
END_TEST

START_TEST(cut_keeps_newline)
{
    char out[16], err[100];
    access_fmt_t f;
    buf_t none = {0};
    access_resp_t r = resp();
    ck_assert_int_eq(access_fmt_compile(&f, "literal text that is long "
                                        "$status", err, sizeof(err)), 0);
    size_t n = access_fmt_render(&f, &none, &r, out, sizeof(out));
    ck_assert_uint_eq(n, sizeof(out));
    ck_assert_int_eq(memcmp(out, "literal text th\n", 16), 0);
    n = access_fmt_render(&f, &none, &r, out, 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(out[0], '\n');
    access_fmt_free(&f);
}
END_TEST

START_TEST(compile_errors)
{
    ck_assert_ptr_nonnull(strstr(compile_error("$nosuch x"),
                                 "unknown variable $nosuch"));
    ck_assert_ptr_nonnull(strstr(compile_error("cost: 5$"), "offset 7"));
    ck_assert_ptr_nonnull(strstr(compile_error("${status"), "offset 0"));
    ck_assert_ptr_nonnull(strstr(compile_error("a $ b"), "variable name"));
    ck_assert_ptr_nonnull(strstr(compile_error("$http_"), "unknown"));
    ck_assert_ptr_nonnull(strstr(compile_error(""), "1 to"));
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_ptr_nonnull(strstr(compile_error(big), "1 to"));
}
END_TEST

START_TEST(literal_only)
{
    ck_assert_str_eq(line("just text", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                          NULL), "just text");
    char err[100];
    access_fmt_t f;
    ck_assert_int_eq(access_fmt_compile(&f, "x $status", err, sizeof(err)), 0);
    ck_assert_int_eq(access_fmt_wants_request(&f), 0);
    access_fmt_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("access_fmt");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, combined_default);
    tcase_add_test(tc, request_variables);
    tcase_add_test(tc, response_variables);
    tcase_add_test(tc, headers_any_field);
    tcase_add_test(tc, escaping);
    tcase_add_test(tc, without_request);
    tcase_add_test(tc, cut_keeps_newline);
    tcase_add_test(tc, compile_errors);
    tcase_add_test(tc, literal_only);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
