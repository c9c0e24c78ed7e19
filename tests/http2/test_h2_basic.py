"""test_h2_basic.py: HTTP/2 in cleartext through real clients: curl by
prior knowledge and by Upgrade: h2c (GET, POST with a body, a streamed
response, HEAD, a large whole body, a file by swx_http_sendfile), static
files with a Range, h2load's 1000 requests over 4 connections 16 streams
deep with no error, the access log's HTTP/2.0 lines and /metrics counting
the streams."""

import hashlib
import os
import re


import h2_helper as hp

check = hp.check
TOKEN = "h2-metrics-token-0123456789abcdef"


def pattern(n):
    return bytes(i % 251 for i in range(n))


def curl_ok(args, what):
    rc, out, err = hp.curl(args)
    check(rc == 0, "%s: curl exited %d: %s" % (what, rc, err))
    return out


def check_h2(out, what):
    check(b"HTTP/2 200" in out, "%s: not an HTTP/2 200: %r" % (what, out[:300]))


def test_curl(srv, root):
    pk = ["--http2-prior-knowledge", "-i"]
    out = curl_ok(pk + [hp.url(srv, "/echo?a=1")], "GET")
    check_h2(out, "GET")
    check(b"x-method: GET" in out and b"x-query: a=1" in out,
          "GET: the request as the plugin saw it: %r" % out)
    check(b"connection:" not in out.lower() and
          b"transfer-encoding" not in out.lower(),
          "HTTP/2 carries no connection fields: %r" % out)
    out = curl_ok(pk + ["--data-binary", "hello h2", hp.url(srv, "/echo")],
                  "POST")
    check_h2(out, "POST")
    check(out.endswith(b"hello h2") and b"x-method: POST" in out,
          "POST: the body echoed: %r" % out[-80:])
    out = curl_ok(pk + [hp.url(srv, "/stream?5")], "stream")
    check(out.endswith(b"part 1\npart 2\npart 3\npart 4\npart 5\nend\n"),
          "streamed parts: %r" % out[-120:])
    out = curl_ok(["--http2-prior-knowledge", "-I", hp.url(srv, "/big?1000")],
                  "HEAD")
    check(b"content-length: 1000" in out, "HEAD: the length: %r" % out)
    body = curl_ok(["--http2-prior-knowledge", hp.url(srv, "/big?700000")],
                   "big")
    check(body == pattern(700000), "a 700000-byte body, byte for byte")
    body = curl_ok(["--http2-prior-knowledge", hp.url(srv, "/file")], "file")
    with open(os.path.join(root, "f.bin"), "rb") as f:
        want = f.read()
    check(hashlib.sha256(body).digest() == hashlib.sha256(want).digest(),
          "swx_http_sendfile over HTTP/2: %d bytes of %d" % (len(body),
                                                             len(want)))


def test_upgrade(srv):
    out = curl_ok(["--http2", "-i", hp.url(srv, "/echo?up")], "upgrade")
    check(b"HTTP/1.1 101" in out and b"HTTP/2 200" in out,
          "Upgrade: h2c: 101 then HTTP/2: %r" % out[:300])
    check(b"x-query: up" in out, "the upgraded request is stream 1")
    # A body that asks to upgrade is served as HTTP/1.1 (RFC 7540 3.2).
    out = curl_ok(["--http2", "-i", "--data-binary", "abc",
                   hp.url(srv, "/echo")], "upgrade with a body")
    check(out.startswith(b"HTTP/1.1 200") and out.endswith(b"abc"),
          "a POST that asks for h2c: %r" % out[:200])
    # Plain HTTP/1.1 still works on the listener.
    out = curl_ok(["--http1.1", "-i", hp.url(srv, "/echo")], "HTTP/1.1")
    check(out.startswith(b"HTTP/1.1 200"), "HTTP/1.1: %r" % out[:100])


def test_static(srv, root):
    pk = ["--http2-prior-knowledge", "-i"]
    out = curl_ok(pk + ["-r", "10-19", hp.url(srv, "/static/s.txt")],
                  "range")
    check(b"HTTP/2 206" in out and b"content-range: bytes 10-19/36" in out,
          "a Range: %r" % out)
    check(out.endswith(b"abcdefghij"), "the range's bytes: %r" % out[-20:])
    out = curl_ok(pk + [hp.url(srv, "/static/s.txt")], "static")
    check(b"HTTP/2 200" in out and out.endswith(
        b"0123456789abcdefghijklmnopqrstuvwxyz"), "a whole file: %r" % out)
    out = curl_ok(pk + [hp.url(srv, "/static/none")], "fall through")
    check(b"HTTP/2 404" in out, "no such file: the plugin's 404: %r" % out)


def check_access_log(srv):
    log = os.path.join(srv.dir, "access.log")
    hp.h.wait_until(lambda: os.path.exists(log) and
                    open(log).read().count("HTTP/2.0") >= 1000, 10,
                    what="access log lines")
    text = open(log).read()
    check('"GET /echo?a=1 HTTP/2.0" 200' in text,
          "the access log's request line: %r" % text[:300])


def main():
    with _srv() as (srv, root):
        srv.start()
        test_curl(srv, root)
        test_upgrade(srv)
        test_static(srv, root)
        rc, out = hp.h2load(["-n", "1000", "-c", "4", "-m", "16",
                             hp.url(srv, "/echo")])
        check(rc == 0 and "1000 succeeded, 0 failed, 0 errored" in out and
              "1000 2xx" in out, "h2load: %s" % out[-600:])
        check_access_log(srv)
        rc, out, err = hp.curl(["-H", "Authorization: Bearer " + TOKEN,
                                "http://%s:%d/metrics" % (hp.HOST,
                                                           srv.admin_port)])
        m = re.search(rb'swx_http_requests_total\{listener="0",'
                      rb'status="2xx"\} (\d+)', out)
        check(rc == 0 and m is not None and int(m.group(1)) >= 1000,
              "/metrics counts the streams: %r" % out[:400])
        srv.stop()
    hp.h.log("ok")


class _srv:
    def __enter__(self):
        tmp = os.environ.get("SWX_TEST_TMPDIR") or None
        if tmp is not None:
            os.makedirs(tmp, exist_ok=True)
        self.root = os.path.realpath(__import__("tempfile").mkdtemp(
            prefix="swx-h2-root-", dir=tmp))
        os.makedirs(os.path.join(self.root, "static"))
        with open(os.path.join(self.root, "static", "s.txt"), "wb") as f:
            f.write(b"0123456789abcdefghijklmnopqrstuvwxyz")
        with open(os.path.join(self.root, "f.bin"), "wb") as f:
            f.write(os.urandom(3 << 20))
        self.srv = hp.server("h2basic", listener={
            "document_root": self.root,
            "static_handler_locations": ["/static"]},
            plugin_config={"file": os.path.join(self.root, "f.bin")})
        self.srv.listener_opts["access_log"] = os.path.join(self.srv.dir,
                                                            "access.log")
        self.srv.admin_port = hp.h.free_port()
        self.srv.config = self._config
        self.srv.write_config()
        self.srv.__enter__()
        return self.srv, self.root

    def _config(self):
        cfg = hp.hh.HttpServer.config(self.srv)
        cfg["admin"] = {"host": hp.HOST, "port": self.srv.admin_port,
                        "token": TOKEN}
        return cfg

    def __exit__(self, *a):
        r = self.srv.__exit__(*a)
        __import__("shutil").rmtree(self.root, ignore_errors=True)
        return r


if __name__ == "__main__":
    main()
