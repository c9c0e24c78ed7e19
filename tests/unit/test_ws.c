/* test_ws.c: WebSocket frames, masking, UTF-8, close payloads and the
 * handshake, plus the SHA-1 and base64 it rests on. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/base64.h"
#include "protocol/sha1.h"
#include "protocol/ws.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void ck_sha1(const char *msg, size_t len, const char *want)
{
    uint8_t d[SHA1_DIGEST_LEN];
    char h[41];
    sha1(msg, len, d);
    hex(d, sizeof(d), h);
    ck_assert_str_eq(h, want);
}

START_TEST(sha1_fips_vectors)
{
    ck_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ck_sha1(m448, strlen(m448), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    ck_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    /* A million 'a', fed in uneven pieces across block boundaries. */
    static char a[1000];
    memset(a, 'a', sizeof(a));
    sha1_ctx_t c;
    sha1_init(&c);
    for (int i = 0; i < 1000; i++) {
        sha1_update(&c, a, 333);
        sha1_update(&c, a, 667);
    }
    uint8_t d[SHA1_DIGEST_LEN];
    char h[41];
    sha1_final(&c, d);
    hex(d, sizeof(d), h);
    ck_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    /* 55, 56 and 64 bytes straddle the padding boundary. */
    ck_sha1(a, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    ck_sha1(a, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    ck_sha1(a, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}
END_TEST

START_TEST(base64_vectors)
{
    static const char *const t[][2] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
        {"\xff\xfe\xfd", "//79"}, {"\xfb\xef", "++8="},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n = strlen(t[i][0]);
        ck_assert_uint_eq(base64_encode(t[i][0], n, enc), base64_encoded_len(n));
        ck_assert_str_eq(enc, t[i][1]);
        ck_assert_int_eq(base64_decode(enc, strlen(enc), dec, sizeof(dec)), (ssize_t)n);
        ck_assert(memcmp(dec, t[i][0], n) == 0);
    }
    const char *bad[] = {"Zg=", "Zh==", "Zm9=", "Z===", "====", "Zm9=Yg==",
                         "Zm 9", "Zm9v\n", "Zm-v", "Zm_v", "Zg==Zg=="};
    uint8_t dec[16];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(base64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec)), -EINVAL);
    ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, dec, 5), -ENOBUFS);
    ck_assert_int_eq(base64_decode("Zm9vYg==", 8, dec, 4), 4);
}
END_TEST

START_TEST(accept_key)
{
    char out[WS_ACCEPT_LEN + 1];
    /* RFC 6455 §1.3. */
    ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const char *bad[] = {
        "dGhlIHNhbXBsZSBub25jZQ=",     /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===",   /* 25 */
        "AAAAAAAAAAAAAAAAAAAAAAAA",    /* 18 bytes */
        "dGhlIHNhbXBsZSBub25jZR==",    /* non-canonical bits */
        "dGhlIHNhbXBsZSBub25jZQ=A",
        "dGhlIHNhbXBsZSBub25j*Q==",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(ws_accept_key(bad[i], strlen(bad[i]), out), -EINVAL);
}
END_TEST

/* A client frame: header, mask, masked payload. Returns its size. */
static size_t client_frame(uint8_t *out, int b0, uint64_t len, const uint8_t *payload,
                           size_t plen, int len_form)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n = 0;
    out[n++] = (uint8_t)b0;
    if (len_form == 7) {
        out[n++] = (uint8_t)(0x80 | len);
    } else if (len_form == 16) {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(len >> (8 * i));
    }
    memcpy(out + n, mask, 4);
    n += 4;
    for (size_t i = 0; i < plen; i++)
        out[n + i] = payload[i] ^ mask[i & 3];
    return n + plen;
}

static int form_for(uint64_t len)
{
    return len < 126 ? 7 : len < 65536 ? 16 : 64;
}

