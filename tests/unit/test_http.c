/* test_http.c: the HTTP/1.1 request head parser and chunked decoder:
 * conformance, smuggling cases, limits, input cut at every byte, and a
 * parsed head moved to a copy of its bytes. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/http_chunked.h"
#include "protocol/http_parser.h"

/* Parse s from an exactly-sized copy, so ASan sees any read past the end. */
static int parse_n(const char *s, size_t len, const http_limits_t *lim,
                   http_request_t *req)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, s, len);
    http_request_init(req);
    int rc = http_parse_head(copy, len, lim, req);
    /* Slices point into the copy; re-aim them at s before freeing it. */
    if (rc > 0) {
        uintptr_t lo = (uintptr_t)copy, hi = lo + len;
        const char **ptrs[] = {&req->method, &req->target, &req->path,
                               &req->query, &req->host};
        for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
            uintptr_t p = (uintptr_t)*ptrs[i];
            if (p >= lo && p < hi)
                *ptrs[i] = s + (p - lo);
        }
        ptrdiff_t d = s - copy;
        for (size_t i = 0; i < req->nheaders; i++) {
            req->headers[i].name += d;
            req->headers[i].value += d;
        }
    }
    free(copy);
    return rc;
}

/* Feed s a byte at a time; every prefix before the answer must say 0. */
static int parse_bytewise(const char *s, size_t len, const http_limits_t *lim)
{
    char *buf = malloc(len ? len : 1);
    http_request_t req;
    http_request_init(&req);
    int rc = 0;
    for (size_t i = 1; i <= len && rc == 0; i++) {
        memcpy(buf, s, i);
        rc = http_parse_head(buf, i, lim, &req);
    }
    free(buf);
    return rc;
}

static int parse_lim(const char *s, const http_limits_t *lim, http_request_t *req)
{
    size_t len = strlen(s);
    int whole = parse_n(s, len, lim, req);
    ck_assert_int_eq(parse_bytewise(s, len, lim), whole);
    return whole;
}

static int parse(const char *s, http_request_t *req)
{
    return parse_lim(s, NULL, req);
}

static void ck_slice(const char *p, size_t len, const char *want)
{
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(p, want, len) == 0);
}

#define HOST "Host: h\r\n"

START_TEST(simple_get)
{
    http_request_t r;
    const char *s = "GET / HTTP/1.1\r\n" HOST "\r\n";
    ck_assert_int_eq(parse(s, &r), (int)strlen(s));
    ck_slice(r.method, r.method_len, "GET");
    ck_assert_int_eq(r.method_id, HTTP_GET);
    ck_slice(r.path, r.path_len, "/");
    ck_assert_ptr_null(r.query);
    ck_slice(r.host, r.host_len, "h");
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_eq(r.keep_alive, 1);
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_int_eq(r.chunked, 0);
    ck_assert_uint_eq(r.nheaders, 1);
}
END_TEST

START_TEST(methods)
{
    static const struct { const char *m; http_method_t id; } t[] = {
        {"GET", HTTP_GET}, {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST},
        {"PUT", HTTP_PUT}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
        {"PATCH", HTTP_PATCH}, {"TRACE", HTTP_TRACE}, {"PURGE", HTTP_OTHER},
        {"get", HTTP_OTHER}, {"M-SEARCH", HTTP_OTHER}, {"GETX", HTTP_OTHER},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char s[128];
        snprintf(s, sizeof(s), "%s /x HTTP/1.1\r\n" HOST "\r\n", t[i].m);
        http_request_t r;
        ck_assert_int_eq(parse(s, &r), (int)strlen(s));
        ck_assert_int_eq(r.method_id, t[i].id);
        ck_slice(r.method, r.method_len, t[i].m);
    }
}
END_TEST

START_TEST(query_strings)
{
    http_request_t r;
    ck_assert_int_gt(parse("GET /p/a?x=1&y=2 HTTP/1.1\r\n" HOST "\r\n", &r), 0);
    ck_slice(r.path, r.path_len, "/p/a");
    ck_slice(r.query, r.query_len, "x=1&y=2");
    ck_slice(r.target, r.target_len, "/p/a?x=1&y=2");
    ck_assert_int_gt(parse("GET /a? HTTP/1.1\r\n" HOST "\r\n", &r), 0);
    ck_slice(r.path, r.path_len, "/a");
    ck_assert_ptr_nonnull(r.query);
    ck_assert_uint_eq(r.query_len, 0);
    ck_assert_int_gt(parse("GET /a?b?c=%20 HTTP/1.1\r\n" HOST "\r\n", &r), 0);
    ck_slice(r.query, r.query_len, "b?c=%20");
}
END_TEST

