/* test_http_wire.c: the request a reactor sends a worker: what is encoded
 * comes back intact, and no truncated or corrupted message decodes; the
 * end of a response (HTTP_MSG_END) with its trailers, likewise. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_msg.h"
#include "http/http_trailer.h"
#include "http/http_wire.h"

static const char head[] =
    "POST /a%20b/c?x=1&y=2 HTTP/1.1\r\n"
    "Host: example.org\r\n"
    "Content-Type: text/plain\r\n"
    "X-Empty:\r\n"
    "Content-Length: 5\r\n\r\n";

static buf_t wire;
static swx_http_request_t req;
static swx_http_header_t headers[HTTP_MAX_HEADERS];

static void encode(const char *text, const char *body, size_t body_len)
{
    http_request_t parsed;
    http_request_init(&parsed);
    ck_assert_int_eq(http_parse_head(text, strlen(text), NULL, &parsed),
                     (int)strlen(text));
    http_wire_peer_t peer = {"192.0.2.7", 40000, "10.0.0.2", 51000};
    ck_assert_int_eq(http_wire_encode(&wire, &parsed, body, body_len, &peer),
                     0);
}

static int decode(const char *data, size_t len)
{
    return http_wire_decode(data, len, &req, headers, HTTP_MAX_HEADERS);
}

static void teardown(void)
{
    buf_free(&wire);
}

START_TEST(test_roundtrip)
{
    encode(head, "hello", 5);
    ck_assert_int_eq(decode(buf_head(&wire), buf_pending(&wire)), 0);
    ck_assert_str_eq(req.method, "POST");
    ck_assert_uint_eq(req.method_len, 4);
    ck_assert_str_eq(req.path, "/a%20b/c");
    ck_assert_str_eq(req.query, "x=1&y=2");
    ck_assert_int_eq(req.version, 1);
    ck_assert_int_eq(req.keep_alive, 1);
    ck_assert_uint_eq(req.nheaders, 4);
    ck_assert_str_eq(req.headers[1].name, "Content-Type");
    ck_assert_str_eq(req.headers[1].value, "text/plain");
    ck_assert_str_eq(req.headers[2].value, "");
    ck_assert_uint_eq(req.body_len, 5);
    ck_assert_str_eq(req.body, "hello");
    ck_assert_str_eq(req.peer_addr, "192.0.2.7");
    ck_assert_int_eq(req.peer_port, 40000);
    ck_assert_str_eq(req.proxy_addr, "10.0.0.2");
    ck_assert_int_eq(req.proxy_port, 51000);
}
END_TEST

START_TEST(test_no_query_no_body)
{
    encode("GET / HTTP/1.0\r\n\r\n", NULL, 0);
    ck_assert_int_eq(decode(buf_head(&wire), buf_pending(&wire)), 0);
    ck_assert_ptr_null(req.query);
    ck_assert_str_eq(req.body, "");
    ck_assert_int_eq(req.version, 0);
    ck_assert_int_eq(req.keep_alive, 0);
    encode("GET /? HTTP/1.1\r\nHost: h\r\n\r\n", NULL, 0);
    ck_assert_int_eq(decode(buf_head(&wire), buf_pending(&wire)), 0);
    ck_assert_ptr_nonnull(req.query);
    ck_assert_uint_eq(req.query_len, 0);
}
END_TEST

START_TEST(test_every_truncation_refused)
{
    encode(head, "hello", 5);
    size_t n = buf_pending(&wire);
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len + 1); /* exactly len bytes are readable */
        memcpy(copy, buf_head(&wire), len);
        ck_assert_msg(decode(copy, len) == -EBADMSG, "%zu of %zu bytes "
                      "decoded", len, n);
        free(copy);
    }
}
END_TEST

START_TEST(test_extra_bytes_refused)
{
    encode(head, "hello", 5);
    ck_assert_int_eq(buf_append(&wire, "x", 1), 0);
    ck_assert_int_eq(decode(buf_head(&wire), buf_pending(&wire)), -EBADMSG);
}
END_TEST