/* Every prefix of the bytes says 0 or exactly what the whole says. */
static int parse_prefixes(const uint8_t *b, size_t len, uint64_t max, ws_frame_t *f)
{
    int whole = ws_frame_parse(b, len, max, f);
    /* Past WS_MAX_HEADER bytes nothing new can be learnt. */
    for (size_t i = 0; i < len && i <= WS_MAX_HEADER; i++) {
        uint8_t *copy = malloc(i ? i : 1);
        memcpy(copy, b, i);
        ws_frame_t g;
        int rc = ws_frame_parse(copy, i, max, &g);
        free(copy);
        ck_assert_msg(rc == 0 || rc == whole, "prefix %zu: %d vs %d", i, rc, whole);
        if (rc > 0)
            ck_assert_int_eq(g.header_len, f->header_len);
    }
    return whole;
}

START_TEST(frame_lengths)
{
    static uint8_t payload[70000], buf[70100];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 69999};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        uint64_t len = lens[k];
        int form = form_for(len);
        size_t n = client_frame(buf, 0x82, len, payload, len, form);
        ws_frame_t f;
        int hl = parse_prefixes(buf, n, 1 << 20, &f);
        ck_assert_int_eq(hl, form == 7 ? 6 : form == 16 ? 8 : 14);
        ck_assert_int_eq(f.fin, 1);
        ck_assert_int_eq(f.opcode, WS_BINARY);
        ck_assert_int_eq(f.masked, 1);
        ck_assert_uint_eq(f.payload_len, len);
        ws_unmask(buf + hl, len, f.mask, 0);
        ck_assert(memcmp(buf + hl, payload, len) == 0);
    }
    /* Non-minimal length forms are accepted. */
    size_t n = client_frame(buf, 0x81, 5, payload, 5, 64);
    ws_frame_t f;
    ck_assert_int_eq(ws_frame_parse(buf, n, 100, &f), 14);
    ck_assert_uint_eq(f.payload_len, 5);
}
END_TEST

START_TEST(frame_errors)
{
    uint8_t buf[64];
    ws_frame_t f;
    static const struct { int b0; uint64_t len; int form; int mask; int rc; } t[] = {
        {0xc1, 1, 7, 1, -1002},  /* RSV1 */
        {0xa1, 1, 7, 1, -1002},  /* RSV2 */
        {0x91, 1, 7, 1, -1002},  /* RSV3 */
        {0x83, 1, 7, 1, -1002}, {0x87, 1, 7, 1, -1002},
        {0x8b, 1, 7, 1, -1002}, {0x8f, 1, 7, 1, -1002},
        {0x08, 0, 7, 1, -1002},  /* fragmented close */
        {0x09, 0, 7, 1, -1002},  /* fragmented ping */
        {0x89, 126, 16, 1, -1002},
        {0x8a, 126, 16, 1, -1002},
        {0x81, 1, 7, 0, -1002},  /* unmasked */
        {0x82, 1ull << 63, 64, 1, -1002},
        {0x82, 101, 7, 1, -1009},
        {0x82, 65535, 16, 1, -1009},
        {0x82, 1ull << 40, 64, 1, -1009},
        {0x89, 100, 7, 1, 6},
        {0x88, 100, 7, 1, 6},
        {0x80, 100, 7, 1, 6},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t n = client_frame(buf, t[i].b0, t[i].len, NULL, 0, t[i].form);
        if (!t[i].mask)
            buf[1] &= 0x7f;
        int rc = parse_prefixes(buf, n, 100, &f);
        ck_assert_msg(rc == t[i].rc, "case %zu: %d", i, rc);
    }
    size_t n = client_frame(buf, 0x89, 125, NULL, 0, 7);
    ck_assert_int_eq(ws_frame_parse(buf, n, 125, &f), 6);
    ck_assert_int_eq(ws_frame_parse(buf, n, 124, &f), -1009);
}
END_TEST