START_TEST(target_forms)
{
    http_request_t r;
    ck_assert_int_gt(parse("OPTIONS * HTTP/1.1\r\n" HOST "\r\n", &r), 0);
    ck_slice(r.path, r.path_len, "*");
    ck_assert_int_eq(parse("GET * HTTP/1.1\r\n" HOST "\r\n", &r), -400);
    ck_assert_int_gt(parse("GET http://ex.com:81/a/b?q HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_slice(r.host, r.host_len, "ex.com:81");
    ck_slice(r.path, r.path_len, "/a/b");
    ck_slice(r.query, r.query_len, "q");
    ck_assert_int_gt(parse("GET HTTPS://ex.com HTTP/1.1\r\n" HOST "\r\n", &r), 0);
    ck_slice(r.path, r.path_len, "/");
    ck_slice(r.host, r.host_len, "ex.com");
    ck_assert_int_gt(parse("GET http://ex.com?z HTTP/1.1\r\n" HOST "\r\n", &r), 0);
    ck_slice(r.path, r.path_len, "/");
    ck_slice(r.query, r.query_len, "z");
    const char *bad[] = {
        "GET x HTTP/1.1\r\n" HOST "\r\n",
        "GET http:/// HTTP/1.1\r\n" HOST "\r\n",
        "GET http:// HTTP/1.1\r\n" HOST "\r\n",
        "GET http://u@h/ HTTP/1.1\r\n" HOST "\r\n",
        "GET ftp://h/ HTTP/1.1\r\n" HOST "\r\n",
        "CONNECT h:443 HTTP/1.1\r\n" HOST "\r\n",
        "GET /a\x7f HTTP/1.1\r\n" HOST "\r\n",
        "GET /a\x80 HTTP/1.1\r\n" HOST "\r\n",
        "GET /a\x01 HTTP/1.1\r\n" HOST "\r\n",
        "GET /a\tb HTTP/1.1\r\n" HOST "\r\n",
        "GET /a\rb HTTP/1.1\r\n" HOST "\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(parse(bad[i], &r), -400);
}
END_TEST

/* A parsed head re-aimed at a copy of its bytes: every slice follows,
 * and the original may then be overwritten. */
START_TEST(rebase_to_copy)
{
    const char *heads[] = {
        ("\r\nPOST /a/b?q=1 HTTP/1.1\r\nHost: h\r\nX-A:  v \r\n"
         "Content-Length: 3\r\nX-Empty:\r\n\r\n"),
        "GET http://ex.com HTTP/1.1\r\nHost: o\r\n\r\n", /* path "/" */
        "GET http://ex.com/p?z HTTP/1.0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        size_t len = strlen(heads[i]);
        char *first = malloc(len), *copy = malloc(len);
        memcpy(first, heads[i], len);
        http_request_t r;
        http_request_init(&r);
        ck_assert_int_eq(http_parse_head(first, len, NULL, &r), (int)len);
        http_request_t moved = r;
        memcpy(copy, first, len);
        http_request_rebase(&moved, first, copy);
        memset(first, '#', len); /* a stale slice would read this */
        ck_assert_ptr_eq(moved.method, copy + (r.method - first));
        ck_assert_uint_eq(moved.method_len, r.method_len);
        ck_assert_ptr_eq(moved.target, copy + (r.target - first));
        ck_assert_ptr_eq(moved.host, copy + (r.host - first));
        ck_assert_uint_eq(moved.nheaders, r.nheaders);
        for (size_t k = 0; k < r.nheaders; k++) {
            ck_assert_ptr_eq(moved.headers[k].name,
                             copy + (r.headers[k].name - first));
            ck_assert_ptr_eq(moved.headers[k].value,
                             copy + (r.headers[k].value - first));
        }
        if (i == 0) {
            ck_slice(moved.path, moved.path_len, "/a/b");
            ck_slice(moved.query, moved.query_len, "q=1");
            ck_slice(moved.headers[1].value, moved.headers[1].value_len, "v");
            ck_assert_uint_eq(moved.headers[3].value_len, 0);
            size_t vl;
            const char *v = http_header_get(&moved, "x-a", &vl);
            ck_slice(v, vl, "v");
        } else if (i == 1) {
            ck_slice(moved.path, moved.path_len, "/"); /* not in the copy */
            ck_assert_ptr_null(moved.query);
            ck_slice(moved.host, moved.host_len, "ex.com");
        } else {
            ck_slice(moved.path, moved.path_len, "/p");
            ck_slice(moved.query, moved.query_len, "z");
            ck_slice(moved.host, moved.host_len, "ex.com");
        }
        free(first);
        free(copy);
    }
}
END_TEST

START_TEST(request_line_shape)
{
    http_request_t r;
    const char *bad[] = {
        "GET  / HTTP/1.1\r\n" HOST "\r\n",
        "GET /  HTTP/1.1\r\n" HOST "\r\n",
        "GET / HTTP/1.1 \r\n" HOST "\r\n",
        " GET / HTTP/1.1\r\n" HOST "\r\n",
        "GET\t/ HTTP/1.1\r\n" HOST "\r\n",
        "GET /\r\n" HOST "\r\n",
        "GET\r\n" HOST "\r\n",
        "G(T / HTTP/1.1\r\n" HOST "\r\n",
        "G\"T / HTTP/1.1\r\n" HOST "\r\n",
        "GET / http/1.1\r\n" HOST "\r\n",
        "GET / HTTP/11\r\n" HOST "\r\n",
        "GET / HTTP/1.1x\r\n" HOST "\r\n",
        "GET / HTTP/1.\r\n" HOST "\r\n",
        "GET / HTTP/a.1\r\n" HOST "\r\n",
        "GET / HTTP\r\n" HOST "\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(parse(bad[i], &r), -400);
    ck_assert_int_eq(parse_n("GET \0/ HTTP/1.1\r\n\r\n", 19, NULL, &r), -400);
}
END_TEST

START_TEST(versions)
{
    http_request_t r;
    ck_assert_int_eq(parse("GET / HTTP/2.0\r\n" HOST "\r\n", &r), -505);
    ck_assert_int_eq(parse("GET / HTTP/1.2\r\n" HOST "\r\n", &r), -505);
    ck_assert_int_eq(parse("GET / HTTP/0.9\r\n" HOST "\r\n", &r), -505);
    ck_assert_int_eq(parse("GET / HTTP/3.1\r\n" HOST "\r\n", &r), -505);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.version, 0);
    ck_assert_ptr_null(r.host);
    ck_assert_int_eq(r.keep_alive, 0);
}
END_TEST

START_TEST(connection_handling)
{
    http_request_t r;
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\n" HOST "Connection: close\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.keep_alive, 0);
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\n" HOST "Connection: foo, CLOSE\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.keep_alive, 0);
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\n" HOST "Connection: closed\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.keep_alive, 1);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.keep_alive, 1);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
                           "Connection: close\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.keep_alive, 0);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: ,, keep-alive ,\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.keep_alive, 1);
}
END_TEST

