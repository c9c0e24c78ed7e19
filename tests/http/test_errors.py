"""test_errors.py: what the reactor refuses, end to end on raw sockets:
each malformed or oversized request gets its status (400, 408, 413, 414,
431, 501, 505) and the connection is closed after it; request smuggling
(Content-Length with Transfer-Encoding, differing duplicate lengths,
obs-fold, bare LF) is refused and what was smuggled is never answered;
the server serves everyone else as before. http_max_head_size and
http_max_uri_size move the 431 and 414 limits."""

import json
import socket
import time

import http_helper as hh

check = hh.check

MAX_BODY = 100000


def expect_status(port, data, status, what, send_more=b""):
    """Send data (and maybe more after), get status, then the close."""
    with hh.connect(port) as s:
        s.sendall(data)
        if send_more:
            try:
                s.sendall(send_more)
            except OSError:
                pass
        rd = hh.Reader(s)
        r = rd.response()
        check(r.status == status, "%s: got %d %s, expected %d"
              % (what, r.status, r.reason, status))
        check(r.header("connection") == "close", "%s: no Connection: close"
              % what)
        hh.h.check_server_date(r.header, what)
        check(hh.closed_after(s, rd), "%s: the connection stayed open" % what)
        check(rd.interim == [], "%s: interim responses %r" % (what,
                                                              rd.interim))


def still_serving(port):
    r = hh.exchange(port, hh.get(port, "/echo", body=b"alive"))
    check(r.status == 200 and r.body == b"alive", "server no longer serves")


