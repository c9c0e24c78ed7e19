/* fuzz_ws.c: libFuzzer target for WebSocket frame parsing, unmasking,
 * UTF-8 validation, close payloads, and the handshake's base64. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/base64.h"
#include "protocol/http_coding.h"
#include "protocol/ws.h"

/* Textbook reference: is p[0..len) valid UTF-8? */
static int ref_utf8(const uint8_t *p, size_t len)
{
    static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < len) {
        uint32_t c = p[i];
        int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 :
                (c >> 3) == 30 ? 3 : -1;
        if (n < 0 || (size_t)n > len - i - 1)
            return 0;
        if (n)
            c &= 0x3fu >> n;
        for (int k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (p[i + k] & 0x3f);
        }
        if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        i += (size_t)n + 1;
    }
    return 1;
}

/* Whole, and split at `cut` into two fragments: both agree with ref. */
static void check_utf8(const uint8_t *p, size_t len, size_t cut)
{
    ws_utf8_t u, v;
    ws_utf8_init(&u);
    ws_utf8_init(&v);
    int whole = ws_utf8_feed(&u, p, len) == 0 && ws_utf8_finish(&u) == 0;
    cut = len ? cut % (len + 1) : 0;
    int split = ws_utf8_feed(&v, p, cut) == 0 &&
                ws_utf8_feed(&v, p + cut, len - cut) == 0 &&
                ws_utf8_finish(&v) == 0;
    assert(whole == split);
    assert(whole == ref_utf8(p, len));
}

/* Every prefix of the header says 0 or what the whole says. */
static int parse_exact(const uint8_t *p, size_t len, uint64_t max, ws_frame_t *f)
{
    int whole = 0;
    size_t last = len < WS_MAX_HEADER ? len : WS_MAX_HEADER;
    for (size_t i = 0; i <= last; i++) {
        uint8_t *copy = malloc(i ? i : 1);
        memcpy(copy, p, i);
        ws_frame_t g;
        int rc = ws_frame_parse(copy, i, max, &g);
        free(copy);
        assert(rc == 0 || rc == -1002 || rc == -1009 || (rc >= 6 && rc <= 14));
        assert(whole == 0 || rc == whole);
        if (rc != 0) {
            whole = rc;
            if (rc > 0)
                *f = g;
        }
    }
    return whole;
}

static void check_frame(const ws_frame_t *f, uint64_t max)
{
    assert(f->masked && f->rsv == 0 && f->payload_len <= max);
    assert(f->opcode <= 2 || (f->opcode >= 8 && f->opcode <= 10));
    if (f->opcode >= 8)
        assert(f->fin && f->payload_len <= 125);
    /* The server's header for this length parses back to it. */
    uint8_t h[14];
    size_t n = ws_frame_header(f->opcode, f->fin, f->payload_len, h);
    h[1] |= 0x80;
    memcpy(h + n, f->mask, 4);
    ws_frame_t g;
    assert(ws_frame_parse(h, n + 4, UINT64_MAX, &g) == (int)(n + 4));
    assert(g.payload_len == f->payload_len && g.opcode == f->opcode);
}

static void check_payload(const ws_frame_t *f, const uint8_t *src, size_t len,
                          ws_msg_t *m, uint8_t cut)
{
    uint8_t *a = malloc(len ? len : 1), *b = malloc(len ? len : 1);
    memcpy(a, src, len);
    memcpy(b, src, len);
    ws_unmask(a, len, f->mask, 0);
    size_t c = len ? cut % (len + 1) : 0;
    ws_unmask(b, c, f->mask, 0);
    ws_unmask(b + c, len - c, f->mask, c);
    assert(memcmp(a, b, len) == 0);
    for (size_t i = 0; i < len; i++)
        assert(a[i] == (src[i] ^ f->mask[i & 3]));
    if (f->opcode == WS_CLOSE) {
        uint16_t code;
        const char *reason;
        size_t rlen;
        int rc = ws_close_parse(a, len, &code, &reason, &rlen);
        assert(rc == 0 || rc == -1002 || rc == -1007);
        if (rc == 0)
            assert(code == 1005 ? len == 0 : ws_close_code_valid(code));
        if (rc == 0 && len > 0)
            assert(reason == (const char *)a + 2 && rlen == len - 2);
    } else if (f->opcode < WS_CLOSE && m->opcode == WS_TEXT) {
        ws_utf8_feed(&m->utf8, a, len);
        check_utf8(a, len, cut);
    }
    free(a);
    free(b);
}

