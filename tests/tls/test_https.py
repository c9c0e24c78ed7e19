"""test_https.py: an HTTP listener with TLS (HTTPS), driven by curl with
--cacert and by python's ssl module: GET, a POST body, keep-alive (one
handshake, several requests), a static file with a Range, 8 MiB by
swx_http_sendfile and from document_root (the file path of the
transport: kTLS's SSL_sendfile or a record at a time) compared by hash,
a slow reader of a big file that the server neither buffers nor waits
for; requests pipelined in records sent in one write, more than one
read of the engine takes (what OpenSSL read ahead is served, in order,
with no further event of the socket); WSS with a python ssl client doing the WebSocket handshake; the
access log's $ssl_protocol; /metrics's handshake counters; ALPN
http/1.1 by default."""

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import tls_helper as th

hh = th.hh
check = th.check
BIG = 8 << 20


def make_files(d):
    www = os.path.join(d, "www")
    os.makedirs(www)
    with open(os.path.join(www, "small.txt"), "wb") as f:
        f.write(bytes(range(48, 58)) * 100)
    data = os.urandom(BIG)
    with open(os.path.join(www, "big.bin"), "wb") as f:
        f.write(data)
    return www, hashlib.sha256(data).hexdigest()


TOKEN = "tls-test-token-0123456789"


class AdminServer(th.h.Server):
    """With the admin endpoint, for /metrics."""

    def config(self):
        cfg = super().config()
        cfg["admin"] = {"host": th.HOST, "port": getattr(self, "admin_port",
                                                         1),
                        "token": TOKEN}
        return cfg


def start(pki, admin_port):
    srv = AdminServer("tls-https", server={"worker_num": 2,
                                           "reactor_num": 2})
    srv.admin_port = admin_port
    www, digest = make_files(srv.dir)
    srv.plugins = [{"name": "probe", "path": th.hh.PROBE,
                    "config": {"file": os.path.join(www, "big.bin")}},
                   {"name": "ws", "path": th.hh.WS_ECHO}]
    common = dict(th.tls_opts(pki), type="tcp", host=th.HOST)
    srv.listeners = [
        dict(common, port=srv.port, plugin="probe", protocol="http",
             document_root=www, static_handler_locations=["/small.txt",
                                                          "/big.bin"],
             access_log=os.path.join(srv.dir, "access.log"),
             access_log_format="$ssl_protocol $status $request"),
        dict(common, port=th.h.free_port(), plugin="ws",
             protocol="websocket"),
        dict(common, port=th.h.free_port(), plugin="probe", protocol="http",
             open_http2_protocol=True, document_root=www,
             static_handler_locations=["/small.txt"],
             access_log=os.path.join(srv.dir, "h2access.log"),
             access_log_format="$ssl_protocol $status $request")]
    srv.write_config()
    srv.fixed_port = True
    return srv.start(), digest


def test_curl(srv, pki):
    base = "https://localhost:%d" % srv.port
    res = "--resolve", "localhost:%d:%s" % (srv.port, th.HOST)
    rc, out = th.curl(pki, base + "/echo?x=1", *res, "-v")
    check(rc == 0 and "X-Method: GET" in out.replace("x-method", "X-Method"),
          "GET: %s" % out)
    check("ALPN: server accepted http/1.1" in out, "ALPN: %s" % out)
    body = os.urandom(300000).hex()
    bodyfile = os.path.join(srv.dir, "body.txt")
    with open(bodyfile, "w") as f:
        f.write(body)
    rc, out = th.curl(pki, base + "/echo", *res, "--data-binary",
                      "@" + bodyfile,
                      "-H", "Content-Type: text/plain")
    check(rc == 0 and out == body, "POST echoed (%d bytes)" % len(out))
    rc, out = th.curl(pki, base + "/echo", *res, "-v", "--next",
                      *res, "--cacert", pki.ca, base + "/echo")
    check(rc == 0 and re.search(r"(?i)re-?using existing connection", out),
          "keep-alive: %s" % out)
    rc, out = th.curl(pki, base + "/small.txt", *res, "-r", "5-14")
    check(rc == 0 and out == "5678901234", "Range: %r" % out)
    rc, out = th.curl(pki, "https://127.0.0.1:%d/small.txt" % srv.port, "-k",
                      "-I")
    check(rc == 0 and " 200" in out, "curl -k: %s" % out)


