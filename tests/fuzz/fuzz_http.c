/* fuzz_http.c: libFuzzer target for the HTTP request head parser and the
 * chunked body decoder: bounds, invariants, split-independence. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/http_chunked.h"
#include "protocol/http_parser.h"
#include "protocol/ws.h"

static int in_buf(const char *p, size_t n, const char *buf, size_t len)
{
    uintptr_t b = (uintptr_t)buf, q = (uintptr_t)p;
    return q >= b && q + n <= b + len;
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* What a successful parse promises about req and the head it returned. */
static void check_head(const http_request_t *r, const char *buf, int n,
                       const http_limits_t *lim)
{
    size_t len = (size_t)n;
    assert(len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
    assert(r->method_len > 0 && in_buf(r->method, r->method_len, buf, len));
    for (size_t i = 0; i < r->method_len; i++)
        assert(is_tchar((unsigned char)r->method[i]));
    assert(in_buf(r->target, r->target_len, buf, len));
    assert(r->target_len > 0 && r->target_len <= (lim->max_uri ? lim->max_uri : HTTP_DEFAULT_MAX_URI));
    assert(r->path_len > 0);
    assert(in_buf(r->path, r->path_len, buf, len) || memcmp(r->path, "/", 1) == 0);
    assert(r->query == NULL || in_buf(r->query, r->query_len, buf, len));
    assert(r->host == NULL || in_buf(r->host, r->host_len, buf, len));
    assert(r->version == 0 || r->version == 1);
    assert(r->version == 0 || r->host != NULL);
    assert(r->content_length >= -1);
    assert(!(r->chunked && r->content_length >= 0));
    assert(r->nheaders <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < r->nheaders; i++) {
        const http_header_t *h = &r->headers[i];
        assert(h->name_len > 0 && in_buf(h->name, h->name_len, buf, len));
        assert(in_buf(h->value, h->value_len, buf, len));
        for (size_t k = 0; k < h->name_len; k++)
            assert(is_tchar((unsigned char)h->name[k]));
        for (size_t k = 0; k < h->value_len; k++)
            assert((unsigned char)h->value[k] >= 0x20 || h->value[k] == '\t');
        assert(h->value_len == 0 || (h->value[h->value_len - 1] != ' ' &&
                                     h->value[h->value_len - 1] != '\t'));
    }
}

/* Lookups agree with the derived fields; the WebSocket handshake holds. */
static void check_lookups(const http_request_t *req)
{
    size_t len;
    const char *cl = http_header_get(req, "CONTENT-length", &len);
    assert((cl != NULL) == (req->content_length >= 0));
    const char *te = http_header_get(req, "transfer-encoding", &len);
    assert((te != NULL) == (req->chunked != 0));
    char accept[WS_ACCEPT_LEN + 1];
    int rc = ws_handshake(req, accept);
    assert(rc == 0 || rc == -400 || rc == -426);
    if (rc == 0)
        assert(req->upgrade_websocket && strlen(accept) == WS_ACCEPT_LEN);
    int bits = 0;
    if (ws_deflate_negotiate(req, &bits) == 1)
        assert(bits >= 9 && bits <= 15);
}

/* Moved to a copy of its bytes, the request reads the same there. */
static void check_rebase(const http_request_t *req, const char *buf, int n,
                         const http_limits_t *lim)
{
    char *copy = malloc((size_t)n);
    memcpy(copy, buf, (size_t)n);
    http_request_t moved = *req;
    http_request_rebase(&moved, buf, copy);
    check_head(&moved, copy, n, lim);
    assert(moved.path_len == req->path_len &&
           memcmp(moved.path, req->path, req->path_len) == 0);
    for (size_t i = 0; i < req->nheaders; i++)
        assert(moved.headers[i].value - copy == req->headers[i].value - buf);
    free(copy);
}

static int parse_exact(const uint8_t *p, size_t len, const http_limits_t *lim,
                       http_request_t *req)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    int n = http_parse_head(copy, len, lim, req);
    assert(n <= (int)len);
    assert(n >= 0 || n == -400 || n == -414 || n == -431 || n == -501 ||
           n == -505);
    if (n > 0) {
        check_head(req, copy, n, lim);
        check_lookups(req);
        check_rebase(req, copy, n, lim);
    }
    free(copy);
    return n;
}