/* Frames back to back, as a reactor would take them off its buffer. */
static void fuzz_frames(const uint8_t *p, size_t len, uint64_t max, uint8_t cut)
{
    ws_msg_t m = {0};
    size_t front = 0;
    for (;;) {
        ws_frame_t f;
        int hl = parse_exact(p + front, len - front, max, &f);
        if (hl <= 0)
            return;
        check_frame(&f, max);
        if (f.payload_len > len - front - (size_t)hl)
            return;
        if (ws_msg_frame(&m, &f, max > UINT64_MAX / 3 ? UINT64_MAX : 3 * max) < 0)
            return;
        check_payload(&f, p + front + hl, (size_t)f.payload_len, &m, cut);
        front += (size_t)hl + (size_t)f.payload_len;
    }
}

/* Strict base64 round-trips exactly; the accept key only takes 16 bytes. */
static void fuzz_base64(const uint8_t *p, size_t len)
{
    uint8_t out[64];
    char enc[100];
    size_t n = len < 84 ? len : 84;
    ssize_t r = base64_decode((const char *)p, n, out, sizeof(out));
    assert(r == -EINVAL || r == -ENOBUFS || (r >= 0 && (size_t)r <= sizeof(out)));
    if (r >= 0) {
        assert(base64_encode(out, (size_t)r, enc) == n);
        assert(memcmp(enc, p, n) == 0);
    }
    char acc[WS_ACCEPT_LEN + 1];
    if (ws_accept_key((const char *)p, n, acc) == 0)
        assert(n == 24 && r == 16 && strlen(acc) == WS_ACCEPT_LEN);
}

/* permessage-deflate: RSV1 accepted only where RFC 7692 allows it, the
 * rest as without the extension; any bytes inflate within max or fail;
 * what deflates inflates back. */
static void fuzz_deflate(const uint8_t *p, size_t len, uint64_t max)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    ws_frame_t f, g;
    int plain = ws_frame_parse(copy, len, max, &f);
    int ext = ws_frame_parse_ext(copy, len, max, WS_RSV1, &g);
    if (len >= 2 && (copy[0] & 0x70) == 0x40 && (copy[0] & 0x0f) >= 1 &&
        (copy[0] & 0x0f) <= 2)
        assert(plain == -1002 && (ext == 0 || ext == -1002 || ext == -1009 ||
                                  ext >= 6));
    else
        assert(plain == ext);
    size_t cap = max < 4096 ? (size_t)max : 4096;
    buf_t out = {0};
    int rc = ws_inflate_message(copy, len, cap, &out);
    assert(rc == 0 || rc == -E2BIG || rc == -EINVAL);
    assert(buf_pending(&out) <= cap);
    buf_free(&out);
    buf_t z = {0}, back = {0};
    if (ws_deflate_message(1, 9 + (int)(len % 7), copy, len, &z) == 0) {
        assert(ws_inflate_message(buf_head(&z), buf_pending(&z), len,
                                  &back) == 0);
        assert(buf_pending(&back) == len &&
               (len == 0 || memcmp(buf_head(&back), copy, len) == 0));
    }
    buf_free(&z);
    buf_free(&back);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const uint64_t maxes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20,
                                     UINT64_MAX >> 1};
    uint8_t mode = data[0], cut = data[1];
    data += 2;
    size -= 2;
    if (mode & 0x80) {
        fuzz_base64(data, size);
        check_utf8(data, size, cut);
        return 0;
    }
    if (mode & 0x40) {
        fuzz_deflate(data, size, maxes[mode & 7]);
        return 0;
    }
    fuzz_frames(data, size, maxes[mode & 7], cut);
    return 0;
}
