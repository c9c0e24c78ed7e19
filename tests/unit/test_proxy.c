/* test_proxy.c: the PROXY protocol parser: versions 1 and 2, IPv4, IPv6,
 * UNKNOWN and LOCAL, every split point, the bounds and malformed input. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "protocol/proxy.h"

static const unsigned char v2sig[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

/* A v2 header: the signature, ver_cmd, fam, then alen bytes of body. */
static size_t v2(unsigned char *out, int ver_cmd, int fam,
                 const unsigned char *body, size_t alen)
{
    memcpy(out, v2sig, 12);
    out[12] = (unsigned char)ver_cmd;
    out[13] = (unsigned char)fam;
    out[14] = (unsigned char)(alen >> 8);
    out[15] = (unsigned char)alen;
    if (alen > 0)
        memcpy(out + 16, body, alen);
    return 16 + alen;
}

static size_t make_v2_tcp4(unsigned char *out)
{
    static const unsigned char body[] = {
        192, 0, 2, 7, 10, 0, 0, 1, 0x30, 0x39, 0x00, 0x50,
    };
    return v2(out, 0x21, 0x11, body, sizeof(body));
}

/* Every prefix of a complete header is PROXY_MORE; the whole is DONE. */
static void check_splits(const void *hdr, size_t len)
{
    proxy_header_t h;
    for (size_t i = 0; i < len; i++)
        ck_assert_msg(proxy_parse(hdr, i, &h) == PROXY_MORE,
                      "prefix of %zu bytes: %s", i, h.error);
    ck_assert_int_eq(proxy_parse(hdr, len, &h), PROXY_DONE);
    ck_assert_uint_eq(h.len, len);
}

static void expect_error(const void *data, size_t len)
{
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(data, len, &h), PROXY_ERROR);
    ck_assert_ptr_nonnull(h.error);
}

START_TEST(v1_tcp4)
{
    const char *s = "PROXY TCP4 192.0.2.7 10.0.0.1 12345 80\r\nGET /";
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(s, strlen(s), &h), PROXY_DONE);
    ck_assert_uint_eq(h.len, strlen(s) - 5);
    ck_assert_int_eq(h.version, 1);
    ck_assert_int_eq(h.family, AF_INET);
    ck_assert_int_eq(h.local, 0);
    ck_assert_str_eq(h.src_addr, "192.0.2.7");
    ck_assert_str_eq(h.dst_addr, "10.0.0.1");
    ck_assert_int_eq(h.src_port, 12345);
    ck_assert_int_eq(h.dst_port, 80);
    check_splits(s, h.len);
}
END_TEST

START_TEST(v1_tcp6)
{
    const char *s = "PROXY TCP6 2001:db8:0:0::1 ::1 65535 0\r\n";
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(s, strlen(s), &h), PROXY_DONE);
    ck_assert_int_eq(h.family, AF_INET6);
    ck_assert_str_eq(h.src_addr, "2001:db8::1");
    ck_assert_str_eq(h.dst_addr, "::1");
    ck_assert_int_eq(h.src_port, 65535);
    ck_assert_int_eq(h.dst_port, 0);
    check_splits(s, strlen(s));
}
END_TEST

START_TEST(v1_unknown)
{
    const char *a = "PROXY UNKNOWN\r\n";
    const char *b = "PROXY UNKNOWN ffff::1 whatever 1 2\r\n";
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(a, strlen(a), &h), PROXY_DONE);
    ck_assert_int_eq(h.local, 1);
    ck_assert_int_eq(h.family, AF_UNSPEC);
    ck_assert_str_eq(h.src_addr, "");
    ck_assert_int_eq(proxy_parse(b, strlen(b), &h), PROXY_DONE);
    ck_assert_int_eq(h.local, 1);
    ck_assert_uint_eq(h.len, strlen(b));
    check_splits(b, strlen(b));
}
END_TEST

START_TEST(v1_longest)
{
    /* The specification's worst case is exactly 107 bytes. */
    const char *s = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    ck_assert_uint_eq(strlen(s), PROXY_V1_MAX);
    check_splits(s, strlen(s));
    /* One byte more and it is refused, CRLF found or not. */
    const char *t = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                    "ffff:ffff:ffff:ffff:ffff:ffff:fffff:ffff 65535 65535\r\n";
    expect_error(t, strlen(t));
    expect_error(t, strlen(t) - 1);
}
END_TEST