def download(pki, url, out):
    rc, text = th.curl(pki, url, "-o", out, "--resolve",
                       "localhost:%s:%s" % (url.split(":")[2].split("/")[0],
                                            th.HOST), timeout=100)
    check(rc == 0, "curl %s: %s" % (url, text))
    with open(out, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_files(srv, pki, digest):
    out = os.path.join(srv.dir, "download.bin")
    base = "https://localhost:%d" % srv.port
    check(download(pki, base + "/file", out) == digest,
          "swx_http_sendfile over TLS differs")
    check(download(pki, base + "/big.bin", out) == digest,
          "static file over TLS differs")
    rc, body = th.curl(pki, base + "/file?100,1000", "--resolve",
                       "localhost:%d:%s" % (srv.port, th.HOST))
    check(rc == 0 and len(body.encode("latin-1", "replace")) > 0,
          "offset and length")


def test_slow_reader(srv, pki):
    """A client that reads a big file slowly holds no output buffer (the
    file is read as the client takes it) and stalls nobody else."""
    s = th.tls_connect(srv.port, th.client_ctx(pki))
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = len(s.recv(1000))
    for _ in range(5):
        rc, out = th.curl(pki, "https://localhost:%d/echo" % srv.port,
                          "--resolve", "localhost:%d:%s" % (srv.port,
                                                            th.HOST),
                          timeout=10)
        check(rc == 0, "another client while one reads slowly: %s" % out)
    t0 = time.monotonic()
    while got < BIG and time.monotonic() - t0 < 60:
        b = s.recv(1 << 16)
        if not b:
            break
        got += len(b)
    s.close()
    check(got > BIG, "slow reader got %d bytes" % got)


def pipelined_trial(port, pki, rec, total):
    """GET requests of total bytes, pipelined in records of rec bytes made
    in memory and sent in one write; whether every response came, in
    order. Records that arrive together can be more than one read of
    the engine takes: what OpenSSL read ahead then waits in its buffer
    with the socket empty, and must be read with no event of the
    socket."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = th.client_ctx(pki).wrap_bio(inc, out, server_hostname="localhost")
    raw = socket.create_connection((th.HOST, port), timeout=10.0)
    try:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(out.read())
                b = raw.recv(1 << 16)
                check(b != b"", "pipelined: closed in the handshake")
                inc.write(b)
        raw.sendall(out.read())
        reqs, size, n = [], 0, 0
        while size < total:
            r = b"GET /echo?i=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % n
            reqs.append(r)
            size += len(r)
            n += 1
        data = b"".join(reqs)
        for k in range(0, len(data), rec):
            obj.write(data[k:k + rec])
        raw.sendall(out.read())
        got = b""
        while got.count(b"\r\n\r\n") < n:
            try:
                got += obj.read(1 << 16)
                continue
            except ssl.SSLWantReadError:
                pass
            try:
                b = raw.recv(1 << 16)
            except socket.timeout:
                return False
            if b == b"":
                return False
            inc.write(b)
        seen = re.findall(rb"(?i)x-query: i=(\d+)", got)
        return [int(x) for x in seen] == list(range(n))
    finally:
        raw.close()


def test_pipelined(port, pki):
    bad = [(rec, total) for rec in (300, 4000)
           for total in range(40000, 140000, 7000)
           if not pipelined_trial(port, pki, rec, total)]
    check(not bad, "pipelined requests not all answered in 10 s "
          "(record size, bytes): %s" % bad)


def test_wss(port, pki):
    s = th.tls_connect(port, th.client_ctx(pki))
    key = hh.base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket"
               "\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    r = hh.Reader(s)
    _, status, _, headers = r.head()
    check(status == 101, "WSS handshake: %d" % status)
    check(dict(headers).get("sec-websocket-accept") == hh.ws_accept(key),
          "Sec-WebSocket-Accept")
    for n in (5, 70000, 300000):
        payload = os.urandom(n)
        s.sendall(hh.ws_frame(2, payload))
        b = r.exact(2)
        m = b[1] & 0x7f
        if m == 126:
            m = hh.struct.unpack(">H", r.exact(2))[0]
        elif m == 127:
            m = hh.struct.unpack(">Q", r.exact(8))[0]
        check(b[0] & 0x0f == 2 and r.exact(m) == payload,
              "WSS echo of %d bytes" % n)
    s.close()


def data_segments_in(s):
    """Segments with data the socket has received (tcp_info's
    tcpi_data_segs_in)."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    check(len(info) >= 156, "tcp_info has no tcpi_data_segs_in")
    return hh.struct.unpack_from("I", info, 152)[0]


def test_tickets(port, pki):
    """TLS 1.3 session tickets go out with the first response, in one TCP
    segment with it: a client gets the server's flight, then one segment
    (two before: the tickets came alone, right after the handshake). A
    client written nothing still gets them, soon after."""
    ctx = th.client_ctx(pki, version=ssl.TLSVersion.TLSv1_3)
    for resumed in (None, "resume"):
        s = th.tls_connect(port, ctx, session=resumed and session)
        check(s.session_reused == bool(resumed), "resumed: %s" % resumed)
        time.sleep(0.05)  # the server has read the client's Finished
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = hh.Reader(s)
        _, status, _, headers = r.head()
        r.exact(int(dict(headers)["content-length"]))
        check(status == 200, "GET /echo: %d" % status)
        segs = data_segments_in(s)
        check(segs == 2, "%s: %d segments with data for the server's "
              "flight and the first response (2: the tickets go with the "
              "response)" % (resumed or "full handshake", segs))
        check(s.session.has_ticket, "no ticket: %s" % resumed)
        session = s.session
        s.close()
    s = th.tls_connect(port, ctx)
    s.setblocking(False)
    deadline = time.monotonic() + 5
    while not s.session.has_ticket and time.monotonic() < deadline:
        try:
            s.recv(1)  # takes the tickets, then wants more
        except ssl.SSLWantReadError:
            time.sleep(0.02)
    check(s.session.has_ticket, "a connection written nothing: no ticket")
    s.close()
    s = th.tls_connect(port, ctx, session=session)
    check(s.session_reused, "the ticket of a resumed connection resumes")
    s.close()


def test_log_and_metrics(srv, admin_port):
    path = os.path.join(srv.dir, "access.log")
    if not th.h.base_mode():  # the access log is written by the master
        th.h.wait_until(lambda: os.path.exists(path) and
                        "TLSv1.3 200 GET /echo" in open(path).read(), 10,
                        what="$ssl_protocol in the access log")
    with socket.create_connection((th.HOST, admin_port), timeout=10) as a:
        a.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: "
                  b"Bearer " + TOKEN.encode() + b"\r\n\r\n")
        data = b""
        while True:
            b = a.recv(65536)
            if not b:
                break
            data += b
    text = data.decode()
    ok = re.search(r'swx_tls_handshakes_total\{result="ok"\} (\d+)', text)
    bad = re.search(r'swx_tls_handshakes_total\{result="failed"\} (\d+)',
                    text)
    check(ok is not None and int(ok.group(1)) >= 10, "ok handshakes: %s"
          % text[-600:])
    check(bad is not None and int(bad.group(1)) == 0, "failed: %s" % bad)


