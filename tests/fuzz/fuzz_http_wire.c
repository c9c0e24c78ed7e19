/* fuzz_http_wire.c: libFuzzer target for the request message a worker
 * decodes: nothing it accepts points outside the message or lacks its
 * NUL, and what it encodes it decodes back the same; and for the end of
 * a response (HTTP_MSG_END) a reactor decodes, with its trailers. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_msg.h"
#include "http/http_wire.h"

static int inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p + n < base + len && p[n] == '\0';
}

static void check_decoded(const swx_http_request_t *r, const char *d,
                          size_t len)
{
    assert(inside(r->method, r->method_len, d, len));
    assert(inside(r->path, r->path_len, d, len));
    assert(r->query == NULL || inside(r->query, r->query_len, d, len));
    assert(inside(r->body, r->body_len, d, len));
    assert(r->body + r->body_len + 1 == d + len);
    assert(memchr(r->peer_addr, '\0', sizeof(r->peer_addr)) != NULL);
    for (size_t i = 0; i < r->nheaders; i++) {
        assert(inside(r->headers[i].name, r->headers[i].name_len, d, len));
        assert(inside(r->headers[i].value, r->headers[i].value_len, d, len));
    }
}

/* Whatever the parser accepts survives the trip to a worker. */
static void check_roundtrip(const uint8_t *data, size_t size)
{
    static swx_http_header_t hs[HTTP_MAX_HEADERS];
    http_request_t req;
    swx_http_request_t out;
    buf_t wire = {0};
    http_request_init(&req);
    int n = http_parse_head((const char *)data, size, NULL, &req);
    if (n <= 0)
        return;
    const char *body = (const char *)data + n;
    http_wire_peer_t peer = {"peer", 1, NULL, 0};
    assert(http_wire_encode(&wire, &req, body, size - (size_t)n, &peer) == 0);
    assert(http_wire_decode(buf_head(&wire), buf_pending(&wire), &out, hs,
                            HTTP_MAX_HEADERS) == 0);
    assert(out.path_len == req.path_len &&
           memcmp(out.path, req.path, req.path_len) == 0);
    assert(out.nheaders == req.nheaders);
    assert(out.body_len == size - (size_t)n &&
           memcmp(out.body, body, out.body_len) == 0);
    buf_free(&wire);
}

/* An HTTP_MSG_END accepted: its parts tile the message, and the trailer
 * lines read back as "name: value" fields within them. */
static void check_end(const char *d, size_t len)
{
    http_wire_end_t e;
    if (http_wire_end_decode(d, len, &e) < 0)
        return;
    assert(e.data + e.len == d + len);
    assert((e.trailers == NULL) == !(e.flags & HTTP_MSG_END_TRAILERS));
    if (e.trailers == NULL)
        return;
    assert(e.trailers + e.trailers_len == e.data);
    const char *p = e.trailers, *end = e.trailers + e.trailers_len;
    http_wire_trailer_t t;
    while (http_wire_trailer_next(&p, end, &t)) {
        assert(t.name_len > 0 && t.name + t.name_len + 2 == t.value);
        assert(t.value + t.value_len + 2 == p && p <= end);
        assert(memchr(t.value, '\r', t.value_len) == NULL);
        assert(memchr(t.value, '\n', t.value_len) == NULL);
    }
    assert(p == end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static swx_http_header_t hs[HTTP_MAX_HEADERS];
    swx_http_request_t r;
    /* An exact-size copy, so ASan sees any read past the message. */
    char *d = malloc(size ? size : 1);
    memcpy(d, data, size);
    if (http_wire_decode(d, size, &r, hs, HTTP_MAX_HEADERS) == 0)
        check_decoded(&r, d, size);
    check_end(d, size);
    free(d);
    check_roundtrip(data, size);
    return 0;
}
