/* test_real_ip.c: the client named in X-Forwarded-For by trusted peers:
 * the rightmost address that is not trusted, over several fields; bad
 * items, untrusted peers, other header names. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/real_ip.h"

static cidr_list_t trusted;
static cidr_t nets[3];

static void setup(void)
{
    const char *why = NULL;
    ck_assert_int_eq(cidr_parse("127.0.0.1", &nets[0], &why), 0);
    ck_assert_int_eq(cidr_parse("10.0.0.0/8", &nets[1], &why), 0);
    ck_assert_int_eq(cidr_parse("fd00::/8", &nets[2], &why), 0);
    trusted.v = nets;
    trusted.n = 3;
}

/* The client for a request with these header lines, from peer; "" when
 * the peer is the client. */
static const char *client(const char *peer, const char *head)
{
    static char out[REAL_IP_LEN];
    static char text[2048];
    snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", head);
    http_request_t req;
    http_request_init(&req);
    ck_assert_int_gt(http_parse_head(text, strlen(text), NULL, &req), 0);
    if (!real_ip_find(&req, "X-Forwarded-For", &trusted, peer, out))
        return "";
    return out;
}

START_TEST(rightmost_untrusted)
{
    setup();
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: 203.0.113.5\r\n"),
                     "203.0.113.5");
    ck_assert_str_eq(client("127.0.0.1", "x-forwarded-for: 198.51.100.1, "
                            "203.0.113.5,10.1.2.3 \r\n"), "203.0.113.5");
    ck_assert_str_eq(client("10.9.9.9", "X-Forwarded-For: 2001:db8:0::1, "
                            "fd00::2\r\n"), "2001:db8::1");
    /* Several fields are one list, in order. */
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: 198.51.100.1\r\n"
                            "X-Other: 1.1.1.1\r\n"
                            "X-Forwarded-For: 10.0.0.1\r\n"),
                     "198.51.100.1");
    /* Every hop trusted: the leftmost. */
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: 10.0.0.1, "
                            "10.0.0.2\r\n"), "10.0.0.1");
}
END_TEST

START_TEST(untrusted_or_absent)
{
    setup();
    ck_assert_str_eq(client("192.0.2.1", "X-Forwarded-For: 203.0.113.5\r\n"),
                     "");
    ck_assert_str_eq(client("127.0.0.1", "X-Real-IP: 203.0.113.5\r\n"), "");
    ck_assert_str_eq(client("127.0.0.1", ""), "");
    cidr_list_t none = {NULL, 0};
    char out[REAL_IP_LEN];
    http_request_t req;
    http_request_init(&req);
    ck_assert_int_eq(real_ip_find(&req, "X-Forwarded-For", &none,
                                  "127.0.0.1", out), 0);
}
END_TEST

START_TEST(bad_items_end_the_walk)
{
    setup();
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: unknown\r\n"), "");
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: 203.0.113.5, "
                            "junk, 10.0.0.7\r\n"), "10.0.0.7");
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: 203.0.113.5,,"
                            "\r\n"), "");
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: 1.2.3.4:80\r\n"),
                     "");
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: [::1]\r\n"), "");
    ck_assert_str_eq(client("127.0.0.1", "X-Forwarded-For: 1.2.3.4 5.6.7.8"
                            "\r\n"), "");
    char longv[300];
    memset(longv, '1', sizeof(longv));
    longv[sizeof(longv) - 1] = '\0';
    char head[400];
    snprintf(head, sizeof(head), "X-Forwarded-For: %s\r\n", longv);
    ck_assert_str_eq(client("127.0.0.1", head), "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("real_ip");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rightmost_untrusted);
    tcase_add_test(tc, untrusted_or_absent);
    tcase_add_test(tc, bad_items_end_the_walk);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