START_TEST(expect_and_upgrade)
{
    http_request_t r;
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\n"
                           "Expect: 100-Continue\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.expect_continue, 1);
    ck_assert_int_eq(r.content_length, 3);
    ck_assert_int_gt(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.expect_continue, 0);
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\n" HOST "Expect: 200-ok\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.expect_continue, 0);
    const char *ws = "GET /chat HTTP/1.1\r\n" HOST "Upgrade: WebSocket\r\n"
                     "Connection: keep-alive, Upgrade\r\n\r\n";
    ck_assert_int_gt(parse(ws, &r), 0);
    ck_assert_int_eq(r.upgrade_websocket, 1);
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\n" HOST "Upgrade: websocket\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.upgrade_websocket, 0);
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\n" HOST "Upgrade: h2c\r\n"
                           "Connection: upgrade\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.upgrade_websocket, 0);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\nUpgrade: websocket\r\n"
                           "Connection: upgrade\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.upgrade_websocket, 0);
}
END_TEST

START_TEST(headers_and_lookup)
{
    http_request_t r;
    const char *s = "GET / HTTP/1.1\r\nHost:h\r\nX-A: \t v a l \t \r\n"
                    "X-Empty:\r\nX-Obs: caf\xc3\xa9\r\nx-a: second\r\n\r\n";
    ck_assert_int_gt(parse(s, &r), 0);
    ck_assert_uint_eq(r.nheaders, 5);
    static const char *const want[][2] = {
        {"x-a", "v a l"}, {"X-EMPTY", ""}, {"x-obs", "caf\xc3\xa9"}, {"HOST", "h"},
    };
    size_t len = 99;
    for (size_t i = 0; i < 4; i++) {
        const char *v = http_header_get(&r, want[i][0], &len);
        ck_slice(v, len, want[i][1]);
    }
    ck_assert_ptr_null(http_header_get(&r, "x-missing", &len));
    ck_assert_ptr_null(http_header_get(&r, "x", &len));
    ck_slice(r.headers[4].name, r.headers[4].name_len, "x-a");
    ck_slice(r.headers[4].value, r.headers[4].value_len, "second");
}
END_TEST

