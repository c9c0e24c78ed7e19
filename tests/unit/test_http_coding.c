/* test_http_coding.c: Accept-Encoding as RFC 9110 §12.5.3 reads it, the
 * types worth compressing, and gzip/deflate output that zlib reads back. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "protocol/http_coding.h"

#define GZ HTTP_CODING_GZIP
#define DF HTTP_CODING_DEFLATE

static int accept(const char *v)
{
    return http_accept_coding(v, strlen(v));
}

START_TEST(test_accept_coding)
{
    ck_assert_int_eq(accept("gzip"), GZ);
    ck_assert_int_eq(accept("gzip, deflate, br"), GZ | DF);
    ck_assert_int_eq(accept(" GZIP ;q=0.5 , Deflate"), GZ | DF);
    ck_assert_int_eq(accept("x-gzip"), GZ);
    ck_assert_int_eq(accept("br"), 0);
    ck_assert_int_eq(accept(""), 0);
    ck_assert_int_eq(accept("identity"), 0);
    /* q=0 refuses, in every spelling. */
    ck_assert_int_eq(accept("gzip;q=0"), 0);
    ck_assert_int_eq(accept("gzip; q=0.000, deflate"), DF);
    ck_assert_int_eq(accept("gzip;q=0.001"), GZ);
    ck_assert_int_eq(accept("gzip;q=1.0"), GZ);
    /* "*" covers what is not named. */
    ck_assert_int_eq(accept("*"), GZ | DF);
    ck_assert_int_eq(accept("*;q=0"), 0);
    ck_assert_int_eq(accept("gzip;q=0, *"), DF);
    ck_assert_int_eq(accept("*, deflate;q=0"), GZ);
    /* A malformed q is ignored, not taken as acceptance. */
    ck_assert_int_eq(accept("gzip;q=2"), 0);
    ck_assert_int_eq(accept("gzip;q=abc, deflate"), DF);
    ck_assert_int_eq(accept(",,gzip,,"), GZ);
}
END_TEST

START_TEST(test_compressible_type)
{
    const char *yes[] = {"text/plain", "text/html; charset=utf-8",
                         "application/json", "APPLICATION/JSON;charset=x",
                         "application/javascript", "image/svg+xml",
                         "application/ld+json", "application/vnd.x+xml"};
    const char *no[] = {"image/png", "application/octet-stream",
                        "application/zip", "video/mp4", "text/", "",
                        "application/jsonx", "+json"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(http_compressible_type(yes[i], strlen(yes[i])), "%s",
                      yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(!http_compressible_type(no[i], strlen(no[i])), "%s",
                      no[i]);
}
END_TEST

/* Inflate with zlib's automatic header detection (gzip or zlib). */
static size_t inflate_all(const char *in, size_t len, char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, 15 + 32), Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = cap - z.avail_out;
    inflateEnd(&z);
    return n;
}

START_TEST(test_compress_round_trip)
{
    size_t n = 100000;
    char *text = malloc(n), *back = malloc(n + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(back);
    for (size_t i = 0; i < n; i++)
        text[i] = "hello, compressed world\n"[i % 24];
    int codings[] = {GZ, DF};
    for (int c = 0; c < 2; c++) {
        buf_t out = {0};
        ck_assert_int_eq(http_compress(codings[c], 1, text, n, &out), 0);
        ck_assert_uint_lt(buf_pending(&out), n / 10);
        const unsigned char *h = (const unsigned char *)buf_head(&out);
        if (codings[c] == GZ)
            ck_assert(h[0] == 0x1f && h[1] == 0x8b);
        else
            ck_assert_int_eq(h[0] & 0x0f, 8); /* zlib: CM = deflate */
        ck_assert_uint_eq(inflate_all(buf_head(&out), buf_pending(&out),
                                      back, n + 1), n);
        ck_assert_int_eq(memcmp(text, back, n), 0);
        buf_free(&out);
    }
    /* Nothing compresses to a valid empty stream. */
    buf_t out = {0};
    ck_assert_int_eq(http_compress(GZ, 9, "", 0, &out), 0);
    ck_assert_uint_eq(inflate_all(buf_head(&out), buf_pending(&out), back,
                                  1), 0);
    buf_free(&out);
    free(text);
    free(back);
}
END_TEST

START_TEST(test_ws_deflate)
{
    size_t n = 50000;
    char *text = malloc(n);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < n; i++)
        text[i] = "permessage-deflate "[i % 19];
    for (int bits = 9; bits <= 15; bits++) {
        buf_t z = {0}, back = {0};
        ck_assert_int_eq(ws_deflate_message(1, bits, text, n, &z), 0);
        ck_assert_uint_lt(buf_pending(&z), n / 10);
        ck_assert_int_eq(ws_inflate_message(buf_head(&z), buf_pending(&z), n,
                                            &back), 0);
        ck_assert_uint_eq(buf_pending(&back), n);
        ck_assert_int_eq(memcmp(buf_head(&back), text, n), 0);
        buf_free(&back);
        /* One byte less than it inflates to: refused, and no more kept. */
        ck_assert_int_eq(ws_inflate_message(buf_head(&z), buf_pending(&z),
                                            n - 1, &back), -E2BIG);
        ck_assert_uint_le(buf_pending(&back), n - 1);
        buf_free(&back);
        buf_free(&z);
    }
    buf_t back = {0};
    ck_assert_int_eq(ws_inflate_message("\xff\xff\xff", 3, 100, &back),
                     -EINVAL);
    buf_free(&back);
    ck_assert_int_eq(ws_inflate_message("", 0, 100, &back), 0);
    ck_assert_uint_eq(buf_pending(&back), 0);
    buf_free(&back);
    free(text);
}
END_TEST

static Suite *coding_suite(void)
{
    Suite *s = suite_create("http_coding");
    TCase *t = tcase_create("http_coding");
    tcase_add_test(t, test_accept_coding);
    tcase_add_test(t, test_compressible_type);
    tcase_add_test(t, test_compress_round_trip);
    tcase_add_test(t, test_ws_deflate);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(coding_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
