/* test_dns.c: the name lookup cache (TTL, recency, bound, case) and what
 * lookups accept (host names, the dns_server setting). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro/dns_cache.h"
#include "coro/dns_name.h"

/* n addresses 10.0.0.(base + i). */
static void addrs(swx_co_addr_t *a, int n, int base)
{
    for (int i = 0; i < n; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].family = AF_INET;
        snprintf(a[i].ip, sizeof(a[i].ip), "10.0.0.%d", base + i);
        inet_pton(AF_INET, a[i].ip, a[i].addr);
    }
}

START_TEST(get_until_expiry)
{
    dns_cache_t c;
    swx_co_addr_t in[3], out[8];
    dns_cache_init(&c, 10);
    addrs(in, 3, 1);
    ck_assert_int_eq(dns_cache_get(&c, "a.test", AF_INET, 0, out, 8), 0);
    ck_assert_int_eq(dns_cache_put(&c, "a.test", AF_INET, in, 3, 1000), 0);
    ck_assert_int_eq(dns_cache_get(&c, "a.test", AF_INET, 999, out, 8), 3);
    ck_assert_str_eq(out[2].ip, "10.0.0.3");
    ck_assert_int_eq(dns_cache_get(&c, "a.test", AF_INET, 999, out, 2), 2);
    /* another family is another entry */
    ck_assert_int_eq(dns_cache_get(&c, "a.test", AF_INET6, 0, out, 8), 0);
    ck_assert_int_eq(dns_cache_get(&c, "a.test", AF_INET, 1000, out, 8), 0);
    ck_assert_uint_eq(c.count, 0); /* the expired entry was dropped */
    dns_cache_free(&c);
}
END_TEST

START_TEST(names_ignore_case_and_replace)
{
    dns_cache_t c;
    swx_co_addr_t in[2], out[8];
    dns_cache_init(&c, 10);
    addrs(in, 2, 1);
    ck_assert_int_eq(dns_cache_put(&c, "Mixed.Test", AF_INET, in, 1, 50), 0);
    ck_assert_int_eq(dns_cache_get(&c, "mixed.test", AF_INET, 0, out, 8), 1);
    addrs(in, 2, 7);
    ck_assert_int_eq(dns_cache_put(&c, "MIXED.test", AF_INET, in, 2, 90), 0);
    ck_assert_uint_eq(c.count, 1);
    ck_assert_int_eq(dns_cache_get(&c, "mixed.TEST", AF_INET, 60, out, 8), 2);
    ck_assert_str_eq(out[0].ip, "10.0.0.7");
    dns_cache_free(&c);
}
END_TEST

START_TEST(bounded_least_recent_goes)
{
    dns_cache_t c;
    swx_co_addr_t in[1], out[1];
    char name[32];
    dns_cache_init(&c, 3);
    addrs(in, 1, 1);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "n%d.test", i);
        ck_assert_int_eq(dns_cache_put(&c, name, AF_INET, in, 1, 100), 0);
    }
    /* n0 used now: n1 is the least recent */
    ck_assert_int_eq(dns_cache_get(&c, "n0.test", AF_INET, 0, out, 1), 1);
    ck_assert_int_eq(dns_cache_put(&c, "n3.test", AF_INET, in, 1, 100), 0);
    ck_assert_uint_eq(c.count, 3);
    ck_assert_int_eq(dns_cache_get(&c, "n1.test", AF_INET, 0, out, 1), 0);
    ck_assert_int_eq(dns_cache_get(&c, "n0.test", AF_INET, 0, out, 1), 1);
    ck_assert_int_eq(dns_cache_get(&c, "n2.test", AF_INET, 0, out, 1), 1);
    ck_assert_int_eq(dns_cache_get(&c, "n3.test", AF_INET, 0, out, 1), 1);
    dns_cache_free(&c);
}
END_TEST

START_TEST(many_entries_stay_bounded)
{
    dns_cache_t c;
    swx_co_addr_t in[1], out[1];
    char name[32];
    dns_cache_init(&c, 1000);
    addrs(in, 1, 1);
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "h%d.test", i);
        ck_assert_int_eq(dns_cache_put(&c, name, AF_INET, in, 1, 100), 0);
        ck_assert_uint_le(c.count, 1000);
    }
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "h%d.test", i);
        ck_assert_int_eq(dns_cache_get(&c, name, AF_INET, 0, out, 1),
                         i >= 19000);
    }
    dns_cache_clear(&c);
    ck_assert_uint_eq(c.count, 0);
    ck_assert_int_eq(dns_cache_get(&c, "h19999.test", AF_INET, 0, out, 1), 0);
    ck_assert_int_eq(dns_cache_put(&c, "again", AF_INET, in, 1, 100), 0);
    ck_assert_int_eq(dns_cache_get(&c, "again", AF_INET, 0, out, 1), 1);
    dns_cache_free(&c);
}
END_TEST