START_TEST(unmask_matches_naive)
{
    const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t a[64], b[64], c[64];
    for (size_t len = 0; len <= sizeof(a); len++) {
        for (uint64_t off = 0; off < 9; off++) {
            for (size_t i = 0; i < len; i++)
                a[i] = b[i] = c[i] = (uint8_t)(i * 31 + 5);
            ws_unmask(a + 0, len, mask, off);
            for (size_t i = 0; i < len; i++)
                b[i] ^= mask[(off + i) & 3];
            ck_assert(memcmp(a, b, len) == 0);
            /* Piece by piece gives the same. */
            size_t cut = len / 3;
            ws_unmask(c, cut, mask, off);
            ws_unmask(c + cut, len - cut, mask, off + cut);
            ck_assert(memcmp(c, b, len) == 0);
        }
    }
}
END_TEST

START_TEST(frame_header_builder)
{
    uint8_t h[10];
    ck_assert_uint_eq(ws_frame_header(WS_TEXT, 1, 0, h), 2);
    ck_assert_uint_eq(h[0], 0x81);
    ck_assert_uint_eq(h[1], 0);
    ck_assert_uint_eq(ws_frame_header(WS_BINARY, 0, 125, h), 2);
    ck_assert_uint_eq(h[0], 0x02);
    ck_assert_uint_eq(h[1], 125);
    ck_assert_uint_eq(ws_frame_header(WS_TEXT, 1, 126, h), 4);
    ck_assert(memcmp(h + 1, "\x7e\x00\x7e", 3) == 0);
    ck_assert_uint_eq(ws_frame_header(WS_TEXT, 1, 65535, h), 4);
    ck_assert(memcmp(h + 1, "\x7e\xff\xff", 3) == 0);
    ck_assert_uint_eq(ws_frame_header(WS_CLOSE, 1, 65536, h), 10);
    ck_assert_uint_eq(h[0], 0x88);
    ck_assert(memcmp(h + 1, "\x7f\0\0\0\0\0\x01\0\0", 9) == 0);
    ck_assert_uint_eq(ws_frame_header(WS_PONG, 1, 0x0102030405060708ull, h), 10);
    ck_assert(memcmp(h + 1, "\x7f\x01\x02\x03\x04\x05\x06\x07\x08", 9) == 0);
    /* Round trip through the parser once a mask is added. */
    uint64_t lens[] = {0, 125, 126, 65535, 65536, 1ull << 33};
    for (size_t i = 0; i < 6; i++) {
        uint8_t b[14];
        size_t n = ws_frame_header(WS_BINARY, 1, lens[i], b);
        b[1] |= 0x80;
        memset(b + n, 0x11, 4);
        ws_frame_t f;
        ck_assert_int_eq(ws_frame_parse(b, n + 4, UINT64_MAX, &f), (int)(n + 4));
        ck_assert_uint_eq(f.payload_len, lens[i]);
    }
}
END_TEST

/* A textbook decoder as the reference: valid UTF-8 or not. */
static int ref_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t c = p[i];
        int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (n < 0 || (size_t)n > len - i - 1)
            return 0;
        if (n)
            c &= 0x3f >> n;
        for (int k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (p[i + k] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        i += (size_t)n + 1;
    }
    return 1;
}

static int utf8_whole(const void *p, size_t len)
{
    ws_utf8_t u;
    ws_utf8_init(&u);
    return ws_utf8_feed(&u, p, len) == 0 && ws_utf8_finish(&u) == 0;
}

