/* test_framer.c: Swoole-compatible framing: EOF split, every length type,
 * limits, and streams cut at every byte. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/framer.h"

#define MAXMSG 64

/*
 * Play a reactor: bytes arrive in pieces of `step` (0 = all at once) into a
 * buffer; complete messages are taken off the front. Returns the number of
 * messages, their lengths in lens[], or the first error.
 */
static int reactor_feed(const framer_cfg_t *cfg, const char *in, size_t len,
                        size_t step, size_t *lens)
{
    char *buf = malloc(len + 1);
    ck_assert_ptr_nonnull(buf);
    size_t have = 0, front = 0, scan = 0;
    int n = 0;
    size_t fed = 0;
    while (fed < len || step == 0) {
        size_t add = step == 0 ? len : (len - fed < step ? len - fed : step);
        memcpy(buf + have, in + fed, add);
        have += add;
        fed += add;
        ssize_t r;
        while ((r = framer_next(cfg, buf + front, have - front, &scan)) > 0) {
            ck_assert_uint_le((size_t)r, have - front);
            ck_assert_int_lt(n, MAXMSG);
            lens[n++] = (size_t)r;
            front += (size_t)r;
        }
        if (r < 0) {
            free(buf);
            return (int)r;
        }
        if (step == 0)
            break;
    }
    free(buf);
    return n;
}

/* The same messages whether the stream comes whole, bytewise or in twos. */
static void expect_msgs(const framer_cfg_t *cfg, const char *in, size_t len,
                        const size_t *want, int nwant)
{
    size_t lens[MAXMSG];
    for (size_t step = 0; step <= 3; step++) {
        int n = reactor_feed(cfg, in, len, step, lens);
        ck_assert_int_eq(n, nwant);
        for (int i = 0; i < n; i++)
            ck_assert_uint_eq(lens[i], want[i]);
    }
}

/* Every two-piece split of the stream gives the same messages. */
static void expect_every_split(const framer_cfg_t *cfg, const char *in,
                               size_t len, const size_t *want, int nwant)
{
    char *buf = malloc(len + 1);
    for (size_t cut = 0; cut <= len; cut++) {
        size_t have = 0, front = 0, scan = 0;
        int n = 0;
        for (int piece = 0; piece < 2; piece++) {
            size_t add = piece == 0 ? cut : len - cut;
            memcpy(buf + have, in + have, add);
            have += add;
            ssize_t r;
            while ((r = framer_next(cfg, buf + front, have - front, &scan)) > 0) {
                ck_assert_int_lt(n, nwant);
                ck_assert_uint_eq((size_t)r, want[n]);
                n++;
                front += (size_t)r;
            }
            ck_assert_int_eq(r, 0);
        }
        ck_assert_int_eq(n, nwant);
    }
    free(buf);
}

static framer_cfg_t eof_cfg(const char *eof, size_t max)
{
    framer_cfg_t c;
    const char *err = NULL;
    ck_assert_int_eq(framer_cfg_eof(&c, eof, strlen(eof), max, &err), 0);
    ck_assert_ptr_null(err);
    return c;
}

START_TEST(raw_takes_everything)
{
    framer_cfg_t c;
    ck_assert_int_eq(framer_cfg_raw(&c), 0);
    ck_assert_int_eq(framer_next(&c, "hello", 5, NULL), 5);
    ck_assert_int_eq(framer_next(&c, "", 0, NULL), 0);
}
END_TEST

START_TEST(cfg_rejects_bad_combinations)
{
    framer_cfg_t c;
    const char *err = NULL;
    ck_assert_int_eq(framer_cfg_eof(&c, "", 0, 100, &err), -EINVAL);
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_int_eq(framer_cfg_eof(&c, "123456789", 9, 100, &err), -EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(framer_cfg_eof(&c, "\r\n", 2, 1, &err), -EINVAL);
    ck_assert_int_eq(framer_cfg_eof(&c, "12345678", 8, 8, &err), 0);
    const char *bad = "xXaAhHzZ0 jJpPiI";
    for (const char *t = bad; *t; t++)
        ck_assert_int_eq(framer_cfg_length(&c, *t, 0, 4, 100, &err), -EINVAL);
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 0, 4, 0, &err), -EINVAL);
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 97, 4, 100, &err), -EINVAL);
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 96, 4, 100, &err), 0);
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 0, 101, 100, &err), -EINVAL);
    ck_assert_int_eq(framer_cfg_length(&c, 'N', (size_t)-2, 0, 100, &err), -EINVAL);
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 0, 0, (size_t)-1, &err), -EINVAL);
    /* Swoole allows the body to start before the field ends. */
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 4, 0, 100, NULL), 0);
    ck_assert_uint_eq(c.package_length_size, 4);
}
END_TEST