START_TEST(v1_too_long)
{
    char s[200];
    memset(s, 0, sizeof(s));
    strcpy(s, "PROXY UNKNOWN ");
    memset(s + strlen(s), 'x', 120);
    expect_error(s, PROXY_V1_MAX);
    expect_error(s, strlen(s));
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(s, PROXY_V1_MAX - 1, &h), PROXY_MORE);
}
END_TEST

START_TEST(v1_malformed)
{
    static const char *const bad[] = {
        "PROXY TCP4 192.0.2.7 10.0.0.1 12345 80 \r\n",  /* trailing space */
        "PROXY TCP4  192.0.2.7 10.0.0.1 12345 80\r\n",  /* two spaces */
        "PROXY TCP4 192.0.2.7 10.0.0.1 12345\r\n",      /* a field short */
        "PROXY TCP4 192.0.2.7 10.0.0.1 1 2 3\r\n",      /* one too many */
        "PROXY TCP4 ::1 10.0.0.1 12345 80\r\n",         /* family */
        "PROXY TCP6 192.0.2.7 ::1 12345 80\r\n",
        "PROXY TCP4 192.0.2.256 10.0.0.1 1 80\r\n",
        "PROXY TCP4 192.0.2.7 10.0.0.1 65536 80\r\n",   /* port range */
        "PROXY TCP4 192.0.2.7 10.0.0.1 012 80\r\n",     /* leading zero */
        "PROXY TCP4 192.0.2.7 10.0.0.1 -1 80\r\n",
        "PROXY TCP4 192.0.2.7 10.0.0.1 1 8a\r\n",
        "PROXY UDP4 192.0.2.7 10.0.0.1 1 80\r\n",
        "PROXY tcp4 192.0.2.7 10.0.0.1 1 80\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY \r\n",
        "PROXY TCP4 192.0.2.7 10.0.0.1 1 80\n",          /* LF alone */
        "PROXY TCP4 192.0.2.7 10.0.0.1 1 80\r\r\n",
        "PROXY TCP4 192.0.2.7\t10.0.0.1 1 80\r\n",
        "PROXYTCP4 192.0.2.7 10.0.0.1 1 80\r\n",
        "proxy TCP4 192.0.2.7 10.0.0.1 1 80\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "\r\n\r\n\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        proxy_header_t h;
        ck_assert_msg(proxy_parse(bad[i], strlen(bad[i]), &h) == PROXY_ERROR,
                      "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(h.error);
    }
}
END_TEST

START_TEST(v2_tcp4)
{
    unsigned char b[64];
    size_t n = make_v2_tcp4(b);
    memcpy(b + n, "rest", 4);
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(b, n + 4, &h), PROXY_DONE);
    ck_assert_uint_eq(h.len, n);
    ck_assert_int_eq(h.version, 2);
    ck_assert_int_eq(h.family, AF_INET);
    ck_assert_str_eq(h.src_addr, "192.0.2.7");
    ck_assert_str_eq(h.dst_addr, "10.0.0.1");
    ck_assert_int_eq(h.src_port, 12345);
    ck_assert_int_eq(h.dst_port, 80);
    check_splits(b, n);
}
END_TEST

START_TEST(v2_tcp6_with_tlvs)
{
    unsigned char body[36 + 12] = {0}, b[128];
    body[0] = 0x20; body[1] = 0x01; body[2] = 0x0d; body[3] = 0xb8;
    body[15] = 0x05;                 /* 2001:db8::5 */
    body[31] = 0x01;                 /* ::1 */
    body[32] = 0x01; body[33] = 0xbb; /* 443 */
    body[34] = 0x1f; body[35] = 0x90; /* 8080 */
    /* A TLV (PP2_TYPE_AUTHORITY, "host.ex") and a NOOP one. */
    memcpy(body + 36, "\x02\x00\x07host.ex\x04\x00\x00", 12);
    size_t n = v2(b, 0x21, 0x21, body, sizeof(body));
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(b, n, &h), PROXY_DONE);
    ck_assert_uint_eq(h.len, n);
    ck_assert_int_eq(h.family, AF_INET6);
    ck_assert_str_eq(h.src_addr, "2001:db8::5");
    ck_assert_str_eq(h.dst_addr, "::1");
    ck_assert_int_eq(h.src_port, 443);
    ck_assert_int_eq(h.dst_port, 8080);
    check_splits(b, n);
}
END_TEST