START_TEST(leading_crlf_and_pipelining)
{
    http_request_t r;
    const char *s = "\r\n\r\nGET /a HTTP/1.1\r\n" HOST "\r\n";
    ck_assert_int_eq(parse(s, &r), (int)strlen(s));
    ck_slice(r.path, r.path_len, "/a");
    const char *one = "GET /1 HTTP/1.1\r\n" HOST "\r\n";
    const char *two = "POST /2 HTTP/1.1\r\n" HOST "Content-Length: 4\r\n\r\n";
    const char *three = "HEAD /3 HTTP/1.1\r\n" HOST "\r\n";
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%sbody%s\r\nGET /4 HT", one, two, three);
    size_t len = strlen(buf), off = 0;
    http_request_init(&r);
    int n = http_parse_head(buf, len, NULL, &r);
    ck_assert_int_eq(n, (int)strlen(one));
    ck_slice(r.path, r.path_len, "/1");
    off += (size_t)n;
    n = http_parse_head(buf + off, len - off, NULL, &r);
    ck_assert_int_eq(n, (int)strlen(two));
    ck_assert_int_eq(r.content_length, 4);
    off += (size_t)n + 4;
    n = http_parse_head(buf + off, len - off, NULL, &r);
    ck_assert_int_eq(n, (int)strlen(three));
    ck_assert_int_eq(r.method_id, HTTP_HEAD);
    off += (size_t)n;
    /* A stray CRLF after a body is skipped; the fourth is incomplete. */
    ck_assert_int_eq(http_parse_head(buf + off, len - off, NULL, &r), 0);
}
END_TEST