START_TEST(eof_one_and_many)
{
    framer_cfg_t c = eof_cfg("\r\n", 1024);
    size_t one[] = {7};
    expect_msgs(&c, "hello\r\n", 7, one, 1);
    const char *s = "a\r\nbb\r\n\r\nccc\r\npartial";
    size_t many[] = {3, 4, 2, 5};
    expect_msgs(&c, s, strlen(s), many, 4);
    expect_every_split(&c, s, strlen(s), many, 4);
    size_t scan = 0;
    ck_assert_int_eq(framer_next(&c, "abc", 3, &scan), 0);
    ck_assert_uint_eq(scan, 2);
    ck_assert_int_eq(framer_next(&c, "abc\r", 4, &scan), 0);
    ck_assert_uint_eq(scan, 3);
    ck_assert_int_eq(framer_next(&c, "abc\r\n", 5, &scan), 5);
    ck_assert_uint_eq(scan, 0);
}
END_TEST

START_TEST(eof_every_delimiter_length)
{
    const char *delims[] = {"|", "\r\n", "aab", "\r\n\r\n", "abcab", "xxxxxy",
                            "EOF_EOF", "12341235"};
    for (size_t d = 0; d < 8; d++) {
        const char *e = delims[d];
        size_t el = strlen(e);
        ck_assert_uint_eq(el, d + 1);
        framer_cfg_t c = eof_cfg(e, 1024);
        /* Bodies made of the delimiter's own prefixes stress resumption. */
        char s[256];
        size_t want[3], len = 0;
        for (int m = 0; m < 3; m++) {
            size_t start = len;
            for (size_t k = 0; k < (size_t)m + 1; k++) {
                memcpy(s + len, e, el - 1);
                len += el - 1;
                s[len++] = 'z';
            }
            memcpy(s + len, e, el);
            len += el;
            want[m] = len - start;
        }
        memcpy(s + len, e, el - 1);  /* an unfinished tail */
        len += el - 1;
        expect_msgs(&c, s, len, want, 3);
        expect_every_split(&c, s, len, want, 3);
    }
}
END_TEST

START_TEST(eof_repeated_prefix)
{
    framer_cfg_t c = eof_cfg("aab", 64);
    const char *s = "aaab" "aaaaab" "b" "aab";
    size_t want[] = {4, 6, 4};
    expect_msgs(&c, s, strlen(s), want, 3);
    expect_every_split(&c, s, strlen(s), want, 3);
    c = eof_cfg("\r\n\r\n", 64);
    s = "\r\n\r\r\n\r\n" "x\r\n\r\n";
    size_t want2[] = {7, 5};
    expect_msgs(&c, s, strlen(s), want2, 2);
    expect_every_split(&c, s, strlen(s), want2, 2);
}
END_TEST

START_TEST(eof_max_length)
{
    framer_cfg_t c = eof_cfg("\r\n", 8);
    size_t lens[MAXMSG];
    /* Exactly max_length with the delimiter is fine. */
    size_t want[] = {8};
    expect_msgs(&c, "123456\r\n", 8, want, 1);
    /* Delimiter ending one byte past max_length. */
    ck_assert_int_eq(framer_next(&c, "1234567\r\n", 9, NULL), -EMSGSIZE);
    ck_assert_int_eq(reactor_feed(&c, "1234567\r\n", 9, 1, lens), -EMSGSIZE);
    /* max_length bytes, no delimiter: no point waiting. */
    ck_assert_int_eq(framer_next(&c, "12345678", 8, NULL), -EMSGSIZE);
    ck_assert_int_eq(framer_next(&c, "1234567", 7, NULL), 0);
    /* A stale scan offset past the data is ignored, not trusted. */
    size_t scan = 100;
    ck_assert_int_eq(framer_next(&c, "1\r\n", 3, &scan), 3);
}
END_TEST