START_TEST(capacity_zero_and_address_cap)
{
    dns_cache_t c;
    swx_co_addr_t in[DNS_ADDRS_MAX + 8], out[DNS_ADDRS_MAX + 8];
    dns_cache_init(&c, 0);
    addrs(in, 4, 1);
    ck_assert_int_eq(dns_cache_put(&c, "x.test", AF_INET, in, 4, 100), 0);
    ck_assert_int_eq(dns_cache_get(&c, "x.test", AF_INET, 0, out, 8), 0);
    dns_cache_free(&c);
    dns_cache_init(&c, 5);
    addrs(in, DNS_ADDRS_MAX + 8, 1);
    ck_assert_int_eq(dns_cache_put(&c, "x.test", AF_INET, in,
                                   DNS_ADDRS_MAX + 8, 100), 0);
    ck_assert_int_eq(dns_cache_get(&c, "x.test", AF_INET, 0, out,
                                   DNS_ADDRS_MAX + 8), DNS_ADDRS_MAX);
    dns_cache_free(&c);
}
END_TEST

START_TEST(host_names)
{
    char label63[80], long_name[300];
    memset(label63, 'a', 63);
    strcpy(label63 + 63, ".com");
    ck_assert_int_eq(dns_name_check("localhost"), 0);
    ck_assert_int_eq(dns_name_check("a-b_c.Example.com"), 0);
    ck_assert_int_eq(dns_name_check("example.com."), 0);
    ck_assert_int_eq(dns_name_check(label63), 0);
    label63[63] = 'a'; /* a label of 64 */
    ck_assert_int_eq(dns_name_check(label63), -EINVAL);
    const char *bad[] = {NULL, "", ".", "..", ".a", "a..b", "a b", "a/b",
                         "a\n", "\xc3\xa9.com", "a.b..", "*.a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(dns_name_check(bad[i]) == -EINVAL, "%zu accepted", i);
    for (int i = 0; i < 126; i++)
        memcpy(long_name + 2 * i, "a.", 2);
    strcpy(long_name + 252, "a"); /* 253 bytes */
    ck_assert_int_eq(dns_name_check(long_name), 0);
    strcpy(long_name + 252, "ab");
    ck_assert_int_eq(dns_name_check(long_name), -EINVAL);
}
END_TEST

START_TEST(server_lists)
{
    dns_server_t s[DNS_SERVERS_MAX];
    char why[128];
    ck_assert_int_eq(dns_servers_parse("127.0.0.1", s, 8, why, 128), 1);
    ck_assert_int_eq(s[0].family, AF_INET);
    ck_assert_int_eq(s[0].port, 53);
    ck_assert_int_eq(dns_servers_parse("10.0.0.1:5353, [::1]:54,::2", s, 8,
                                       why, 128), 3);
    ck_assert_int_eq(s[0].port, 5353);
    ck_assert_int_eq(s[1].family, AF_INET6);
    ck_assert_int_eq(s[1].port, 54);
    ck_assert_int_eq(s[2].family, AF_INET6);
    ck_assert_int_eq(s[2].port, 53);
    ck_assert_int_eq(s[1].addr[15], 1);
    const char *bad[] = {"", ",", "dns.example", "1.2.3.4:", "1.2.3.4:99999",
                         "1.2.3.4:5x", "[::1", "[::1]x", "1.2.3.4 5.6.7.8",
                         "1.2.3.4,1,2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(dns_servers_parse(bad[i], s, 8, why, 128) == -EINVAL,
                      "\"%s\" accepted", bad[i]);
    ck_assert_int_eq(dns_servers_parse("1.1.1.1,1.1.1.2,1.1.1.3", s, 2, why,
                                       128), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "too many"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, get_until_expiry);
    tcase_add_test(tc, names_ignore_case_and_replace);
    tcase_add_test(tc, bounded_least_recent_goes);
    tcase_add_test(tc, many_entries_stay_bounded);
    tcase_add_test(tc, capacity_zero_and_address_cap);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("names");
    tcase_add_test(tn, host_names);
    tcase_add_test(tn, server_lists);
    suite_add_tcase(s, tn);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