START_TEST(smuggling_framing)
{
    http_request_t r;
    static const struct { const char *fields; int rc; } t[] = {
        {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", -400},
        {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", -400},
        {"Content-Length: 5\r\nContent-Length: 6\r\n", -400},
        {"Content-Length: 1a\r\n", -400},
        {"Content-Length: -1\r\n", -400},
        {"Content-Length: +5\r\n", -400},
        {"Content-Length: \r\n", -400},
        {"Content-Length: 5 5\r\n", -400},
        {"Content-Length: 5,5\r\n", -400},
        {"Content-Length: 0x10\r\n", -400},
        {"Content-Length: 9223372036854775808\r\n", -400},
        {"Content-Length: 99999999999999999999999\r\n", -400},
        {"Transfer-Encoding: gzip, chunked\r\n", -501},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", -501},
        {"Transfer-Encoding: chunked, gzip\r\n", -400},
        {"Transfer-Encoding: gzip\r\n", -400},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", -400},
        {"Transfer-Encoding: chunked, chunked\r\n", -400},
        {"Transfer-Encoding: chunked;q=1\r\n", -400},
        {"Transfer-Encoding: xchunked\r\n", -400},
        {"Transfer-Encoding: \r\n", -400},
        {"Transfer-Encoding : chunked\r\n", -400},
        {"Transfer-Encoding\t: chunked\r\n", -400},
        {"X: a\r\n Transfer-Encoding: chunked\r\n", -400},
        {"X: a\r\n\tb\r\n", -400},
        {"Transfer-Encoding:\x0b" "chunked\r\n", -400},
        {"Content-Length: 5\r\n" "Content-Length: 5\r\n", 0},
        {"Content-Length: 05\r\n" "Content-Length: 5\r\n", 0},
        {"Content-Length: 9223372036854775807\r\n", 0},
        {"Transfer-Encoding: Chunked\r\n", 0},
        {"Transfer-Encoding: , chunked ,\r\n", 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char s[512];
        snprintf(s, sizeof(s), "POST / HTTP/1.1\r\n" HOST "%s\r\n", t[i].fields);
        int rc = parse(s, &r);
        if (t[i].rc == 0)
            ck_assert_msg(rc == (int)strlen(s), "case %zu: %d", i, rc);
        else
            ck_assert_msg(rc == t[i].rc, "case %zu: %d", i, rc);
    }
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.chunked, 1);
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_int_eq(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &r), -400);
}
END_TEST

START_TEST(smuggling_lines)
{
    http_request_t r;
    const char *bad[] = {
        "GET / HTTP/1.1\n" HOST "\r\n",
        "GET / HTTP/1.1\r\nHost: h\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n\n",
        "\nGET / HTTP/1.1\r\n" HOST "\r\n",
        "\r\n\nGET / HTTP/1.1\r\n" HOST "\r\n",
        "GET / HTTP/1.1\r\n" HOST "X: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X: a\x01\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X: a\x7f\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X: \x1b[31m\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "Host : h\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X(: a\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X Y: a\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST ": a\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "NoColon\r\n\r\n",
        "GET / HTTP/1.1\r\n" " " HOST "\r\n",
        "GET / HTTP/1.1\r\n" HOST "\r\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse(bad[i], &r) == -400, "case %zu", i);
    ck_assert_int_eq(parse_n("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 35,
                             NULL, &r), -400);
}
END_TEST

/* Every byte in a field name and a method: accepted exactly when tchar. */
START_TEST(token_chars_exhaustive)
{
    const char *tchars = "!#$%&'*+-.^_`|~0123456789"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int c = 0; c < 256; c++) {
        int ok = c != 0 && strchr(tchars, c) != NULL;
        char s[64];
        int n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: h\r\nX%cY: v\r\n\r\n", c);
        s[26] = (char)c;  /* snprintf stops at NUL; put it back */
        http_request_t r;
        int rc = parse_n(s, (size_t)n, NULL, &r);
        /* "X:Y: v" is the field X with value "Y: v". */
        if (c != ':' && ok != (rc == n))
            ck_abort_msg("field name byte %#x: %d", c, rc);
        n = snprintf(s, sizeof(s), "G%cT / HTTP/1.1\r\nHost: h\r\n\r\n", c);
        s[1] = (char)c;
        rc = parse_n(s, (size_t)n, NULL, &r);
        if (ok != (rc == n))
            ck_abort_msg("method byte %#x: %d", c, rc);
    }
}
END_TEST

/* Every byte at every place of a field value of 20 bytes (so in each
 * lane of the word-at-a-time check and in its byte-wise tail): accepted
 * exactly when a field character (anything but a control character, tab
 * allowed); a second tab or 0x7f later in the value is found as well. */
START_TEST(field_value_chars_exhaustive)
{
    enum { VLEN = 20 };
    const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
    size_t pl = strlen(pre);
    for (int c = 0; c < 256; c++) {
        int ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        for (int at = 0; at < VLEN; at++) {
            for (int later = -1; later < 2; later++) {
                char s[128];
                memcpy(s, pre, pl);
                memset(s + pl, 'v', VLEN);
                s[pl + at] = (char)c;
                /* then a tab (allowed) or a DEL (not) past it */
                if (later >= 0 && at + 3 < VLEN)
                    s[pl + at + 3] = later ? 0x7f : '\t';
                memcpy(s + pl + VLEN, "\r\n\r\n", 4);
                size_t n = pl + VLEN + 4;
                int want = ok && !(later == 1 && at + 3 < VLEN);
                http_request_t r;
                int rc = parse_n(s, n, NULL, &r);
                if (want != (rc == (int)n))
                    ck_abort_msg("value byte %#x at %d (then %d): %d", c, at,
                                 later, rc);
            }
        }
    }
}
END_TEST

START_TEST(host_rules)
{
    http_request_t r;
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\n\r\n", &r), -400);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", &r), -400);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", &r), -400);
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r), 0);
    ck_assert_uint_eq(r.host_len, 0);
}
END_TEST

