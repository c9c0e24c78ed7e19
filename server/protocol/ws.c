/* ws.c: WebSocket (RFC 6455) server side: frames, masking, UTF-8, close. */
#include "protocol/ws.h"
#include "protocol/base64.h"
#include "protocol/sha1.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* What the first two bytes alone can rule out. RSV1 (permessage-deflate)
 * only where allowed, and only on the first frame of a data message. */
static int check_base(const ws_frame_t *f, unsigned len7, int rsv_allowed)
{
    if ((f->rsv & ~rsv_allowed) != 0 || !f->masked ||
        ((f->rsv & WS_RSV1) && (f->opcode == WS_CONT || f->opcode >= 8)))
        return -WS_CLOSE_PROTOCOL;
    switch (f->opcode) {
    case WS_CONT: case WS_TEXT: case WS_BINARY:
        return 0;
    case WS_CLOSE: case WS_PING: case WS_PONG:
        return f->fin && len7 <= WS_MAX_CONTROL_PAYLOAD ? 0 : -WS_CLOSE_PROTOCOL;
    default:
        return -WS_CLOSE_PROTOCOL;
    }
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int ws_frame_parse(const void *buf, size_t len, uint64_t max_payload,
                   ws_frame_t *f)
{
    return ws_frame_parse_ext(buf, len, max_payload, 0, f);
}

int ws_frame_parse_ext(const void *buf, size_t len, uint64_t max_payload,
                       int rsv_allowed, ws_frame_t *f)
{
    const uint8_t *b = buf;
    if (len < 2)
        return 0;
    f->fin = b[0] >> 7;
    f->rsv = (b[0] >> 4) & 7;
    f->opcode = b[0] & 0x0f;
    f->masked = b[1] >> 7;
    unsigned len7 = b[1] & 0x7f;
    int rc = check_base(f, len7, rsv_allowed);
    if (rc < 0)
        return rc;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (ext == 8 && len >= 3 && (b[2] & 0x80))
        return -WS_CLOSE_PROTOCOL;
    if (len < 2 + ext)
        return 0;
    uint64_t plen = ext ? load_be(b + 2, ext) : len7;
    if (plen > max_payload)
        return -WS_CLOSE_TOO_BIG;
    size_t hlen = 2 + ext + 4;
    if (len < hlen)
        return 0;
    memcpy(f->mask, b + 2 + ext, 4);
    f->payload_len = plen;
    f->header_len = hlen;
    return (int)hlen;
}

void ws_unmask(void *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    uint8_t *p = data;
    uint8_t m[8];
    for (int i = 0; i < 8; i++)
        m[i] = mask[(offset + (uint64_t)i) & 3];
    uint64_t m64;
    memcpy(&m64, m, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= m64;
        memcpy(p + i, &v, 8);
    }
    for (; i < len; i++)
        p[i] ^= m[i & 7];
}

size_t ws_frame_header(int opcode, int fin, uint64_t len, uint8_t out[10])
{
    return ws_frame_header_rsv(opcode, fin, 0, len, out);
}

size_t ws_frame_header_rsv(int opcode, int fin, int rsv, uint64_t len,
                           uint8_t out[10])
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0f));
    if (len <= WS_MAX_CONTROL_PAYLOAD) {
        out[1] = (uint8_t)len;
        return 2;
    }
    size_t n = len <= 0xffff ? 2 : 8;
    out[1] = n == 2 ? 126 : 127;
    for (size_t i = 0; i < n; i++)
        out[2 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
    return 2 + n;
}

void ws_utf8_init(ws_utf8_t *u)
{
    memset(u, 0, sizeof(*u));
}

static int utf8_expect(ws_utf8_t *u, uint8_t need, uint8_t lo, uint8_t hi)
{
    u->need = need;
    u->lo = lo;
    u->hi = hi;
    return 0;
}