/* Encode v into a field of the given type. */
static void put_len(char type, uint64_t v, char *p)
{
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;
    switch (type) {
    case 'c': case 'C': p[0] = (char)v; break;
    case 's': case 'S': memcpy(p, &u16, 2); break;
    case 'n': p[0] = (char)(v >> 8); p[1] = (char)v; break;
    case 'v': p[0] = (char)v; p[1] = (char)(v >> 8); break;
    case 'l': case 'L': memcpy(p, &u32, 4); break;
    case 'N': for (int i = 0; i < 4; i++) p[i] = (char)(v >> (24 - 8 * i)); break;
    case 'V': for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i)); break;
    default: memcpy(p, &v, 8); break;
    }
}

START_TEST(length_every_type)
{
    const char *types = "cCsSnvlLNVqQ";
    size_t sizes[] = {1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8};
    for (int t = 0; types[t]; t++) {
        framer_cfg_t c;
        /* [2 bytes magic][length][body] */
        ck_assert_int_eq(framer_cfg_length(&c, types[t], 2, 2 + sizes[t], 4096, NULL), 0);
        char s[512];
        size_t len = 0, want[3];
        for (int m = 0; m < 3; m++) {
            size_t body = (size_t)(m * 50 + 1);
            s[len] = 'M';
            s[len + 1] = (char)m;
            put_len(types[t], body, s + len + 2);
            memset(s + len + 2 + sizes[t], 'a' + m, body);
            want[m] = 2 + sizes[t] + body;
            len += want[m];
        }
        expect_msgs(&c, s, len, want, 3);
        expect_every_split(&c, s, len, want, 3);
    }
}
END_TEST

START_TEST(length_endianness)
{
    framer_cfg_t c;
    const char be[] = {0x01, 0x02};
    ck_assert_int_eq(framer_cfg_length(&c, 'n', 0, 0, 65535, NULL), 0);
    ck_assert_int_eq(framer_next(&c, be, 2, NULL), 0);  /* wants 0x0102 */
    char big[0x0102];
    memcpy(big, be, 2);
    ck_assert_int_eq(framer_next(&c, big, sizeof(big), NULL), 0x0102);
    ck_assert_int_eq(framer_cfg_length(&c, 'v', 0, 0, 65535, NULL), 0);
    char le[0x0201] = {0x01, 0x02};
    ck_assert_int_eq(framer_next(&c, le, sizeof(le) - 1, NULL), 0);
    ck_assert_int_eq(framer_next(&c, le, sizeof(le), NULL), 0x0201);
    /* 'N' 0x00000005 versus 'L' host order of the same bytes. */
    const char n5[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e'};
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 0, 4, 1u << 30, NULL), 0);
    ck_assert_int_eq(framer_next(&c, n5, sizeof(n5), NULL), 9);
    ck_assert_int_eq(framer_cfg_length(&c, 'L', 0, 4, 1u << 20, NULL), 0);
    ck_assert_int_eq(framer_next(&c, n5, sizeof(n5), NULL), -EMSGSIZE);
}
END_TEST

START_TEST(length_header_with_extra_fields)
{
    /* [type:1][len:N at 1][flags:3] body at 8; length counts the body only. */
    framer_cfg_t c;
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 1, 8, 1024, NULL), 0);
    char s[64] = {'T', 0, 0, 0, 3, 'f', 'f', 'f', 'x', 'y', 'z',
                  'U', 0, 0, 0, 0, 'g', 'g', 'g'};
    size_t want[] = {11, 8};
    expect_msgs(&c, s, 19, want, 2);
    expect_every_split(&c, s, 19, want, 2);
    /* body_offset 0: the length field counts the whole message. */
    ck_assert_int_eq(framer_cfg_length(&c, 'n', 0, 0, 1024, NULL), 0);
    const char whole[] = {0, 4, 'a', 'b', 0, 2};
    size_t want2[] = {4, 2};
    expect_msgs(&c, whole, sizeof(whole), want2, 2);
    /* ...and one that does not even cover its own length field. */
    const char tiny[] = {0, 1, 'a'};
    ck_assert_int_eq(framer_next(&c, tiny, 3, NULL), -EBADMSG);
    const char zero[] = {0, 0};
    ck_assert_int_eq(framer_next(&c, zero, 2, NULL), -EBADMSG);
}
END_TEST