START_TEST(limits)
{
    http_request_t r;
    http_limits_t lim = {.max_head = 64, .max_uri = 16, .max_headers = 2};
    char s[256];
    /* Exactly max_head bytes: the blank line ends at byte 64. */
    snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: h\r\nX: %032d\r\n\r\n", 0);
    ck_assert_uint_eq(strlen(s), 64);
    ck_assert_int_eq(parse_lim(s, &lim, &r), 64);
    snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: h\r\nX: %033d\r\n\r\n", 0);
    ck_assert_int_eq(parse_lim(s, &lim, &r), -431);
    /* Too long with no end in sight: known without waiting for more. */
    ck_assert_int_eq(parse_n(s, 64, &lim, &r), -431);
    ck_assert_int_eq(parse_n(s, 63, &lim, &r), 0);
    snprintf(s, sizeof(s), "GET /%016d HTTP/1.1\r\n" HOST "\r\n", 0);
    ck_assert_int_eq(parse_lim(s, &lim, &r), -414);
    snprintf(s, sizeof(s), "GET /%015d HTTP/1.1\r\n" HOST "\r\n", 0);
    ck_assert_int_eq(parse_lim(s, &lim, &r), (int)strlen(s));
    snprintf(s, sizeof(s), "GET /%080d HTTP/1.1\r\n" HOST "\r\n", 0);
    ck_assert_int_eq(parse_lim(s, &lim, &r), -414);
    ck_assert_int_eq(parse_lim("GET / HTTP/1.1\r\n" HOST "A: 1\r\nB: 2\r\n\r\n", &lim, &r), -431);
    ck_assert_int_gt(parse_lim("GET / HTTP/1.1\r\n" HOST "A: 1\r\n\r\n", &lim, &r), 0);
    /* A flood of empty lines is bounded too. */
    char crlf[200];
    for (int i = 0; i < 100; i++)
        memcpy(crlf + 2 * i, "\r\n", 2);
    ck_assert_int_eq(parse_n(crlf, sizeof(crlf), &lim, &r), -414);
    /* Defaults and HTTP_MAX_HEADERS as a hard cap. */
    static char big[16384];
    size_t len = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n" HOST);
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        len += (size_t)snprintf(big + len, sizeof(big) - len, "H%d: v\r\n", i);
    memcpy(big + len, "\r\n", 3);
    http_limits_t huge = {.max_head = sizeof(big), .max_headers = 100000};
    ck_assert_int_eq(parse_lim(big, &huge, &r), -431);
    ck_assert_int_eq(parse_lim(big, NULL, &r), -431);
}
END_TEST

START_TEST(need_more)
{
    http_request_t r;
    const char *s = "GET / HTTP/1.1\r\n" HOST "\r\n";
    for (size_t i = 0; i < strlen(s); i++)
        ck_assert_int_eq(parse_n(s, i, NULL, &r), 0);
    /* State from a 0 answer is reset by a complete parse. */
    http_request_init(&r);
    ck_assert_int_eq(http_parse_head(s, 10, NULL, &r), 0);
    ck_assert_int_eq(http_parse_head(s, strlen(s), NULL, &r), (int)strlen(s));
    ck_assert_uint_eq(r.scan_line, 0);
    ck_assert_int_eq(http_parse_head(s, strlen(s), NULL, &r), (int)strlen(s));
}
END_TEST

START_TEST(bad_scan_state_is_not_trusted)
{
    http_request_t r;
    const char *s = "GET / HTTP/1.1\r\n" HOST "\r\n";
    /* State past the data (another buffer's) is dropped, not followed. */
    http_request_init(&r);
    r.scan_line = 1000;
    r.scan_lead = 10;
    ck_assert_int_eq(http_parse_head(s, strlen(s), NULL, &r), (int)strlen(s));
    /* State that skips a bare LF cannot smuggle it past the parser. */
    const char *lf1 = "GET\n/ HTTP/1.1\r\n" HOST "\r\n";
    http_request_init(&r);
    r.scan_line = 5;
    ck_assert_int_eq(http_parse_head(lf1, strlen(lf1), NULL, &r), -400);
    const char *lf2 = "GET / HTTP/1.1\r\nX: a\nHost: h\r\n\r\n";
    http_request_init(&r);
    r.scan_line = 22;
    ck_assert_int_eq(http_parse_head(lf2, strlen(lf2), NULL, &r), -400);
    /* Absurd limits are clamped so the length still fits the int result. */
    http_limits_t lim = {.max_head = SIZE_MAX, .max_uri = SIZE_MAX};
    ck_assert_int_eq(parse_lim(s, &lim, &r), (int)strlen(s));
}
END_TEST