/* Every 32-bit length field raised or lowered must be caught. */
START_TEST(test_corrupt_lengths_refused)
{
    encode(head, "hello", 5);
    size_t n = buf_pending(&wire);
    char *copy = malloc(n);
    const size_t fields[] = {
        offsetof(http_wire_hdr_t, method_len),
        offsetof(http_wire_hdr_t, path_len),
        offsetof(http_wire_hdr_t, query_len),
        offsetof(http_wire_hdr_t, nheaders),
        offsetof(http_wire_hdr_t, body_len),
    };
    const int32_t deltas[] = {1, -1, 1000, 0x7fffffff};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
            uint32_t v;
            memcpy(copy, buf_head(&wire), n);
            memcpy(&v, copy + fields[i], sizeof(v));
            v += (uint32_t)deltas[d];
            memcpy(copy + fields[i], &v, sizeof(v));
            ck_assert_msg(decode(copy, n) == -EBADMSG,
                          "field %zu off by %d decoded", i, deltas[d]);
        }
    }
    free(copy);
}
END_TEST

START_TEST(test_missing_nul_refused)
{
    encode(head, "hello", 5);
    char *copy = malloc(buf_pending(&wire));
    memcpy(copy, buf_head(&wire), buf_pending(&wire));
    /* The NUL after the method. */
    copy[sizeof(http_wire_hdr_t) + 4] = 'x';
    ck_assert_int_eq(decode(copy, buf_pending(&wire)), -EBADMSG);
    /* The peer address must end inside its field. */
    memcpy(copy, buf_head(&wire), buf_pending(&wire));
    memset(copy + offsetof(http_wire_hdr_t, peer_addr), 'a', 48);
    ck_assert_int_eq(decode(copy, buf_pending(&wire)), -EBADMSG);
    /* So must the proxy's. */
    memcpy(copy, buf_head(&wire), buf_pending(&wire));
    memset(copy + offsetof(http_wire_hdr_t, proxy_addr), 'a', 48);
    ck_assert_int_eq(decode(copy, buf_pending(&wire)), -EBADMSG);
    free(copy);
}
END_TEST

START_TEST(test_too_many_headers_refused)
{
    encode(head, "hello", 5);
    ck_assert_int_eq(http_wire_decode(buf_head(&wire), buf_pending(&wire),
                                      &req, headers, 3), -EBADMSG);
}
END_TEST

/* An HTTP_MSG_END: flags, [length, trailer lines,] last bytes. */
static size_t end_msg(char *out, uint8_t flags, const char *tr,
                      const char *last)
{
    size_t at = 0;
    out[at++] = (char)flags;
    if (tr != NULL) {
        uint32_t tl = (uint32_t)strlen(tr);
        memcpy(out + at, &tl, sizeof(tl));
        memcpy(out + at + sizeof(tl), tr, tl);
        at += sizeof(tl) + tl;
    }
    memcpy(out + at, last, strlen(last));
    return at + strlen(last);
}

START_TEST(test_end_plain)
{
    char m[64];
    http_wire_end_t e;
    size_t n = end_msg(m, HTTP_MSG_END_CLOSE, NULL, "0\r\n\r\n");
    ck_assert_int_eq(http_wire_end_decode(m, n, &e), 0);
    ck_assert_int_eq(e.flags, HTTP_MSG_END_CLOSE);
    ck_assert_ptr_null(e.trailers);
    ck_assert_uint_eq(e.len, 5);
    ck_assert(memcmp(e.data, "0\r\n\r\n", 5) == 0);
    ck_assert_int_eq(http_wire_end_decode(m, 0, &e), -EBADMSG);
    m[0] = 0x04; /* a flag nobody defined */
    ck_assert_int_eq(http_wire_end_decode(m, n, &e), -EBADMSG);
}
END_TEST

