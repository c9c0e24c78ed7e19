"""test_basic.py: HTTP/1.1 as curl and python clients use it: keep-alive
(two URLs on one connection), a chunked upload, Expect: 100-continue, HEAD,
request fields as the plugin sees them, streamed and chunked responses,
HTTP/1.0, Connection: close, Server and Date (or the plugin's own), a
request whose head and body arrive in pieces, the errors of the response
functions, and
query, form and cookie parameters as swx_http_query_param,
swx_http_form_param and swx_http_cookie read them, and multipart uploads
as swx_http_multipart_next gives them (curl sends them)."""

import http.client
import os
import re
import time

import http_helper as hh

check = hh.check


def test_curl(srv, tmp):
    base = "http://%s:%d" % (hh.HOST, srv.port)
    rc, out, err = hh.curl(["-v", base + "/worker", base + "/echo?x=1"])
    check(rc == 0, "curl failed: %s" % err)
    check(re.search(r"Re-using existing connection", err),
          "curl opened a second connection:\n%s" % err)
    # The chunked upload.
    upload = os.urandom(300000)
    path = os.path.join(tmp, "upload.bin")
    with open(path, "wb") as f:
        f.write(upload)
    rc, out, err = hh.curl(["-H", "Transfer-Encoding: chunked",
                            "--data-binary", "@" + path, base + "/echo"])
    check(rc == 0 and out == upload, "chunked upload came back different "
          "(%d bytes, rc %d: %s)" % (len(out), rc, err))
    # Expect: 100-continue: the interim response, then the body.
    rc, out, err = hh.curl(["-v", "-H", "Expect: 100-continue",
                            "--data-binary", "@" + path, base + "/echo"])
    check(rc == 0 and out == upload, "100-continue upload failed: %s" % err)
    check("HTTP/1.1 100 Continue" in err, "no 100 Continue:\n%s" % err)
    # HEAD: headers only, with the length a GET would have.
    rc, out, err = hh.curl(["-I", base + "/big?1234"])
    check(rc == 0 and b"200 OK" in out and b"Content-Length: 1234" in out,
          "HEAD /big: %r %s" % (out, err))


def test_request_fields(srv):
    r = hh.exchange(srv.port, hh.get(srv.port, "/echo?a=1&b=%20",
                                     [("X-Custom-Header", "Value 1")],
                                     method="PUT", body=b"hello"))
    check(r.status == 200 and r.body == b"hello", "echo: %r" % r)
    check(r.header("x-method") == "PUT", "method %r" % r.header("x-method"))
    check(r.header("x-path") == "/echo", "path")
    check(r.header("x-query") == "a=1&b=%20", "query %r" % r.header("x-query"))
    check(r.header("x-version") == "1" and r.header("x-keep-alive") == "1",
          "version / keep-alive")
    check(r.header("x-headers") == "3", "header count %r"
          % r.header("x-headers"))
    check(r.header("x-peer").startswith("127.0.0.1:"), "peer")
    r = hh.exchange(srv.port, hh.get(srv.port, "/header?x-CUSTOM-header",
                                     [("X-Custom-Header", "v2")]))
    check(r.status == 200 and r.body == b"v2", "case-insensitive lookup: %r"
          % r)
    r = hh.exchange(srv.port, hh.get(srv.port, "/header?x-missing"))
    check(r.status == 404, "missing header: %r" % r)


def send_in_pieces(sock, data, cuts, pause=0.05):
    """data in pieces, cut at the given offsets, with a pause between."""
    last = 0
    for cut in list(cuts) + [len(data)]:
        sock.sendall(data[last:cut])
        last = cut
        time.sleep(pause)


def test_body_in_pieces(srv):
    """A head parsed once, used when its body completes reads later (the
    input buffer has grown and moved meanwhile): every slice of it is
    still right."""
    body = os.urandom(200000)
    fields = [("X-Custom-Header", "kept value"), ("X-Other", "x" * 300)]
    req = hh.get(srv.port, "/echo?piece=1", fields, method="POST", body=body)
    head_len = req.index(b"\r\n\r\n") + 4
    chunked = (b"POST /echo?piece=2 HTTP/1.1\r\nHost: test\r\n"
               b"X-Custom-Header: kept value\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" +
               b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]),
                                             body[i:i + 65536])
                        for i in range(0, len(body), 65536)) + b"0\r\n\r\n")
    lookup = hh.get(srv.port, "/header?x-custom-header", fields,
                    method="POST", body=body)
    with hh.connect(srv.port) as s:
        rd = hh.Reader(s)
        send_in_pieces(s, req, [head_len, head_len + 1, head_len + 70000])
        r = rd.response()
        check(r.status == 200 and r.body == body, "echo in pieces: %r" % r)
        check(r.header("x-method") == "POST" and
              r.header("x-path") == "/echo" and
              r.header("x-query") == "piece=1" and
              r.header("x-headers") == "4", "fields in pieces: %r" % r)
        send_in_pieces(s, chunked, [40, 120, 5000, 100000])
        r = rd.response()
        check(r.status == 200 and r.body == body and
              r.header("x-query") == "piece=2", "chunked in pieces: %r" % r)
        send_in_pieces(s, lookup, range(1, head_len + 3), 0.001)
        r = rd.response()
        check(r.status == 200 and r.body == b"kept value",
              "header lookup after the body: %r" % r)