START_TEST(utf8_cases)
{
    static const struct { const char *s; int ok; } t[] = {
        {"", 1}, {"hello, world and more ascii", 1}, {"caf\xc3\xa9", 1},
        {"\xe2\x82\xac", 1}, {"\xf0\x9f\x98\x80", 1}, {"\xf4\x8f\xbf\xbf", 1},
        {"\xed\x9f\xbf", 1}, {"\xee\x80\x80", 1}, {"\xef\xbf\xbf", 1},
        {"\xc2\x80", 1}, {"\xe0\xa0\x80", 1}, {"\xf0\x90\x80\x80", 1},
        {"\xc0\xaf", 0}, {"\xc1\xbf", 0}, {"\xe0\x80\xaf", 0}, {"\xe0\x9f\xbf", 0},
        {"\xf0\x80\x80\xaf", 0}, {"\xf0\x8f\xbf\xbf", 0},
        {"\xed\xa0\x80", 0}, {"\xed\xbf\xbf", 0}, {"\xf4\x90\x80\x80", 0},
        {"\xf5\x80\x80\x80", 0}, {"\xff", 0}, {"\xfe", 0}, {"\x80", 0}, {"\xbf", 0},
        {"\xc3", 0}, {"\xe2\x82", 0}, {"\xf0\x9f\x98", 0}, {"\xc3\x28", 0},
        {"0123456789abcdef\x80xyz", 0}, {"0123456789abcdef\xc3\xa9xyz", 1},
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *s = t[i].s;
        size_t len = strlen(s);
        ck_assert_msg(utf8_whole(s, len) == t[i].ok, "case %zu", i);
        ck_assert_int_eq(ref_utf8_valid((const uint8_t *)s, len), t[i].ok);
        /* Split into fragments at every point: same verdict. */
        for (size_t cut = 0; cut <= len; cut++) {
            ws_utf8_t u;
            ws_utf8_init(&u);
            int rc = ws_utf8_feed(&u, s, cut);
            if (rc == 0)
                rc = ws_utf8_feed(&u, s + cut, len - cut);
            if (rc == 0)
                rc = ws_utf8_finish(&u);
            ck_assert_int_eq(rc == 0, t[i].ok);
        }
    }
}
END_TEST

START_TEST(utf8_fails_fast_and_sticks)
{
    const char *s = "abc\xed\xa0\x80";
    ws_utf8_t u;
    ws_utf8_init(&u);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(ws_utf8_feed(&u, s + i, 1), 0);
    ck_assert_int_eq(ws_utf8_feed(&u, s + 4, 1), -1007);
    ck_assert_int_eq(ws_utf8_feed(&u, "a", 1), -1007);
    ck_assert_int_eq(ws_utf8_finish(&u), -1007);
}
END_TEST

START_TEST(utf8_exhaustive)
{
    /* Every code point encodes to something we accept, except surrogates. */
    for (uint32_t c = 0; c <= 0x10ffff; c++) {
        uint8_t b[4];
        size_t n;
        if (c < 0x80) {
            b[0] = (uint8_t)c; n = 1;
        } else if (c < 0x800) {
            b[0] = (uint8_t)(0xc0 | c >> 6); b[1] = (uint8_t)(0x80 | (c & 0x3f)); n = 2;
        } else if (c < 0x10000) {
            b[0] = (uint8_t)(0xe0 | c >> 12); b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
            b[2] = (uint8_t)(0x80 | (c & 0x3f)); n = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | c >> 18); b[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
            b[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)); b[3] = (uint8_t)(0x80 | (c & 0x3f));
            n = 4;
        }
        /* Plain ifs: a Check assertion per iteration costs a pipe write. */
        if (utf8_whole(b, n) != !(c >= 0xd800 && c <= 0xdfff))
            ck_abort_msg("code point %x", c);
    }
    /* Every 1-, 2- and 3-byte string agrees with the reference. */
    for (uint32_t v = 0; v < (1u << 24); v++) {
        uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        for (size_t n = 1; n <= 3; n++) {
            const uint8_t *p = b + 3 - n;
            if (utf8_whole(p, n) != ref_utf8_valid(p, n))
                ck_abort_msg("bytes %06x, n %zu", v, n);
        }
    }
}
END_TEST