/* A byte at a character boundary: which continuations may follow. */
static int utf8_lead(ws_utf8_t *u, uint8_t c)
{
    if (c < 0x80)
        return 0;
    if (c >= 0xc2 && c <= 0xdf)
        return utf8_expect(u, 1, 0x80, 0xbf);
    if (c == 0xe0)
        return utf8_expect(u, 2, 0xa0, 0xbf);  /* no overlongs */
    if (c == 0xed)
        return utf8_expect(u, 2, 0x80, 0x9f);  /* no surrogates */
    if (c >= 0xe1 && c <= 0xef)
        return utf8_expect(u, 2, 0x80, 0xbf);
    if (c == 0xf0)
        return utf8_expect(u, 3, 0x90, 0xbf);  /* no overlongs */
    if (c >= 0xf1 && c <= 0xf3)
        return utf8_expect(u, 3, 0x80, 0xbf);
    if (c == 0xf4)
        return utf8_expect(u, 3, 0x80, 0x8f);  /* up to U+10FFFF */
    return -1;  /* a continuation byte, C0/C1 or F5..FF */
}

static int utf8_byte(ws_utf8_t *u, uint8_t c)
{
    if (u->need == 0)
        return utf8_lead(u, c);
    if (c < u->lo || c > u->hi)
        return -1;
    return utf8_expect(u, u->need - 1, 0x80, 0xbf);
}

/* Skip a run of ASCII, 8 bytes at a time. */
static size_t ascii_run(const uint8_t *p, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v & 0x8080808080808080ull)
            break;
    }
    return i;
}

int ws_utf8_feed(ws_utf8_t *u, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t i = 0;
    while (!u->bad && i < len) {
        if (u->need == 0)
            i += ascii_run(p + i, len - i);
        if (i < len && utf8_byte(u, p[i++]) < 0)
            u->bad = 1;
    }
    return u->bad ? -WS_CLOSE_INVALID_DATA : 0;
}

int ws_utf8_finish(const ws_utf8_t *u)
{
    return u->bad || u->need ? -WS_CLOSE_INVALID_DATA : 0;
}

int ws_msg_frame(ws_msg_t *m, const ws_frame_t *f, uint64_t max_message)
{
    if (f->opcode >= WS_CLOSE)
        return 0;
    if (f->opcode == WS_CONT && !m->active)
        return -WS_CLOSE_PROTOCOL;
    if (f->opcode != WS_CONT) {
        if (m->active)
            return -WS_CLOSE_PROTOCOL;
        m->opcode = f->opcode;
        m->len = 0;
        m->compressed = (f->rsv & WS_RSV1) != 0;
        ws_utf8_init(&m->utf8);
    }
    if (m->len > max_message || f->payload_len > max_message - m->len)
        return -WS_CLOSE_TOO_BIG;
    m->len += f->payload_len;
    m->active = !f->fin;
    return 0;
}

int ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int ws_close_parse(const void *payload, size_t len, uint16_t *code,
                   const char **reason, size_t *reason_len)
{
    const uint8_t *p = payload;
    *reason = NULL;
    *reason_len = 0;
    if (len == 0) {
        *code = WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (len == 1 || len > WS_MAX_CONTROL_PAYLOAD)
        return -WS_CLOSE_PROTOCOL;
    *code = (uint16_t)(p[0] << 8 | p[1]);
    if (!ws_close_code_valid(*code))
        return -WS_CLOSE_PROTOCOL;
    ws_utf8_t u;
    ws_utf8_init(&u);
    if (ws_utf8_feed(&u, p + 2, len - 2) < 0 || ws_utf8_finish(&u) < 0)
        return -WS_CLOSE_INVALID_DATA;
    *reason = (const char *)p + 2;
    *reason_len = len - 2;
    return 0;
}

int ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1])
{
    uint8_t raw[18];
    if (len != 24 || base64_decode(key, len, raw, sizeof(raw)) != 16)
        return -EINVAL;
    sha1_ctx_t c;
    uint8_t digest[SHA1_DIGEST_LEN];
    sha1_init(&c);
    sha1_update(&c, key, len);
    sha1_update(&c, ws_guid, sizeof(ws_guid) - 1);
    sha1_final(&c, digest);
    base64_encode(digest, sizeof(digest), out);
    return 0;
}