def test_server_and_date(srv):
    """Every response carries Server: swx and the Date, unless the plugin
    set its own; the interim 100 Continue carries them too."""
    r = hh.exchange(srv.port, hh.get(srv.port, "/echo", body=b"x"))
    hh.h.check_server_date(r.header, "a plugin's response")
    for path in ("/stream?2", "/big?10", "/nowhere"):
        r = hh.exchange(srv.port, hh.get(srv.port, path))
        hh.h.check_server_date(r.header, path)
    r = hh.exchange(srv.port, hh.get(srv.port, "/echo", [
        ("X-Set-Server", "mine/1"),
        ("X-Set-Date", "Sun, 06 Nov 1994 08:49:37 GMT")]))
    names = [k for k, _ in r.headers]
    check(names.count("server") == 1 and r.header("server") == "mine/1",
          "the plugin's Server: %r" % r.headers)
    check(names.count("date") == 1 and
          r.header("date") == "Sun, 06 Nov 1994 08:49:37 GMT",
          "the plugin's Date: %r" % r.headers)
    with hh.connect(srv.port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        rd = hh.Reader(s)
        _, status, reason, fields = rd.head()
        check(status == 100 and reason == "Continue", "interim %d %s"
              % (status, reason))
        interim = hh.Response("HTTP/1.1", status, reason, fields, b"")
        hh.h.check_server_date(interim.header, "100 Continue")
        check(interim.header("connection") is None and
              interim.header("content-length") is None,
              "100 Continue with framing: %r" % fields)
        s.sendall(b"ok")
        r = rd.response()
        check(r.status == 200 and r.body == b"ok", "after 100: %r" % r)


def test_keep_alive_and_close(srv):
    with hh.connect(srv.port) as s:
        rd = hh.Reader(s)
        for i in range(20):
            s.sendall(hh.get(srv.port, "/echo", body=b"n%d" % i))
            r = rd.response()
            check(r.status == 200 and r.body == b"n%d" % i, "request %d" % i)
        s.sendall(hh.get(srv.port, "/echo", [("Connection", "close")]))
        r = rd.response()
        check(r.header("connection") == "close", "no Connection: close")
        check(hh.closed_after(s, rd), "server kept the connection open")
    with hh.connect(srv.port) as s:
        rd = hh.Reader(s)
        s.sendall(hh.get(srv.port, "/close"))
        r = rd.response()
        check(r.body == b"bye\n" and r.header("connection") == "close",
              "/close: %r" % r)
        check(hh.closed_after(s, rd), "server kept /close's connection")


def test_http10(srv):
    with hh.connect(srv.port) as s:
        rd = hh.Reader(s)
        s.sendall(hh.get(srv.port, "/echo", [("Connection", "keep-alive")],
                         version="1.0"))
        r = rd.response()
        check(r.header("connection") == "keep-alive", "1.0 keep-alive: %r" % r)
        s.sendall(hh.get(srv.port, "/stream?2", version="1.0"))
        r = rd.response()  # no length, no chunks: up to the close
        check(r.body == b"part 1\npart 2\nend\n", "1.0 stream: %r" % r)
        check(r.header("transfer-encoding") is None, "chunked to HTTP/1.0")


def test_streams(srv):
    r = hh.exchange(srv.port, hh.get(srv.port, "/stream?5"))
    check(r.header("transfer-encoding") == "chunked", "not chunked: %r" % r)
    check(r.body == b"".join(b"part %d\n" % i for i in range(1, 6)) + b"end\n",
          "stream body %r" % r.body)
    r = hh.exchange(srv.port, hh.get(srv.port, "/lstream?3"))
    check(r.header("transfer-encoding") is None and
          r.header("content-length") == str(len(r.body)), "lstream %r" % r)
    # HEAD of a streamed response: the head only, and the connection goes on.
    with hh.connect(srv.port) as s:
        rd = hh.Reader(s)
        s.sendall(hh.get(srv.port, "/stream?3", method="HEAD"))
        r = rd.response(head_only=True)
        check(r.status == 200, "HEAD stream %r" % r)
        s.sendall(hh.get(srv.port, "/echo", body=b"after"))
        check(rd.response().body == b"after", "HEAD left a body behind")
    conn = http.client.HTTPConnection(hh.HOST, srv.port, timeout=20)
    for path in ("/stream?50", "/big?70000", "/echo"):
        conn.request("POST", path, body=b"x" * 10)
        resp = conn.getresponse()
        body = resp.read()
        check(resp.status == 200 and len(body) > 0, "http.client %s" % path)
    conn.close()


def test_errors(srv):
    r = hh.exchange(srv.port, hh.get(srv.port, "/errors"))
    want = {"status99": -22, "status600": -22, "badname": -22, "crlf": -22,
            "te": -22, "badlen": -22, "conn": -22}
    got = dict(line.split("=") for line in r.body.decode().split())
    check({k: int(v) for k, v in got.items()} == want, "errors: %r" % got)
    check(r.header("x-evil") is None and r.header("injected") is None,
          "a header was injected: %r" % r)
    r = hh.exchange(srv.port, hh.get(srv.port, "/after"))
    check(r.body == b"end=-114 write=-114 status=-114\n",
          "calls after the end: %r" % r.body)
    r = hh.exchange(srv.port, hh.get(srv.port, "/big?2000000"))
    check(r.status == 500 and r.body == b"end -7\n",
          "a response over buffer_output_size: %r" % r)
    r = hh.exchange(srv.port, hh.get(srv.port, "/sendfile-missing"))
    check(r.status == 404 and r.body == b"sendfile -2\n", "%r" % r)
    r = hh.exchange(srv.port, hh.get(srv.port, "/nowhere"))
    check(r.status == 404 and r.body == b"no route\n", "%r" % r)


def params(port, name, args):
    """The /param answer for name: {"query": (rc, value), ...}."""
    rc, out, err = hh.curl(["-H", "X-Name: " + name] + args)
    check(rc == 0, "curl: %s" % err)
    got = {}
    for line in out.decode().splitlines():
        key, _, rest = line.partition("=")
        code, _, value = rest.partition(":")
        got[key] = (int(code), value)
    return got


def test_params(srv):
    base = "http://%s:%d/param" % (hh.HOST, srv.port)
    ENOENT, ENOTSUP, EINVAL = -2, -95, -22
    got = params(srv.port, "q", [base + "?a=1&q=caf%C3%A9+au+lait&q=2",
                                 "-b", "q=c00kie; other=1",
                                 "--data-urlencode", "q=form value&more"])
    check(got["query"] == (len("café au lait".encode()), "café au lait"),
          "query: %r" % (got,))
    check(got["form"] == (len("form value&more"), "form value&more"),
          "form: %r" % (got,))
    check(got["cookie"] == (6, "c00kie"), "cookie: %r" % (got,))
    got = params(srv.port, "missing", [base + "?a=1", "-b", "a=1"])
    check(got == {"query": (ENOENT, ""), "form": (ENOTSUP, ""),
                  "cookie": (ENOENT, "")}, "absent: %r" % (got,))
    got = params(srv.port, "a", [base + "?a=%zz", "-H",
                                 "Content-Type: application/json",
                                 "--data", "a=1"])
    check(got["query"][0] == EINVAL and got["form"][0] == ENOTSUP,
          "bad escape, JSON body: %r" % (got,))


def test_multipart(srv, tmp):
    """curl -F: fields and file uploads as swx_http_multipart_next gives
    them to the plugin, checked by length and byte sum."""
    upload = os.path.join(tmp, "upload.bin")
    data = os.urandom(200000)
    with open(upload, "wb") as f:
        f.write(data)
    rc, out, err = hh.curl(["-F", "title=hello world", "-F",
                            "doc=@%s;type=application/x-test" % upload,
                            "-F", "empty=",
                            "http://%s:%d/multipart" % (hh.HOST, srv.port)])
    check(rc == 0, "curl -F: %s" % err)
    lines = out.decode().splitlines()
    want = ["title|-|-|11|%d" % sum(b"hello world"),
            "doc|upload.bin|application/x-test|%d|%d"
            % (len(data), sum(data) % (1 << 32)),
            "empty|-|-|0|0", "end 0"]
    check(lines == want, "parts: %r, expected %r" % (lines, want))
    r = hh.exchange(srv.port, hh.get(srv.port, "/multipart", body=b"a=1"))
    check(r.body == b"end -95\n", "not multipart: %r" % r.body)
    bad = (b"POST /multipart HTTP/1.1\r\nHost: t\r\nContent-Type: "
           b"multipart/form-data; boundary=zz\r\nContent-Length: 9\r\n\r\n"
           b"--zz\r\nxyz")
    r = hh.exchange(srv.port, bad)
    check(r.body == b"end -22\n", "malformed: %r" % r.body)


def main():
    with hh.HttpServer("http-basic", server={"worker_num": 1,
                                             "buffer_output_size": 1 << 20}
                       ) as srv:
        srv.start()
        test_curl(srv, srv.dir)
        test_request_fields(srv)
        test_body_in_pieces(srv)
        test_server_and_date(srv)
        test_keep_alive_and_close(srv)
        test_http10(srv)
        test_streams(srv)
        test_errors(srv)
        test_params(srv)
        test_multipart(srv, srv.dir)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