/* ---- chunked bodies ---- */

/* Decode s in place in two pieces cut at `cut`; returns the final rc. */
static int chunked_split(const char *s, size_t len, size_t cut, uint64_t max_body,
                         size_t max_meta, char *body, size_t *body_len,
                         size_t *consumed)
{
    char *buf = malloc(len ? len : 1);
    http_chunked_t c;
    http_chunked_init(&c, max_body, max_meta);
    size_t raw = 0, dec = 0, have = 0;
    int rc = 0;
    size_t cuts[2] = {cut, len};
    for (int k = 0; k < 2 && rc == 0; k++) {
        memcpy(buf + have, s + have, cuts[k] - have);
        have = cuts[k];
        size_t used, n;
        rc = http_chunked_decode(&c, buf + raw, have - raw, buf + dec, &used, &n);
        ck_assert_uint_le(n, used);
        ck_assert(rc != 0 || used == have - raw);
        raw += used;
        dec += n;
    }
    memcpy(body, buf, dec);
    *body_len = dec;
    *consumed = raw;
    free(buf);
    return rc;
}

/* Every split of s decodes to want (rc 1) with `tail` bytes left over. */
static void chunked_ok(const char *s, const char *want, size_t tail)
{
    size_t len = strlen(s);
    char body[512];
    for (size_t cut = 0; cut <= len; cut++) {
        size_t blen, used;
        int rc = chunked_split(s, len, cut, 1 << 20, 1024, body, &blen, &used);
        ck_assert_msg(rc == 1, "cut %zu: rc %d", cut, rc);
        ck_assert_uint_eq(used, len - tail);
        ck_slice(body, blen, want);
    }
}

/* Every split of s fails with want. */
static void chunked_bad(const char *s, int want, uint64_t max_body, size_t max_meta)
{
    size_t len = strlen(s);
    char body[512];
    for (size_t cut = 0; cut <= len; cut++) {
        size_t blen, used;
        int rc = chunked_split(s, len, cut, max_body, max_meta, body, &blen, &used);
        ck_assert_msg(rc == want, "%s cut %zu: rc %d", s, cut, rc);
    }
}

