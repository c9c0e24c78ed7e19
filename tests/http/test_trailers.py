"""test_trailers.py: response trailers (swx_http_trailer) over HTTP/1.1
on raw sockets, through the real server: a streamed (chunked) body carries
them in the trailer section after the 0-size chunk (RFC 9112 7.1.2), with
a Trailer header naming those added before the head; a Content-Length,
HTTP/1.0, HEAD, a 204 and an empty whole body send none, and the
connection stays in step (the next request on it is answered). The
function's return codes: -EINVAL for bad names, values and fields that
may not be trailers, -E2BIG past the cap, -EALREADY once ended. A plugin
built against ABI 1.7 still loads and serves."""

import errno
import os

import http_helper as hh

check = hh.check
TRAILER_PROBE = os.environ.get("SWX_TRAILER_PROBE_PLUGIN", "")
ABI_1_7 = os.environ.get("SWX_ABI_1_7_PLUGIN", "")


def parts_body(n):
    return b"".join(b"part %d\n" % i for i in range(1, n + 1)) + b"end\n"


def read_chunked(rd):
    """The body and the raw trailer section (up to its blank line)."""
    body = b""
    while True:
        size = int(rd.line().split(b";")[0], 16)
        if size == 0:
            break
        body += rd.exact(size)
        check(rd.exact(2) == b"\r\n", "chunk not followed by CRLF")
    lines = []
    while True:
        line = rd.line()
        if not line:
            return body, lines
        lines.append(line)


def request(sock, path, method="GET", version="1.1", headers=()):
    sock.sendall(hh.get(0, path, headers=headers, method=method,
                        version=version))


def next_ok(sock, rd, what):
    """The connection is still in step: another request is answered."""
    request(sock, "/whole?10")
    r = rd.response()
    check(r.status == 200 and r.body == b"the quick ",
          "%s: the next request on the connection: %r" % (what, r))


def test_chunked(port):
    with hh.connect(port) as s:
        rd = hh.Reader(s)
        request(s, "/stream?4")
        version, status, _, headers = rd.head()
        hd = dict(headers)
        check(status == 200 and hd.get("transfer-encoding") == "chunked",
              "a streamed body is chunked: %r" % headers)
        check(hd.get("x-trailer-rc") == "0", "the early trailer: rc %r"
              % hd.get("x-trailer-rc"))
        check(hd.get("trailer") == "X-Early",
              "Trailer names what was added before the head: %r" % headers)
        body, lines = read_chunked(rd)
        check(body == parts_body(4), "the body: %r" % body)
        want_sum = sum(body)
        check(lines == [b"X-Early: early", b"X-Sum: %d" % want_sum,
                        b"X-Parts: 4"],
              "the trailer section after the 0 chunk: %r" % lines)
        next_ok(s, rd, "chunked")


def test_none(port):
    with hh.connect(port) as s:
        rd = hh.Reader(s)
        request(s, "/lstream?3")
        r = rd.response()
        check(r.header("content-length") == str(len(parts_body(3))) and
              r.header("transfer-encoding") is None and
              r.header("trailer") is None and r.body == parts_body(3),
              "a Content-Length response: as set, no trailers: %r" % r)
        next_ok(s, rd, "Content-Length")
        request(s, "/whole?500", headers=[("Accept-Encoding", "gzip")])
        r = rd.response()
        check(r.status == 200 and r.header("content-length") is not None and
              r.header("trailer") is None,
              "a whole body: Content-Length, no trailers: %r" % r)
        next_ok(s, rd, "whole")
        request(s, "/empty")
        r = rd.response()
        check(r.header("content-length") == "0" and r.body == b"",
              "an empty whole body: %r" % r)
        next_ok(s, rd, "empty")
        request(s, "/nocontent")
        r = rd.response()
        check(r.status == 204 and r.header("trailer") is None, "204: %r" % r)
        next_ok(s, rd, "204")
        request(s, "/stream?2", method="HEAD")
        r = rd.response(head_only=True)
        check(r.status == 200 and r.header("trailer") is None,
              "HEAD: no Trailer: %r" % r)
        next_ok(s, rd, "HEAD")
    with hh.connect(port) as s:
        request(s, "/stream?2", version="1.0")
        r = hh.Reader(s).response()
        check(r.header("transfer-encoding") is None and
              r.header("trailer") is None and r.body == parts_body(2),
              "HTTP/1.0: the body up to the close, no trailers: %r" % r)


def test_errors(srv):
    with hh.connect(srv.port) as s:
        rd = hh.Reader(s)
        request(s, "/errors")
        _, status, _, headers = rd.head()
        body, lines = read_chunked(rd)
    got = dict(line.split("=") for line in body.decode().split())
    inval = str(-errno.EINVAL)
    for name in ("space_name", "empty_name", "cr_value", "lf_value",
                 "content_length", "transfer_encoding", "host",
                 "authorization", "content_type", "content_encoding",
                 "content_range", "trailer", "connection", "te",
                 "cache_control", "set_cookie", "null"):
        check(got.get(name) == inval, "%s: %r, not -EINVAL" % (name,
                                                               got.get(name)))
    check(got.get("ok") == "0", "a good trailer: %r" % got.get("ok"))
    check(got.get("big") == str(-errno.E2BIG), "past the cap: %r"
          % got.get("big"))
    check(lines == [b"X-Ok: fine value"],
          "only the good trailer goes: %r" % lines)
    srv.wait_log("trailer_probe: after end rc=%d" % -errno.EALREADY, 10)


def test_old_abi():
    with hh.HttpServer("trailers-abi17", plugins=[
            {"name": "old", "path": ABI_1_7}]) as srv:
        srv.start()
        r = hh.exchange(srv.port, hh.get(srv.port, "/old"))
        check(r.status == 200 and r.header("x-abi") == "1.7" and
              r.body == b"v1.7:/old\n",
              "an ABI 1.7 plugin serves: %r" % r)
        srv.stop()


def main():
    for var, path in (("SWX_TRAILER_PROBE_PLUGIN", TRAILER_PROBE),
                      ("SWX_ABI_1_7_PLUGIN", ABI_1_7)):
        check(path and os.path.exists(path), "%s: %r" % (var, path))
    with hh.HttpServer("trailers", plugins=[
            {"name": "trailers", "path": TRAILER_PROBE}]) as srv:
        srv.start()
        test_chunked(srv.port)
        test_none(srv.port)
        test_errors(srv)
        srv.stop()
    test_old_abi()


if __name__ == "__main__":
    hh.main(main)