START_TEST(v2_local_unspec_unix)
{
    unsigned char b[300], body[216] = {0};
    proxy_header_t h;
    size_t n = v2(b, 0x20, 0x00, NULL, 0);  /* LOCAL, no addresses */
    ck_assert_int_eq(proxy_parse(b, n, &h), PROXY_DONE);
    ck_assert_int_eq(h.local, 1);
    ck_assert_uint_eq(h.len, 16);
    n = v2(b, 0x20, 0x11, body, 12);         /* LOCAL with addresses */
    ck_assert_int_eq(proxy_parse(b, n, &h), PROXY_DONE);
    ck_assert_int_eq(h.local, 1);
    ck_assert_str_eq(h.src_addr, "");
    n = v2(b, 0x21, 0x00, body, 5);          /* PROXY, family UNSPEC */
    ck_assert_int_eq(proxy_parse(b, n, &h), PROXY_DONE);
    ck_assert_int_eq(h.local, 1);
    n = v2(b, 0x21, 0x31, body, 216);        /* PROXY over AF_UNIX */
    ck_assert_int_eq(proxy_parse(b, n, &h), PROXY_DONE);
    ck_assert_int_eq(h.local, 0);
    ck_assert_int_eq(h.family, AF_UNIX);
    ck_assert_str_eq(h.src_addr, "unix");
    check_splits(b, n);
}
END_TEST

START_TEST(v2_bad)
{
    unsigned char b[PROXY_MAX + 64], body[256] = {0};
    size_t n = make_v2_tcp4(b);
    b[3] ^= 1;
    expect_error(b, n);                      /* signature */
    expect_error(b, 4);                      /* ... noticed at once */
    make_v2_tcp4(b);
    b[12] = 0x11;
    expect_error(b, n);                      /* version 1 in a v2 block */
    b[12] = 0x22;
    expect_error(b, n);                      /* command 2 */
    b[12] = 0x21;
    b[13] = 0x41;
    expect_error(b, n);                      /* family 4 */
    b[13] = 0x13;
    expect_error(b, n);                      /* transport 3 */
    n = v2(b, 0x21, 0x11, body, 11);
    expect_error(b, n);                      /* IPv4 block too short */
    n = v2(b, 0x21, 0x21, body, 35);
    expect_error(b, n);                      /* IPv6 block too short */
    n = v2(b, 0x21, 0x31, body, 215);
    expect_error(b, n);                      /* AF_UNIX block too short */
    /* Longer than the bound: refused from the 16 bytes alone. */
    v2(b, 0x21, 0x11, body, 0);
    b[14] = (unsigned char)((PROXY_MAX - 15) >> 8);
    b[15] = (unsigned char)(PROXY_MAX - 15);
    expect_error(b, 16);
    b[14] = 0xff;
    b[15] = 0xff;
    expect_error(b, 16);
    /* The bound itself is fine. */
    memset(b + 16, 0, PROXY_MAX - 16);
    b[14] = (unsigned char)((PROXY_MAX - 16) >> 8);
    b[15] = (unsigned char)(PROXY_MAX - 16);
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse(b, PROXY_MAX - 1, &h), PROXY_MORE);
    ck_assert_int_eq(proxy_parse(b, PROXY_MAX, &h), PROXY_DONE);
}
END_TEST

START_TEST(garbage)
{
    proxy_header_t h;
    ck_assert_int_eq(proxy_parse("", 0, &h), PROXY_MORE);
    expect_error("\x16\x03\x01", 3);         /* a TLS hello */
    expect_error("X", 1);
    expect_error("PRX", 3);
    ck_assert_int_eq(proxy_parse("PRO", 3, &h), PROXY_MORE);
    ck_assert_int_eq(proxy_parse("\r\n\r\n\0", 5, &h), PROXY_MORE);
    /* Random bytes never crash it and never claim more than they have. */
    unsigned char r[512];
    srand(7);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof(r));
        for (size_t i = 0; i < n; i++)
            r[i] = (unsigned char)rand();
        if (round % 3 == 0 && n >= 12)
            memcpy(r, v2sig, 12);
        else if (round % 3 == 1 && n >= 6)
            memcpy(r, "PROXY ", 6);
        int rc = proxy_parse(r, n, &h);
        if (rc == PROXY_DONE)
            ck_assert_uint_le(h.len, n);
        if (rc == PROXY_ERROR)
            ck_assert_ptr_nonnull(h.error);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, v1_tcp4);
    tcase_add_test(tc, v1_tcp6);
    tcase_add_test(tc, v1_unknown);
    tcase_add_test(tc, v1_longest);
    tcase_add_test(tc, v1_too_long);
    tcase_add_test(tc, v1_malformed);
    tcase_add_test(tc, v2_tcp4);
    tcase_add_test(tc, v2_tcp6_with_tlvs);
    tcase_add_test(tc, v2_local_unspec_unix);
    tcase_add_test(tc, v2_bad);
    tcase_add_test(tc, garbage);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