START_TEST(chunked_good)
{
    chunked_ok("5\r\nhello\r\n0\r\n\r\n", "hello", 0);
    chunked_ok("0\r\n\r\n", "", 0);
    chunked_ok("3\r\nabc\r\nA\r\n0123456789\r\nb\r\nABCDEFGHIJK\r\n0\r\n\r\n",
               "abc0123456789ABCDEFGHIJK", 0);
    chunked_ok("3;name=value;x\r\nabc\r\n0;last\r\n\r\n", "abc", 0);
    chunked_ok("3 ;x\r\nabc\r\n0\t; y=\"q\"\r\n\r\n", "abc", 0);
    chunked_ok("0000000000000003\r\nabc\r\n000\r\n\r\n", "abc", 0);
    chunked_ok("2\r\nok\r\n0\r\nX-Sum: 1\r\nX-Other:\t v\r\n\r\n", "ok", 0);
    chunked_ok("2\r\n\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "\r\n", 16);
}
END_TEST

START_TEST(chunked_bytewise_in_place)
{
    const char *s = "4\r\nWiki\r\n5;e=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nNEXT";
    size_t len = strlen(s);
    char *buf = malloc(len);
    memcpy(buf, s, len);
    http_chunked_t c;
    http_chunked_init(&c, 100, 100);
    size_t raw = 0, dec = 0;
    int rc = 0;
    for (size_t have = 1; have <= len && rc == 0; have++) {
        size_t used, n;
        rc = http_chunked_decode(&c, buf + raw, have - raw, buf + dec, &used, &n);
        raw += used;
        dec += n;
    }
    ck_assert_int_eq(rc, 1);
    ck_slice(buf, dec, "Wikipedia in\r\n\r\nchunks.");
    ck_assert_uint_eq(raw, len - 4);
    /* Done stays done and takes nothing more. */
    size_t used = 9, n = 9;
    ck_assert_int_eq(http_chunked_decode(&c, buf + raw, 4, buf + dec, &used, &n), 1);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(n, 0);
    free(buf);
}
END_TEST

START_TEST(chunked_malformed)
{
    const char *bad[] = {
        "x\r\n",
        "\r\n",
        ";ext\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",
        "5 5\r\nhello\r\n0\r\n\r\n",
        "-5\r\n",
        "0x5\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "5\rhello",
        "5\r\nhelloX\r\n0\r\n\r\n",
        "5\r\nhello\rX",
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\n",
        "5\r\nhello\r\n0\r\nX\r\n\r\n",
        "5\r\nhello\r\n0\r\n X: a\r\n\r\n",
        "5\r\nhello\r\n0\r\nX : a\r\n\r\n",
        "5\r\nhello\r\n0\r\nX: a\x01\r\n\r\n",
        "5\r\nhello\r\n0\r\nX: a\n\r\n",
        "5\r\nhello\r\n0\r\n\rX",
        "3;a\x01\r\nabc\r\n0\r\n\r\n",
        "3;a\nabc\r\n0\r\n\r\n",
        "00000000000000003\r\nabc\r\n0\r\n\r\n",
        "10000000000000000\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        chunked_bad(bad[i], -400, UINT64_MAX, 1024);
}
END_TEST

START_TEST(chunked_limits)
{
    /* A single chunk over the limit is refused from its size line. */
    chunked_bad("b\r\n", -413, 10, 100);
    chunked_bad("5\r\nhello\r\n6\r\n", -413, 10, 100);
    chunked_ok("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", "helloworld", 0);
    chunked_bad("5\r\nhello\r\n5\r\nworld\r\n1\r\n", -413, 10, 100);
    chunked_bad("ffffffffffffffff\r\n", -413, UINT64_MAX - 1, 100);
    chunked_bad("1;aaaaaaaaaa\r\nx\r\n0\r\n\r\n", -431, 10, 9);
    chunked_bad("1;aaaa\r\nx\r\n0;bbbbbb\r\n\r\n", -431, 10, 9);
    chunked_bad("0\r\nX: aaaaaaaaaa\r\n\r\n", -431, 10, 9);
    chunked_bad("0\r\nXXXXXXXXXXXX", -431, 10, 9);
    /* Errors are sticky. */
    http_chunked_t c;
    http_chunked_init(&c, 10, 10);
    size_t used, n;
    char out[8];
    ck_assert_int_eq(http_chunked_decode(&c, "z", 1, out, &used, &n), -400);
    ck_assert_int_eq(http_chunked_decode(&c, "0\r\n\r\n", 5, out, &used, &n), -400);
    ck_assert_uint_eq(used, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *head = tcase_create("head");
    tcase_add_test(head, simple_get);
    tcase_add_test(head, methods);
    tcase_add_test(head, query_strings);
    tcase_add_test(head, target_forms);
    tcase_add_test(head, request_line_shape);
    tcase_add_test(head, versions);
    tcase_add_test(head, connection_handling);
    tcase_add_test(head, expect_and_upgrade);
    tcase_add_test(head, headers_and_lookup);
    tcase_add_test(head, leading_crlf_and_pipelining);
    tcase_add_test(head, smuggling_framing);
    tcase_add_test(head, smuggling_lines);
    tcase_add_test(head, token_chars_exhaustive);
    tcase_add_test(head, field_value_chars_exhaustive);
    tcase_add_test(head, host_rules);
    tcase_add_test(head, limits);
    tcase_add_test(head, need_more);
    tcase_add_test(head, bad_scan_state_is_not_trusted);
    tcase_add_test(head, rebase_to_copy);
    suite_add_tcase(s, head);
    TCase *chunked = tcase_create("chunked");
    tcase_add_test(chunked, chunked_good);
    tcase_add_test(chunked, chunked_bytewise_in_place);
    tcase_add_test(chunked, chunked_malformed);
    tcase_add_test(chunked, chunked_limits);
    suite_add_tcase(s, chunked);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