def test_h2(port, pki, path):
    """HTTP/2 over TLS: ALPN offers h2 first on a listener with
    open_http2_protocol; requests, a static file and many concurrent
    streams (h2load) go over it; the access log (path) has $ssl_protocol
    for each stream."""
    base = "https://localhost:%d" % port
    res = "--resolve", "localhost:%d:%s" % (port, th.HOST)
    rc, out = th.curl(pki, base + "/echo?x=2", *res, "--http2", "-v")
    check(rc == 0 and "ALPN: server accepted h2" in out and
          re.search(r"< HTTP/2 200", out), "h2 over TLS: %s" % out)
    rc, out = th.curl(pki, base + "/small.txt", *res, "--http2", "-r",
                      "5-14")
    check(rc == 0 and out == "5678901234", "h2 Range over TLS: %r" % out)
    # Each stream's access log line names the connection's TLS version,
    # as an HTTP/1.1 request's does (static files too).
    th.h.wait_until(lambda: os.path.exists(path) and all(
        line in open(path).read().splitlines() for line in (
            "TLSv1.3 200 GET /echo?x=2 HTTP/2.0",
            "TLSv1.3 206 GET /small.txt HTTP/2.0")), 10,
        what="$ssl_protocol in the HTTP/2 access log")
    rc, out = th.curl(pki, base + "/echo", *res, "--http1.1", "-v")
    check(rc == 0 and "ALPN: server accepted http/1.1" in out,
          "http/1.1 still chosen when asked: %s" % out)
    if shutil.which("h2load"):
        r = subprocess.run(["h2load", "-n", "400", "-c", "2", "-m", "8",
                            "https://127.0.0.1:%d/echo" % port],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and
              re.search(r"400 succeeded, 0 failed, 0 errored", r.stdout),
              "h2load over TLS: %s%s" % (r.stdout, r.stderr))


def main():
    th.h.require(th.hh.PROBE, th.hh.WS_ECHO, th.OPENSSL)
    base = th.h.Server("tls-pki")
    pki = th.Pki(base.dir)
    admin_port = th.h.free_port()
    srv, digest = start(pki, admin_port)
    with srv:
        test_curl(srv, pki)
        test_files(srv, pki, digest)
        test_slow_reader(srv, pki)
        test_pipelined(srv.port, pki)
        test_tickets(srv.port, pki)
        test_wss(srv.listeners[1]["port"], pki)
        test_h2(srv.listeners[2]["port"], pki,
                srv.listeners[2]["access_log"])
        test_log_and_metrics(srv, admin_port)
        srv.stop()


if __name__ == "__main__":
    th.h.main(main)