START_TEST(close_payloads)
{
    uint16_t code;
    const char *reason;
    size_t rlen;
    ck_assert_int_eq(ws_close_parse("", 0, &code, &reason, &rlen), 0);
    ck_assert_uint_eq(code, 1005);
    ck_assert_uint_eq(rlen, 0);
    ck_assert_int_eq(ws_close_parse("\x03", 1, &code, &reason, &rlen), -1002);
    ck_assert_int_eq(ws_close_parse("\x03\xe8" "bye", 5, &code, &reason, &rlen), 0);
    ck_assert_uint_eq(code, 1000);
    ck_assert_uint_eq(rlen, 3);
    ck_assert(memcmp(reason, "bye", 3) == 0);
    unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                        1012, 1013, 1014, 3000, 3999, 4000, 4999};
    unsigned invalid[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000,
                          2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        uint8_t p[2] = {(uint8_t)(valid[i] >> 8), (uint8_t)valid[i]};
        ck_assert_int_eq(ws_close_parse(p, 2, &code, &reason, &rlen), 0);
        ck_assert_uint_eq(code, valid[i]);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        uint8_t p[2] = {(uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]};
        ck_assert_int_eq(ws_close_parse(p, 2, &code, &reason, &rlen), -1002);
    }
    ck_assert_int_eq(ws_close_parse("\x03\xe8\xce\xba\xe1\xbd\xb9", 7, &code, &reason, &rlen), 0);
    ck_assert_int_eq(ws_close_parse("\x03\xe8\xce", 3, &code, &reason, &rlen), -1007);
    ck_assert_int_eq(ws_close_parse("\x03\xe8\xed\xa0\x80", 5, &code, &reason, &rlen), -1007);
    uint8_t big[126] = {0x03, 0xe8};
    memset(big + 2, 'a', sizeof(big) - 2);
    ck_assert_int_eq(ws_close_parse(big, 126, &code, &reason, &rlen), -1002);
    ck_assert_int_eq(ws_close_parse(big, 125, &code, &reason, &rlen), 0);
}
END_TEST

static ws_frame_t mk(int opcode, int fin, uint64_t len)
{
    ws_frame_t f = {.fin = fin, .opcode = opcode, .masked = 1, .payload_len = len};
    return f;
}

START_TEST(message_sequencing)
{
    ws_msg_t m = {0};
    ws_frame_t f = mk(WS_CONT, 1, 1);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), -1002);
    f = mk(WS_TEXT, 0, 10);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), 0);
    ck_assert_int_eq(m.active, 1);
    f = mk(WS_PING, 1, 5);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), 0);
    f = mk(WS_BINARY, 1, 1);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), -1002);
    f = mk(WS_CONT, 0, 80);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), 0);
    f = mk(WS_CONT, 1, 11);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), -1009);
    f = mk(WS_CONT, 1, 10);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), 0);
    ck_assert_int_eq(m.active, 0);
    ck_assert_int_eq(m.opcode, WS_TEXT);
    ck_assert_uint_eq(m.len, 100);
    f = mk(WS_BINARY, 1, 100);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), 0);
    ck_assert_int_eq(m.opcode, WS_BINARY);
    f = mk(WS_BINARY, 1, UINT64_MAX);
    ck_assert_int_eq(ws_msg_frame(&m, &f, 100), -1009);
}
END_TEST

/*
 * A fragmented text message with a ping between fragments, UTF-8 split
 * across fragments; the reactor loop runs over every two-piece split.
 */