START_TEST(test_end_trailers)
{
    char m[128];
    http_wire_end_t e;
    http_wire_trailer_t t;
    size_t n = end_msg(m, HTTP_MSG_END_TRAILERS,
                       "X-Sum: 12\r\ngrpc-status: 0\r\n", "tail");
    ck_assert_int_eq(http_wire_end_decode(m, n, &e), 0);
    ck_assert_uint_eq(e.len, 4);
    ck_assert(memcmp(e.data, "tail", 4) == 0);
    const char *p = e.trailers, *end = e.trailers + e.trailers_len;
    ck_assert_int_eq(http_wire_trailer_next(&p, end, &t), 1);
    ck_assert(t.name_len == 5 && memcmp(t.name, "X-Sum", 5) == 0);
    ck_assert(t.value_len == 2 && memcmp(t.value, "12", 2) == 0);
    ck_assert_int_eq(http_wire_trailer_next(&p, end, &t), 1);
    ck_assert(t.name_len == 11 && t.value_len == 1 && *t.value == '0');
    ck_assert_int_eq(http_wire_trailer_next(&p, end, &t), 0);
    for (size_t cut = 0; cut < n - 4; cut++) /* into the trailers */
        ck_assert_int_eq(http_wire_end_decode(m, cut, &e), -EBADMSG);
}
END_TEST

START_TEST(test_end_bad_trailers)
{
    static const char *const bad[] = {
        "X-A: 1\r\nX-B: 2",     /* no CRLF at the end */
        "X A: 1\r\n",           /* not a token */
        ": 1\r\n",              /* no name */
        "X-A:1\r\n",            /* not what the worker writes */
        "X-A: a\nb\r\n",         /* LF in the value */
        "X-A: a\rb\r\n",         /* CR in the value */
    };
    char m[128];
    http_wire_end_t e;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = end_msg(m, HTTP_MSG_END_TRAILERS, bad[i], "");
        ck_assert_msg(http_wire_end_decode(m, n, &e) == -EBADMSG, "%s",
                      bad[i]);
    }
    size_t n = end_msg(m, HTTP_MSG_END_TRAILERS, "X-A: a.b\r\n", "");
    ck_assert_int_eq(http_wire_end_decode(m, n, &e), 0);
    m[1 + 4 + 6] = '\0'; /* the '.': a NUL inside the value */
    ck_assert_int_eq(http_wire_end_decode(m, n, &e), -EBADMSG);
}
END_TEST

START_TEST(test_trailer_names)
{
    ck_assert_int_eq(http_trailer_allowed("X-Checksum", 10), 1);
    ck_assert_int_eq(http_trailer_allowed("grpc-status", 11), 1);
    ck_assert_int_eq(http_trailer_allowed("Content-Length", 14), 0);
    ck_assert_int_eq(http_trailer_allowed("TRANSFER-ENCODING", 17), 0);
    ck_assert_int_eq(http_trailer_allowed("trailer", 7), 0);
    ck_assert_int_eq(http_trailer_allowed("Host", 4), 0);
    ck_assert_int_eq(http_trailer_allowed("Hostx", 5), 1);
    buf_t b = {0};
    static const char lines[] = "X-A: 1\r\nX-B: 2\r\n";
    ck_assert_int_eq(http_trailer_announce(lines, sizeof(lines) - 1, &b), 0);
    ck_assert_uint_eq(buf_pending(&b), strlen("Trailer: X-A, X-B\r\n"));
    ck_assert(memcmp(buf_head(&b), "Trailer: X-A, X-B\r\n",
                     buf_pending(&b)) == 0);
    buf_free(&b);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("http_wire");
    TCase *t = tcase_create("wire");
    tcase_add_checked_fixture(t, NULL, teardown);
    tcase_add_test(t, test_roundtrip);
    tcase_add_test(t, test_no_query_no_body);
    tcase_add_test(t, test_every_truncation_refused);
    tcase_add_test(t, test_extra_bytes_refused);
    tcase_add_test(t, test_corrupt_lengths_refused);
    tcase_add_test(t, test_missing_nul_refused);
    tcase_add_test(t, test_too_many_headers_refused);
    tcase_add_test(t, test_end_plain);
    tcase_add_test(t, test_end_trailers);
    tcase_add_test(t, test_end_bad_trailers);
    tcase_add_test(t, test_trailer_names);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wire_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