/* The same answer when the bytes arrive in pieces of the given sizes. */
static int parse_pieces(const uint8_t *p, size_t len, const http_limits_t *lim,
                        const uint8_t *steps, size_t nsteps)
{
    http_request_t req;
    http_request_init(&req);
    size_t have = 0, k = 0;
    int n = 0;
    while (n == 0 && have < len) {
        size_t step = 1 + steps[k++ % nsteps] % 97;
        have = len - have < step ? len : have + step;
        n = parse_exact(p, have, lim, &req);
    }
    return n;
}

/* Decode in[0..len) in place in pieces; 1 piece when nsteps is 0. */
static int chunked_pieces(const uint8_t *in, size_t len, const uint8_t *steps,
                          size_t nsteps, char *body, size_t *body_len,
                          size_t *consumed)
{
    char *buf = malloc(len ? len : 1);
    http_chunked_t c;
    http_chunked_init(&c, 4096, 256);
    size_t have = 0, raw = 0, dec = 0, k = 0;
    int rc = 0;
    while (rc == 0 && have < len) {
        size_t step = nsteps ? 1 + steps[k++ % nsteps] % 33 : len;
        size_t add = len - have < step ? len - have : step;
        memcpy(buf + have, in + have, add);
        have += add;
        size_t used, n;
        rc = http_chunked_decode(&c, buf + raw, have - raw, buf + dec, &used, &n);
        assert(n <= used && used <= have - raw);
        assert(rc != 0 || used == have - raw);
        assert(rc == 1 || rc == 0 || rc == -400 || rc == -413 || rc == -431);
        raw += used;
        dec += n;
    }
    assert(dec <= 4096);
    memcpy(body, buf, dec);
    *body_len = dec;
    *consumed = raw;
    free(buf);
    return rc;
}

static void fuzz_chunked(const uint8_t *p, size_t len, const uint8_t *steps,
                         size_t nsteps)
{
    char *a = malloc(len + 1), *b = malloc(len + 1);
    size_t alen, blen, aused, bused;
    int ra = chunked_pieces(p, len, NULL, 0, a, &alen, &aused);
    int rb = chunked_pieces(p, len, steps, nsteps, b, &blen, &bused);
    assert(ra == rb);
    /* A success is the same body and stops at the same byte. */
    if (ra >= 0) {
        assert(alen == blen && memcmp(a, b, alen) == 0);
        assert(aused == bused);
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0], knob = data[1];
    const uint8_t *steps = data;
    size_t nsteps = size < 6 ? size : 6;
    data += 2;
    size -= 2;
    http_limits_t lim = {0};
    if (mode & 1) {
        lim.max_head = 16 + (size_t)knob * 2;
        lim.max_uri = 1 + knob / 4;
        lim.max_headers = 1 + knob % 8;
    }
    if (mode & 2) {
        fuzz_chunked(data, size, steps, nsteps);
        return 0;
    }
    http_request_t req;
    http_request_init(&req);
    int n = parse_exact(data, size, &lim, &req);
    assert(parse_pieces(data, size, &lim, steps, nsteps) == n);
    if (n > 0 && req.chunked)
        fuzz_chunked(data + n, size - (size_t)n, steps, nsteps);
    /* Pipelining: whatever follows parses on its own. */
    if (n > 0 && !req.chunked && req.content_length >= 0 &&
        (uint64_t)req.content_length <= size - (size_t)n) {
        size_t off = (size_t)n + (size_t)req.content_length;
        http_request_init(&req);
        (void)parse_exact(data + off, size - off, &lim, &req);
    }
    return 0;
}
