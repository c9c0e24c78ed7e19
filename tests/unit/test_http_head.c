/* test_http_head.c: the response head writer: status lines of every
 * class, Server and Date (cached per second), framing by status, the
 * Connection field by version, the caller's lines in order, heads on
 * both sides of the size written in one pass, and heads that would not
 * fit refused with the buffer untouched. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_head.h"
#include "protocol/http_text.h"

/* The head h makes, as a C string (static: one at a time). */
static const char *head_of(const http_head_t *h)
{
    static char text[HTTP_HEAD_MAX + 1];
    buf_t b = {0};
    ck_assert_int_eq(http_head_append(&b, h), 0);
    ck_assert_uint_le(buf_pending(&b), HTTP_HEAD_MAX);
    memcpy(text, buf_head(&b), buf_pending(&b));
    text[buf_pending(&b)] = '\0';
    buf_free(&b);
    ck_assert_msg(strstr(text, "\r\n\r\n") == text + strlen(text) - 4,
                  "the head does not end at its first blank line: %s", text);
    return text;
}

/* The value of field name in head (exact case), or NULL; copied. */
static const char *field(const char *head, const char *name)
{
    static char value[256];
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *p = strstr(head, key);
    if (p == NULL)
        return NULL;
    p += strlen(key);
    size_t n = strcspn(p, "\r");
    ck_assert_uint_lt(n, sizeof(value));
    memcpy(value, p, n);
    value[n] = '\0';
    return value;
}

static int count(const char *head, const char *s)
{
    int n = 0;
    for (const char *p = strstr(head, s); p != NULL; p = strstr(p + 1, s))
        n++;
    return n;
}