START_TEST(stream_split_everywhere)
{
    const char *parts[] = {"h\xc3", "\xa9llo \xe2\x82", "\xac!"};
    int ops[] = {0x01, 0x89, 0x00, 0x80};
    const char *payloads[] = {parts[0], "ping", parts[1], parts[2]};
    uint8_t stream[128];
    size_t len = 0;
    for (int i = 0; i < 4; i++) {
        size_t pl = strlen(payloads[i]);
        len += client_frame(stream + len, ops[i], pl, (const uint8_t *)payloads[i], pl, 7);
    }
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t buf[128];
        size_t have = 0, front = 0;
        ws_msg_t m = {0};
        char text[64];
        size_t tlen = 0;
        int frames = 0;
        size_t cuts[2] = {cut, len};
        for (int k = 0; k < 2; k++) {
            memcpy(buf + have, stream + have, cuts[k] - have);
            have = cuts[k];
            ws_frame_t f;
            int hl;
            while ((hl = ws_frame_parse(buf + front, have - front, 64, &f)) > 0 &&
                   have - front >= hl + f.payload_len) {
                uint8_t *p = buf + front + hl;
                ws_unmask(p, f.payload_len, f.mask, 0);
                ck_assert_int_eq(ws_msg_frame(&m, &f, 64), 0);
                if (f.opcode < WS_CLOSE) {
                    ck_assert_int_eq(ws_utf8_feed(&m.utf8, p, f.payload_len), 0);
                    memcpy(text + tlen, p, f.payload_len);
                    tlen += f.payload_len;
                } else {
                    ck_assert(memcmp(p, "ping", 4) == 0);
                }
                front += hl + f.payload_len;
                frames++;
            }
            ck_assert_int_ge(hl, 0);
        }
        ck_assert_int_eq(frames, 4);
        ck_assert_int_eq(m.active, 0);
        ck_assert_int_eq(ws_utf8_finish(&m.utf8), 0);
        ck_assert_uint_eq(tlen, strlen("h\xc3\xa9llo \xe2\x82\xac!"));
        ck_assert(memcmp(text, "h\xc3\xa9llo \xe2\x82\xac!", tlen) == 0);
    }
}
END_TEST

static int handshake(const char *fields, char *accept)
{
    char s[512];
    snprintf(s, sizeof(s), "GET /chat HTTP/1.1\r\nHost: h\r\n%s\r\n", fields);
    http_request_t req;
    http_request_init(&req);
    int n = http_parse_head(s, strlen(s), NULL, &req);
    ck_assert_int_eq(n, (int)strlen(s));
    return ws_handshake(&req, accept);
}

START_TEST(opening_handshake)
{
    char acc[WS_ACCEPT_LEN + 1];
    const char *up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    const char *key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    char f[512];
    snprintf(f, sizeof(f), "%s%sSec-WebSocket-Version: 13\r\n", up, key);
    ck_assert_int_eq(handshake(f, acc), 0);
    ck_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    snprintf(f, sizeof(f), "%s%sSec-WebSocket-Version: 8\r\n", up, key);
    ck_assert_int_eq(handshake(f, acc), -426);
    snprintf(f, sizeof(f), "%s%s", up, key);
    ck_assert_int_eq(handshake(f, acc), -426);
    snprintf(f, sizeof(f), "%sSec-WebSocket-Version: 13\r\n", up);
    ck_assert_int_eq(handshake(f, acc), -400);
    snprintf(f, sizeof(f), "%s%s%sSec-WebSocket-Version: 13\r\n", up, key, key);
    ck_assert_int_eq(handshake(f, acc), -400);
    snprintf(f, sizeof(f), "%sSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n", up);
    ck_assert_int_eq(handshake(f, acc), -400);
    snprintf(f, sizeof(f), "Upgrade: websocket\r\n%sSec-WebSocket-Version: 13\r\n", key);
    ck_assert_int_eq(handshake(f, acc), -400);
    http_request_t req;
    const char *post = "POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                       "Connection: upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    http_request_init(&req);
    ck_assert_int_gt(http_parse_head(post, strlen(post), NULL, &req), 0);
    ck_assert_int_eq(ws_handshake(&req, acc), -400);
}
END_TEST

/* ws_deflate_negotiate on one Sec-WebSocket-Extensions value: 0, or the
 * window bits taken. */
static int negotiate(const char *ext)
{
    char s[512];
    snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: h\r\n"
             "Sec-WebSocket-Extensions: %s\r\n\r\n", ext);
    http_request_t req;
    http_request_init(&req);
    ck_assert_int_gt(http_parse_head(s, strlen(s), NULL, &req), 0);
    int bits = 0;
    return ws_deflate_negotiate(&req, &bits) == 1 ? bits : 0;
}