/* The only field named name, or NULL when absent or repeated. */
static const char *single_field(const http_request_t *req, const char *name,
                                size_t *len)
{
    const char *found = NULL;
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len != nl || strncasecmp(h->name, name, nl) != 0)
            continue;
        if (found != NULL)
            return NULL;
        found = h->value;
        *len = h->value_len;
    }
    return found;
}

int ws_handshake(const http_request_t *req, char accept[WS_ACCEPT_LEN + 1])
{
    if (req->method_id != HTTP_GET || req->version != 1 ||
        !req->upgrade_websocket)
        return -400;
    size_t vlen = 0, klen = 0;
    const char *v = single_field(req, "sec-websocket-version", &vlen);
    if (v == NULL || vlen != 2 || memcmp(v, "13", 2) != 0)
        return -426;
    const char *key = single_field(req, "sec-websocket-key", &klen);
    if (key == NULL || ws_accept_key(key, klen, accept) < 0)
        return -400;
    return 0;
}

/* The next ',' or ';' outside a quoted string, or end. */
static const char *ext_next(const char *p, const char *end)
{
    int quoted = 0;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && quoted && p + 1 < end)
            p++;
        else if (!quoted && (*p == ',' || *p == ';'))
            return p;
    }
    return end;
}

static void ext_trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static int ext_is(const char *s, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - s) == n && strncasecmp(s, word, n) == 0;
}

/* A window size 8..15 ("10" or "\"10\""), or -1. */
static int ext_bits(const char *s, const char *e)
{
    if (e - s >= 2 && *s == '"' && e[-1] == '"') {
        s++;
        e--;
    }
    if (e - s == 1 && *s >= '8' && *s <= '9')
        return *s - '0';
    if (e - s == 2 && s[0] == '1' && s[1] >= '0' && s[1] <= '5')
        return 10 + s[1] - '0';
    return -1;
}

/* One extension [s, e) (its name, then "; params"): 1 with *bits when it
 * is a permessage-deflate offer the server takes. */
static int ext_offer(const char *s, const char *e, int *bits)
{
    const char *p = ext_next(s, e), *ns = s, *ne = p;
    ext_trim(&ns, &ne);
    if (!ext_is(ns, ne, "permessage-deflate"))
        return 0;
    int seen = 0, wbits = 15;
    while (p < e) {
        const char *ps = p + 1, *pe = ext_next(ps, e);
        p = pe;
        ext_trim(&ps, &pe);
        const char *eq = memchr(ps, '=', (size_t)(pe - ps));
        const char *ks = ps, *ke = eq != NULL ? eq : pe;
        ext_trim(&ks, &ke);
        int v = -1, bit;
        if (eq != NULL) {
            const char *vs = eq + 1, *ve = pe;
            ext_trim(&vs, &ve);
            v = ext_bits(vs, ve);
        }
        if (ext_is(ks, ke, "server_no_context_takeover") && eq == NULL)
            bit = 1;
        else if (ext_is(ks, ke, "client_no_context_takeover") && eq == NULL)
            bit = 2;
        else if (ext_is(ks, ke, "server_max_window_bits") && v >= 8)
            bit = 4, wbits = v;
        else if (ext_is(ks, ke, "client_max_window_bits") &&
                 (eq == NULL || v >= 8))
            bit = 8;
        else
            return 0; /* unknown or malformed: not this offer */
        if (seen & bit)
            return 0;
        seen |= bit;
    }
    if (wbits < 9)
        return 0;
    *bits = wbits;
    return 1;
}

int ws_deflate_negotiate(const http_request_t *req, int *window_bits)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        if (!ext_is(h->name, h->name + h->name_len,
                    "sec-websocket-extensions"))
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            /* An extension ends at a ',' outside quotes. */
            const char *e = ext_next(p, end);
            while (e < end && *e == ';')
                e = ext_next(e + 1, end);
            if (ext_offer(p, e, window_bits))
                return 1;
            p = e < end ? e + 1 : end;
        }
    }
    return 0;
}