START_TEST(status_classes)
{
    static const struct {
        int status;
        const char *line;
    } cases[] = {
        {100, "HTTP/1.1 100 Continue\r\n"},
        {101, "HTTP/1.1 101 Switching Protocols\r\n"},
        {200, "HTTP/1.1 200 OK\r\n"},
        {204, "HTTP/1.1 204 No Content\r\n"},
        {206, "HTTP/1.1 206 Partial Content\r\n"},
        {301, "HTTP/1.1 301 Moved Permanently\r\n"},
        {304, "HTTP/1.1 304 Not Modified\r\n"},
        {404, "HTTP/1.1 404 Not Found\r\n"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {503, "HTTP/1.1 503 Service Unavailable\r\n"},
        {599, "HTTP/1.1 599 Unknown\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_head_t h = {.status = cases[i].status};
        const char *head = head_of(&h);
        ck_assert_msg(strncmp(head, cases[i].line, strlen(cases[i].line)) == 0,
                      "%d: %s", cases[i].status, head);
    }
}
END_TEST

START_TEST(bad_status_refused)
{
    const int bad[] = {0, 99, 600, 1000, -200};
    buf_t b = {0};
    ck_assert_int_eq(buf_append(&b, "kept", 4), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_head_t h = {.status = bad[i]};
        ck_assert_int_eq(http_head_append(&b, &h), -EINVAL);
        ck_assert_uint_eq(buf_pending(&b), 4);
    }
    buf_free(&b);
}
END_TEST

START_TEST(server_and_date)
{
    time_t before = time(NULL);
    http_head_t h = {.status = 200, .framing = HTTP_HEAD_LENGTH};
    const char *head = head_of(&h);
    time_t after = time(NULL);
    ck_assert_str_eq(field(head, "Server"), "swx");
    ck_assert_int_eq(count(head, "\r\nServer: "), 1);
    ck_assert_int_eq(count(head, "\r\nDate: "), 1);
    const char *date = field(head, "Date");
    time_t t;
    ck_assert_uint_eq(strlen(date), HTTP_DATE_LEN);
    ck_assert_int_eq(http_date_parse(date, strlen(date), &t), 0);
    ck_assert(t >= before && t <= after);
    ck_assert(strcmp(date + HTTP_DATE_LEN - 4, " GMT") == 0);
    /* Server and Date come right after the status line. */
    ck_assert(strncmp(head + strlen("HTTP/1.1 200 OK\r\n"),
                      "Server: swx\r\nDate: ", 19) == 0);
}
END_TEST

START_TEST(own_server_and_date)
{
    http_head_lines_t mine[] = {{"Server: mine\r\nDate: Sun, 06 Nov 1994 "
                                 "08:49:37 GMT\r\n", 0}};
    http_head_t h = {.status = 200, .lines = mine, .nlines = 1,
                     .own_server = 1, .own_date = 1};
    const char *head = head_of(&h);
    ck_assert_int_eq(count(head, "\r\nServer: "), 1);
    ck_assert_int_eq(count(head, "\r\nDate: "), 1);
    ck_assert_str_eq(field(head, "Server"), "mine");
    ck_assert_str_eq(field(head, "Date"), "Sun, 06 Nov 1994 08:49:37 GMT");
}
END_TEST

START_TEST(date_cached_per_second)
{
    const time_t t = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    const char *a = http_head_date(t);
    ck_assert_str_eq(a, "Sun, 06 Nov 1994 08:49:37 GMT");
    char first[HTTP_DATE_LEN + 1];
    strcpy(first, a);
    const char *b = http_head_date(t);
    ck_assert_ptr_eq(a, b); /* the one cached text, not a new one */
    ck_assert_str_eq(b, first);
    ck_assert_str_eq(http_head_date(t + 1), "Sun, 06 Nov 1994 08:49:38 GMT");
    ck_assert_str_eq(http_head_date(t + 86400),
                     "Mon, 07 Nov 1994 08:49:37 GMT");
    ck_assert_str_eq(http_head_date(t), first); /* back: formatted again */
    char want[HTTP_DATE_LEN + 1];
    time_t now = time(NULL);
    http_date(now, want);
    ck_assert_str_eq(http_head_date(now), want);
}
END_TEST

START_TEST(framing)
{
    http_head_t h = {.status = 200, .framing = HTTP_HEAD_LENGTH,
                     .length = 0};
    const char *head = head_of(&h);
    ck_assert_str_eq(field(head, "Content-Length"), "0");
    ck_assert_ptr_null(field(head, "Transfer-Encoding"));
    h.length = UINT64_MAX;
    ck_assert_str_eq(field(head_of(&h), "Content-Length"),
                     "18446744073709551615");
    h.length = 1234567;
    ck_assert_str_eq(field(head_of(&h), "Content-Length"), "1234567");
    h.framing = HTTP_HEAD_CHUNKED;
    head = head_of(&h);
    ck_assert_str_eq(field(head, "Transfer-Encoding"), "chunked");
    ck_assert_ptr_null(field(head, "Content-Length"));
    h.framing = HTTP_HEAD_UNFRAMED; /* HTTP/1.0: up to the close */
    head = head_of(&h);
    ck_assert_ptr_null(field(head, "Transfer-Encoding"));
    ck_assert_ptr_null(field(head, "Content-Length"));
}
END_TEST

/* 1xx, 204 and 304 have no body: no framing field, whatever is asked. A
 * HEAD's head is the GET's: its length is the caller's to give. */
START_TEST(framing_none_without_body)
{
    const int none[] = {100, 101, 103, 204, 304};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        for (int f = HTTP_HEAD_LENGTH; f <= HTTP_HEAD_CHUNKED; f++) {
            http_head_t h = {.status = none[i], .framing = f, .length = 5};
            const char *head = head_of(&h);
            ck_assert_msg(field(head, "Content-Length") == NULL &&
                              field(head, "Transfer-Encoding") == NULL,
                          "%d: %s", none[i], head);
        }
    }
    http_head_t head_req = {.status = 200, .framing = HTTP_HEAD_LENGTH,
                            .length = 42};
    ck_assert_str_eq(field(head_of(&head_req), "Content-Length"), "42");
}
END_TEST

START_TEST(connection_by_version)
{
    http_head_t h = {.status = 200, .framing = HTTP_HEAD_LENGTH};
    ck_assert_ptr_null(field(head_of(&h), "Connection")); /* 1.1 kept */
    h.http10 = 1;
    ck_assert_str_eq(field(head_of(&h), "Connection"), "keep-alive");
    h.conn = HTTP_HEAD_CLOSE;
    ck_assert_str_eq(field(head_of(&h), "Connection"), "close");
    h.http10 = 0;
    ck_assert_str_eq(field(head_of(&h), "Connection"), "close");
    h = (http_head_t){.status = 101, .conn = HTTP_HEAD_UPGRADE};
    ck_assert_str_eq(field(head_of(&h), "Connection"), "Upgrade");
    /* An interim response says nothing of the connection. */
    h = (http_head_t){.status = 100, .conn = HTTP_HEAD_CLOSE, .http10 = 1};
    const char *head = head_of(&h);
    ck_assert_ptr_null(field(head, "Connection"));
    ck_assert_str_eq(field(head, "Server"), "swx");
}
END_TEST

START_TEST(lines_in_order)
{
    const char cut[] = "X-Cut: yes\r\nX-Not-This: no\r\n";
    http_head_lines_t lines[] = {
        {"Content-Type: text/plain\r\n", 0},
        {NULL, 0},
        {cut, 12}, /* only its first line */
        {"X-A: 1\r\nX-B: 2\r\n", 0},
        {"", 0},
        {"Retry-After: 7\r\n", 16},
    };
    http_head_t h = {.status = 503, .framing = HTTP_HEAD_LENGTH,
                     .length = 3, .conn = HTTP_HEAD_CLOSE, .lines = lines,
                     .nlines = sizeof(lines) / sizeof(lines[0])};
    const char *head = head_of(&h);
    const char *want = "Content-Type: text/plain\r\nX-Cut: yes\r\n"
                       "X-A: 1\r\nX-B: 2\r\nRetry-After: 7\r\n"
                       "Content-Length: 3\r\nConnection: close\r\n\r\n";
    const char *at = strstr(head, "Content-Type: ");
    ck_assert_ptr_nonnull(at);
    ck_assert_str_eq(at, want);
    ck_assert_ptr_null(strstr(head, "X-Not-This"));
    ck_assert(at > strstr(head, "\r\nDate: "));
}
END_TEST

/* Heads around the size laid out in one pass (HEAD_ROOM, 512 bytes) are
 * whole whichever way they were written: the same line of n bytes, for
 * n on both sides of where the head passes 512 bytes. */
START_TEST(sizes_around_one_pass)
{
    static char line[1200];
    for (size_t n = 300; n <= 700; n++) {
        memset(line, 'v', n);
        memcpy(line, "X-Long: ", 8);
        memcpy(line + n - 2, "\r\n", 2);
        http_head_lines_t lines[] = {{line, n}, {"X-End: 1\r\n", 0}};
        http_head_t h = {.status = 200, .framing = HTTP_HEAD_LENGTH,
                         .length = 12345, .lines = lines, .nlines = 2};
        const char *head = head_of(&h);
        const char *at = strstr(head, "X-Long: ");
        ck_assert_ptr_nonnull(at);
        ck_assert_int_eq(memcmp(at, line, n), 0);
        ck_assert_str_eq(at + n, "X-End: 1\r\nContent-Length: 12345\r\n\r\n");
        const char *start = "HTTP/1.1 200 OK\r\nServer: swx\r\nDate: ";
        ck_assert_int_eq(strncmp(head, start, strlen(start)), 0);
    }
}
END_TEST

/* Appended after what b holds, however b was consumed. */
START_TEST(appends)
{
    buf_t b = {0};
    ck_assert_int_eq(buf_append(&b, "0123456789", 10), 0);
    buf_consume(&b, 4);
    http_head_t h = {.status = 204};
    ck_assert_int_eq(http_head_append(&b, &h), 0);
    ck_assert_int_eq(memcmp(buf_head(&b), "456789HTTP/1.1 204 ", 19), 0);
    size_t len = buf_pending(&b);
    ck_assert_int_eq(http_head_append(&b, &h), 0);
    ck_assert_uint_eq(buf_pending(&b), 6 + 2 * (len - 6));
    buf_free(&b);
}
END_TEST

/* A field set that would make the head too long fails, and b keeps what
 * it had, whatever the sizes (no wrap-around in the count). */
START_TEST(overflow_refused)
{
    size_t big = HTTP_HEAD_MAX + 10;
    char *text = malloc(big);
    memset(text, 'a', big);
    buf_t b = {0};
    ck_assert_int_eq(buf_append(&b, "prefix", 6), 0);
    http_head_lines_t one[] = {{text, big}};
    http_head_t h = {.status = 200, .lines = one, .nlines = 1};
    ck_assert_int_eq(http_head_append(&b, &h), -E2BIG);
    ck_assert_uint_eq(buf_pending(&b), 6);
    ck_assert_int_eq(memcmp(buf_head(&b), "prefix", 6), 0);
    http_head_lines_t huge[] = {{text, SIZE_MAX - 3}, {text, SIZE_MAX}};
    h.lines = huge;
    h.nlines = 2;
    ck_assert_int_eq(http_head_append(&b, &h), -E2BIG);
    /* Many lines that add up past the limit. */
    http_head_lines_t many[16];
    for (size_t i = 0; i < 16; i++)
        many[i] = (http_head_lines_t){text, HTTP_HEAD_MAX / 15};
    h.lines = many;
    h.nlines = 16;
    ck_assert_int_eq(http_head_append(&b, &h), -E2BIG);
    ck_assert_uint_eq(buf_pending(&b), 6);
    /* At the limit exactly, it fits. */
    http_head_t bare = {.status = 200};
    buf_t probe = {0};
    ck_assert_int_eq(http_head_append(&probe, &bare), 0);
    size_t room = HTTP_HEAD_MAX - buf_pending(&probe);
    buf_free(&probe);
    one[0].len = room;
    h.lines = one;
    h.nlines = 1;
    ck_assert_int_eq(http_head_append(&b, &h), 0);
    ck_assert_uint_eq(buf_pending(&b), 6 + HTTP_HEAD_MAX);
    one[0].len = room + 1;
    ck_assert_int_eq(http_head_append(&b, &h), -E2BIG);
    ck_assert_uint_eq(buf_pending(&b), 6 + HTTP_HEAD_MAX);
    buf_free(&b);
    free(text);
}
END_TEST

static Suite *head_suite(void)
{
    Suite *s = suite_create("http_head");
    TCase *t = tcase_create("head");
    tcase_add_test(t, status_classes);
    tcase_add_test(t, bad_status_refused);
    tcase_add_test(t, server_and_date);
    tcase_add_test(t, own_server_and_date);
    tcase_add_test(t, date_cached_per_second);
    tcase_add_test(t, framing);
    tcase_add_test(t, framing_none_without_body);
    tcase_add_test(t, connection_by_version);
    tcase_add_test(t, lines_in_order);
    tcase_add_test(t, sizes_around_one_pass);
    tcase_add_test(t, appends);
    tcase_add_test(t, overflow_refused);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(head_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