START_TEST(deflate_negotiation)
{
    ck_assert_int_eq(negotiate("permessage-deflate"), 15);
    ck_assert_int_eq(negotiate("permessage-deflate; client_max_window_bits"),
                     15);
    ck_assert_int_eq(negotiate("Permessage-Deflate ; server_max_window_bits="
                               "\"12\"; client_no_context_takeover"), 12);
    ck_assert_int_eq(negotiate("x-webkit-deflate-frame, permessage-deflate; "
                               "server_max_window_bits=8, permessage-deflate;"
                               " server_max_window_bits=9"), 9);
    /* Refused offers: unknown, repeated or malformed parameters. */
    ck_assert_int_eq(negotiate("permessage-deflate; foo"), 0);
    ck_assert_int_eq(negotiate("permessage-deflate; server_max_window_bits"),
                     0);
    ck_assert_int_eq(negotiate("permessage-deflate; server_max_window_bits=16"),
                     0);
    ck_assert_int_eq(negotiate("permessage-deflate; client_max_window_bits=7"),
                     0);
    ck_assert_int_eq(negotiate("permessage-deflate; client_no_context_takeover"
                               "; client_no_context_takeover"), 0);
    ck_assert_int_eq(negotiate("deflate-stream"), 0);
    ck_assert_int_eq(negotiate(""), 0);
}
END_TEST

START_TEST(rsv1_frames)
{
    /* RSV1 + FIN + TEXT, masked, 1 byte. */
    uint8_t f[] = {0xc1, 0x81, 1, 2, 3, 4, 'x'};
    ws_frame_t fr;
    ck_assert_int_eq(ws_frame_parse(f, sizeof(f), 100, &fr), -1002);
    ck_assert_int_eq(ws_frame_parse_ext(f, sizeof(f), 100, WS_RSV1, &fr), 6);
    ck_assert_int_eq(fr.rsv, WS_RSV1);
    ws_msg_t m = {0};
    ck_assert_int_eq(ws_msg_frame(&m, &fr, 100), 0);
    ck_assert(m.compressed);
    /* Not on a continuation or a control frame; RSV2 never. */
    f[0] = 0xc0;
    ck_assert_int_eq(ws_frame_parse_ext(f, sizeof(f), 100, WS_RSV1, &fr),
                     -1002);
    f[0] = 0xc9;
    ck_assert_int_eq(ws_frame_parse_ext(f, sizeof(f), 100, WS_RSV1, &fr),
                     -1002);
    f[0] = 0xa1;
    ck_assert_int_eq(ws_frame_parse_ext(f, sizeof(f), 100, WS_RSV1, &fr),
                     -1002);
    uint8_t h[10];
    ck_assert_uint_eq(ws_frame_header_rsv(WS_BINARY, 1, WS_RSV1, 5, h), 2);
    ck_assert_uint_eq(h[0], 0xc2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ws");
    TCase *tc = tcase_create("ws");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sha1_fips_vectors);
    tcase_add_test(tc, base64_vectors);
    tcase_add_test(tc, accept_key);
    tcase_add_test(tc, frame_lengths);
    tcase_add_test(tc, frame_errors);
    tcase_add_test(tc, unmask_matches_naive);
    tcase_add_test(tc, frame_header_builder);
    tcase_add_test(tc, utf8_cases);
    tcase_add_test(tc, utf8_fails_fast_and_sticks);
    tcase_add_test(tc, utf8_exhaustive);
    tcase_add_test(tc, close_payloads);
    tcase_add_test(tc, message_sequencing);
    tcase_add_test(tc, stream_split_everywhere);
    tcase_add_test(tc, opening_handshake);
    tcase_add_test(tc, deflate_negotiation);
    tcase_add_test(tc, rsv1_frames);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