START_TEST(length_max_exceeded)
{
    framer_cfg_t c;
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 0, 4, 100, NULL), 0);
    char s[8] = {0, 0, 0, 96};
    ck_assert_int_eq(framer_next(&c, s, 4, NULL), 0);
    s[3] = 97;  /* 4 + 97 > 100: known before the body arrives */
    ck_assert_int_eq(framer_next(&c, s, 4, NULL), -EMSGSIZE);
    /* The largest unsigned values cannot wrap the total. */
    ck_assert_int_eq(framer_cfg_length(&c, 'Q', 0, 8, 100, NULL), 0);
    memset(s, 0xff, 8);
    ck_assert_int_eq(framer_next(&c, s, 8, NULL), -EMSGSIZE);
    ck_assert_int_eq(framer_cfg_length(&c, 'L', 0, 4, 100, NULL), 0);
    ck_assert_int_eq(framer_next(&c, s, 4, NULL), -EMSGSIZE);
}
END_TEST

START_TEST(length_negative_signed)
{
    const char *types = "cslq";
    framer_cfg_t c;
    char s[8];
    memset(s, 0xff, sizeof(s));
    for (int t = 0; types[t]; t++) {
        ck_assert_int_eq(framer_cfg_length(&c, types[t], 0, 8, 100, NULL), 0);
        ck_assert_int_eq(framer_next(&c, s, 8, NULL), -EBADMSG);
    }
    /* The unsigned twins read the same bytes as too large, not negative. */
    ck_assert_int_eq(framer_cfg_length(&c, 'C', 0, 8, 100, NULL), 0);
    ck_assert_int_eq(framer_next(&c, s, 8, NULL), -EMSGSIZE);
}
END_TEST

START_TEST(length_announced_size)
{
    framer_cfg_t c;
    uint64_t total = 0;
    /* N at offset 2, body from 6: a field of 1 MiB announces 1 MiB + 6. */
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 2, 6, 1024, NULL), 0);
    const char big[] = {'x', 'y', 0, 0x10, 0, 0};
    ck_assert_int_eq(framer_next(&c, big, sizeof(big), NULL), -EMSGSIZE);
    ck_assert_int_eq(framer_announced(&c, big, sizeof(big), &total), 0);
    ck_assert_uint_eq(total, (1u << 20) + 6);
    /* Not yet known, or not a size at all. */
    ck_assert_int_eq(framer_announced(&c, big, 5, &total), -1);
    ck_assert_int_eq(framer_cfg_length(&c, 'q', 0, 8, 100, NULL), 0);
    char neg[8];
    memset(neg, 0xff, sizeof(neg));
    ck_assert_int_eq(framer_announced(&c, neg, 8, &total), -1);
    /* Saturates instead of wrapping. */
    ck_assert_int_eq(framer_cfg_length(&c, 'Q', 0, 8, 100, NULL), 0);
    ck_assert_int_eq(framer_announced(&c, neg, 8, &total), 0);
    ck_assert_uint_eq(total, UINT64_MAX);
    ck_assert_int_eq(framer_cfg_eof(&c, "\n", 1, 100, NULL), 0);
    ck_assert_int_eq(framer_announced(&c, "abc", 3, &total), -1);
}
END_TEST

START_TEST(length_needs_field_first)
{
    framer_cfg_t c;
    ck_assert_int_eq(framer_cfg_length(&c, 'N', 4, 8, 100, NULL), 0);
    const char s[] = {1, 2, 3, 4, 0, 0, 0};
    for (size_t i = 0; i <= sizeof(s); i++)
        ck_assert_int_eq(framer_next(&c, s, i, NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("framer");
    TCase *tc = tcase_create("framer");
    tcase_add_test(tc, raw_takes_everything);
    tcase_add_test(tc, cfg_rejects_bad_combinations);
    tcase_add_test(tc, eof_one_and_many);
    tcase_add_test(tc, eof_every_delimiter_length);
    tcase_add_test(tc, eof_repeated_prefix);
    tcase_add_test(tc, eof_max_length);
    tcase_add_test(tc, length_every_type);
    tcase_add_test(tc, length_endianness);
    tcase_add_test(tc, length_header_with_extra_fields);
    tcase_add_test(tc, length_max_exceeded);
    tcase_add_test(tc, length_negative_signed);
    tcase_add_test(tc, length_announced_size);
    tcase_add_test(tc, length_needs_field_first);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
