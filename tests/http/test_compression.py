"""test_compression.py: http_compression (Swoole's setting, on by default)
through the real server. A text body sent whole with swx_http_end goes
gzip to a client that takes gzip (curl --compressed decodes it; python's
gzip and zlib check the bytes), deflate to one that takes only deflate,
as it is to one that takes neither (q=0 included), with Vary:
Accept-Encoding whenever the answer depends on the client. Bodies below
http_compression_min_length, binary types, a Content-Encoding or a
Content-Length the plugin set, streamed bodies, HEAD/GET consistency, the
level, and http_compression false."""

import gzip
import zlib

import http_helper as hh

check = hh.check
TEXT = b"the quick brown fox jumps over the lazy dog and keeps running " \
    b"through the field; "


def text(n):
    return (TEXT * (n // len(TEXT) + 1))[:n]


def fetch(port, path, headers=(), method="GET"):
    return hh.exchange(port, hh.get(port, path, headers=headers,
                                    method=method),
                       head_only=method == "HEAD")


def test_codings(port):
    body = text(5000)
    r = fetch(port, "/text?5000", [("Accept-Encoding", "gzip, deflate")])
    check(r.header("content-encoding") == "gzip", "gzip: %r" % r)
    check(r.header("vary") == "Accept-Encoding", "no Vary: %r" % r)
    check(int(r.header("content-length")) == len(r.body) < len(body) // 4,
          "gzip length %s for %d bytes" % (r.header("content-length"),
                                           len(r.body)))
    check(gzip.decompress(r.body) == body, "gzip body differs")

    r = fetch(port, "/text?5000", [("Accept-Encoding", "deflate")])
    check(r.header("content-encoding") == "deflate", "deflate: %r" % r)
    check(zlib.decompress(r.body) == body, "deflate body differs")

    for ae in (None, "identity", "br", "gzip;q=0, deflate;q=0", "*;q=0"):
        hdrs = [("Accept-Encoding", ae)] if ae is not None else []
        r = fetch(port, "/text?5000", hdrs)
        check(r.header("content-encoding") is None and r.body == body,
              "Accept-Encoding %r: %r" % (ae, r))
        check(r.header("vary") == "Accept-Encoding",
              "Accept-Encoding %r: no Vary" % ae)

    r = fetch(port, "/text?5000", [("Accept-Encoding", "*")])
    check(r.header("content-encoding") == "gzip", "*: %r" % r)


def test_curl(port):
    url = "http://%s:%d/text?20000" % (hh.HOST, port)
    rc, out, err = hh.curl(["--compressed", "-D", "-", "-o", "/dev/null",
                            url])
    check(rc == 0 and "content-encoding: gzip" in out.decode().lower(),
          "curl --compressed: %r %s" % (out, err))
    rc, out, err = hh.curl(["--compressed", url])
    check(rc == 0 and out == text(20000), "curl decoded body differs")


def test_left_alone(port):
    gz = [("Accept-Encoding", "gzip")]
    cases = [
        ("/text?19", [], "under min_length"),
        ("/text?5000", [("X-Type", "image/png")], "a binary type"),
        ("/text?5000", [("X-Type", "application/octet-stream")], "octets"),
        ("/text?5000", [("X-Set-Coding", "br")], "the plugin's coding"),
        ("/text?5000", [("X-Set-Length", "1")], "the plugin's length"),
        ("/text?5000", [("X-Stream", "1")], "a streamed body"),
        ("/big?5000", [], "no Content-Type"),
    ]
    for path, hdrs, what in cases:
        r = fetch(port, path, gz + hdrs)
        coding = r.header("content-encoding")
        want = "br" if what == "the plugin's coding" else None
        check(coding == want, "%s: Content-Encoding %r" % (what, coding))
        n = int(path.split("?")[1])
        check(len(r.body) == n, "%s: %d bytes, expected %d"
              % (what, len(r.body), n))
    r = fetch(port, "/text?5000", gz + [("X-Type", "application/json")])
    check(r.header("content-encoding") == "gzip", "application/json: %r" % r)


def test_head(port):
    gz = [("Accept-Encoding", "gzip")]
    get = fetch(port, "/text?5000", gz)
    head = fetch(port, "/text?5000", gz, method="HEAD")
    check(head.header("content-length") == get.header("content-length") and
          head.header("content-encoding") == "gzip",
          "HEAD %r vs GET %r" % (head, get))


def main():
    with hh.HttpServer("compression") as srv:
        srv.start()
        test_codings(srv.port)
        test_curl(srv.port)
        test_left_alone(srv.port)
        test_head(srv.port)
        srv.stop()
    with hh.HttpServer("compression-9",
                       listener={"http_compression_level": 9,
                                 "http_compression_min_length": 100000}
                       ) as srv:
        srv.start()
        gz = [("Accept-Encoding", "gzip")]
        r = fetch(srv.port, "/text?50000", gz)
        check(r.header("content-encoding") is None, "under a 100000 min")
        r = fetch(srv.port, "/text?200000", gz)
        check(gzip.decompress(r.body) == text(200000), "level 9")
        srv.stop()
    with hh.HttpServer("compression-off",
                       listener={"http_compression": False}) as srv:
        srv.start()
        r = fetch(srv.port, "/text?5000", [("Accept-Encoding", "gzip")])
        check(r.header("content-encoding") is None and
              r.header("vary") is None and r.body == text(5000),
              "http_compression false: %r" % r)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