SMUGGLING = [
    ("CL and TE", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
     b"GET /worker HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("TE and CL", b"POST /echo HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"),
    ("duplicate CL", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
     b"Content-Length: 30\r\n\r\nabcdGET /worker HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("CL list", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 30"
     b"\r\n\r\nabcd"),
    ("obs-fold", b"GET /echo HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n"
     b" Transfer-Encoding: chunked\r\n\r\n"),
    ("bare LF", b"GET /echo HTTP/1.1\nHost: a\n\n"),
    ("bare LF in a field", b"GET /echo HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"),
    ("space before colon", b"GET /echo HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding : chunked\r\n\r\n"),
    ("TE on HTTP/1.0", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n0\r\n\r\n"),
    ("chunked twice", b"POST /echo HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
]

MALFORMED = [
    ("garbage", b"GARBAGE\r\n\r\n", 400),
    ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
    ("bad chunk size", b"POST /echo HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ("gzip then chunked", b"POST /echo HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("gzip alone", b"POST /echo HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: gzip\r\n\r\n", 400),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    ("long URI", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
     414),
    ("big header", b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 9000 +
     b"\r\n\r\n", 431),
    ("101 headers", b"GET / HTTP/1.1\r\nHost: a\r\n" +
     b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n", 431),
    ("body over the limit", b"POST /echo HTTP/1.1\r\nHost: a\r\n"
     b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1), 413),
    ("chunked over the limit", b"POST /echo HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_BODY + 1), 413),
]


def test_refusals(port):
    for what, data in SMUGGLING:
        expect_status(port, data, 400, what)
    for what, data, status in MALFORMED:
        expect_status(port, data, status, what)
    still_serving(port)


def test_equal_duplicates(port):
    """RFC 9110 §8.6: identical Content-Length values may be accepted."""
    r = hh.exchange(port, b"POST /echo HTTP/1.1\r\nHost: a\r\n"
                    b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    check(r.status == 200 and r.body == b"abc", "equal duplicates: %r" % r)


def test_413_with_body_sent(port):
    """The client sends the whole oversized body anyway: the 413 still
    arrives (the server reads and drops input before it closes)."""
    head = (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
            % (MAX_BODY * 3))
    expect_status(port, head, 413, "413 with its body",
                  send_more=b"x" * (MAX_BODY * 3))


def test_expect_refused(port):
    """Expect: 100-continue with a body over the limit: 413, no 100."""
    expect_status(port, b"POST /echo HTTP/1.1\r\nHost: a\r\n"
                  b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                  % (MAX_BODY * 2), 413, "expect 413")


def test_timeouts(port):
    """http_request_timeout is 1 s: a partial head or body gets 408; an
    idle connection is closed without a word."""
    t0 = time.monotonic()
    expect_status(port, b"GET / HTTP/1.1\r\nHost:", 408, "partial head")
    expect_status(port, b"POST /echo HTTP/1.1\r\nHost: a\r\n"
                  b"Content-Length: 10\r\n\r\nabc", 408, "partial body")
    check(time.monotonic() - t0 < 8, "408s took too long")
    with hh.connect(port) as s:
        s.settimeout(10)
        t0 = time.monotonic()
        check(s.recv(100) == b"", "idle connection got bytes")
        check(0.5 < time.monotonic() - t0 < 8, "idle connection not closed "
              "after about 1 s")
    # A keep-alive connection idles out the same way after a response.
    with hh.connect(port) as s:
        s.sendall(hh.get(port, "/echo", body=b"x"))
        rd = hh.Reader(s)
        check(rd.response().body == b"x", "keep-alive request")
        check(hh.closed_after(s, rd), "idle keep-alive not closed")
    # Requests 0.6 s apart keep a connection open for 3 s: each response
    # starts the 1 s anew, although the timer set after the first one
    # stays where it was and moves on to the new time when it fires.
    with hh.connect(port) as s:
        rd = hh.Reader(s)
        for i in range(5):
            s.sendall(hh.get(port, "/echo", body=b"y"))
            check(rd.response().body == b"y",
                  "request %d 0.6 s after the last response" % i)
            time.sleep(0.6)
        check(hh.closed_after(s, rd), "idle keep-alive not closed")


def test_others_unaffected(port):
    """A client stuck mid-request holds no one else up."""
    stuck = hh.connect(port)
    stuck.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n"
                  b"\r\n")
    for i in range(20):
        still_serving(port)
    stuck.close()


def test_custom_limits(port):
    """http_max_head_size 32 KiB and http_max_uri_size 16 KiB: what the
    defaults refuse passes, and past the new limits the same statuses."""
    big_cookie = b"GET /echo HTTP/1.1\r\nHost: a\r\nCookie: " + \
        b"c" * 20000 + b"\r\n\r\n"
    r = hh.exchange(port, big_cookie)
    check(r.status == 200, "a 20 KiB header under a 32 KiB limit: %r" % r)
    r = hh.exchange(port, b"GET /echo?" + b"q" * 10000 +
                    b" HTTP/1.1\r\nHost: a\r\n\r\n")
    check(r.status == 200 and r.header("x-query") == "q" * 10000,
          "a 10 KiB target under a 16 KiB limit: %r" % r)
    expect_status(port, b"GET /" + b"a" * 17000 +
                  b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "17 KiB target")
    expect_status(port, b"GET / HTTP/1.1\r\nHost: a\r\nX: " +
                  b"b" * 33000 + b"\r\n\r\n", 431, "33 KiB head")
    still_serving(port)


def test_limit_config():
    with hh.h.Server("http-limit-cfg") as srv:
        cfg = srv.config()
        lst = cfg["listeners"][0]
        lst.update(protocol="http", http_max_head_size=4096,
                   http_max_uri_size=8192)
        srv.write_config(json.dumps(cfg))
        rc, out, err = srv.check_config()
        check(rc != 0 and "listeners[0].http_max_uri_size: 8192 is over "
              "http_max_head_size (4096)" in err, "uri > head: %r" % err)
        lst.update(http_max_uri_size=100, http_max_head_size=100)
        srv.write_config(json.dumps(cfg))
        rc, out, err = srv.check_config()
        check(rc != 0 and "listeners[0].http_max_head_size" in err,
              "a 100-byte head: %r" % err)


def main():
    with hh.HttpServer("http-errors",
                       listener={"package_max_length": MAX_BODY}) as srv:
        srv.start()
        test_refusals(srv.port)
        test_equal_duplicates(srv.port)
        test_413_with_body_sent(srv.port)
        test_expect_refused(srv.port)
        test_others_unaffected(srv.port)
        srv.stop()
    with hh.HttpServer("http-limits",
                       listener={"http_max_head_size": 32768,
                                 "http_max_uri_size": 16384}) as srv:
        srv.start()
        test_custom_limits(srv.port)
        srv.stop()
    test_limit_config()
    with hh.HttpServer("http-timeout",
                       listener={"http_request_timeout": 1}) as srv:
        srv.start()
        test_timeouts(srv.port)
        still_serving(srv.port)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
