"""test_stream.py: a raw listener speaking TLS (the tls_probe plugin
greets each connection with what it negotiated, then echoes): echo through
openssl s_client and python's ssl; TLS 1.0 and 1.1 refused, 1.2 and 1.3
served; ALPN as offered by ssl_alpn; SNI choosing among ssl_sni_certs with
the default certificate for unknown names; mutual TLS (ssl_verify_peer)
refusing clients without a certificate or with a stranger's; session
resumption through tickets (s_client -sess_out / -sess_in: "Reused"),
and a TLS 1.3 resumption bringing a new ticket that resumes in turn;
several reactors and workers share the ticket keys; a Unix socket
listener with TLS; proxy_protocol before TLS; a plain listener beside it whose on_connect sees
no TLS fields; OpenSSL's buffers held by at most 256 connections of an
event loop and given back by idle ones."""

import os
import re
import socket
import ssl

import tls_helper as th

check = th.check


def start(pki, name, **tls):
    listener = {"type": "tcp", "host": th.HOST, "plugin": "probe"}
    listener.update(th.tls_opts(pki, **tls))
    srv = th.h.Server(name, server={"worker_num": 2, "reactor_num": 2},
                      plugins=[{"name": "probe", "path": th.TLS_PROBE}])
    listener["port"] = srv.port
    srv.listeners = [listener]
    srv.write_config()
    return srv.start()


def test_echo(srv, pki):
    ctx = th.client_ctx(pki)
    with th.tls_connect(srv.port, ctx) as s:
        g = th.greeting(th.read_line(s))
        check(g["v"] == "TLSv1.3", "version %r" % g)
        check(g["c"].startswith("TLS_"), "cipher %r" % g)
        check(g["s"] == "localhost", "sni %r" % g)
        check(g["a"] == "-" and g["sub"] == "-" and g["ok"] == "0",
              "no ALPN, no client cert: %r" % g)
        data = os.urandom(200000)
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(65536)
            check(b, "echo cut after %d bytes" % len(got))
            got += b
        check(got == data, "echo differs")
    rc, out = th.s_client(srv.port, "-CAfile", pki.ca, "-quiet",
                          stdin=b"hello over s_client\n",
                          expect="hello over s_client")
    check("hello over s_client" in out, "s_client echo: %s" % out)


def test_unix(pki):
    """TLS on a Unix stream listener: the same transport."""
    srv = th.h.Server("tls-unix", server={"worker_num": 1,
                                          "reactor_num": 1},
                      plugins=[{"name": "probe", "path": th.TLS_PROBE}])
    path = os.path.join(srv.dir, "tls.sock")
    srv.listeners = [dict(th.tls_opts(pki), type="unix", path=path,
                          plugin="probe"),
                      {"type": "tcp", "host": th.HOST, "port": srv.port,
                       "plugin": "probe"}]
    srv.write_config()
    with srv.start():
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.settimeout(10)
        raw.connect(path)
        with th.client_ctx(pki).wrap_socket(raw,
                                            server_hostname="localhost") as s:
            g = th.greeting(th.read_line(s))
            check(g["v"] == "TLSv1.3", "unix: %r" % g)
            s.sendall(b"over unix\n")
            check(th.read_line(s) == "over unix\n", "unix echo")
        with socket.create_connection((th.HOST, srv.port), 10) as s:
            check(th.read_line(s).startswith("T v=- c=-"),
                  "a plain listener beside it has no TLS fields")
        srv.stop()


def test_proxy(pki):
    """proxy_protocol with TLS: the PROXY header in clear, then the
    handshake, even when the ClientHello came in the header's segment."""
    with start(pki, "tls-proxy", proxy_protocol=True) as srv:
        ctx = th.client_ctx(pki)
        for together in (False, True):
            raw = socket.create_connection((th.HOST, srv.port), 10)
            header = b"PROXY TCP4 198.51.100.7 10.0.0.1 40000 443\r\n"
            if not together:
                raw.sendall(header)
                s = ctx.wrap_socket(raw, server_hostname="localhost")
            else:
                inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
                obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
                try:
                    obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                raw.sendall(header + out.read())
                s = drive_bio(raw, obj, inc, out)
            g = th.greeting(th.read_line(s))
            check(g["p"] == "198.51.100.7" and g["v"] == "TLSv1.3",
                  "PROXY then TLS (%s): %r" % (together, g))
            s.close()
        raw = socket.create_connection((th.HOST, srv.port), 10)
        raw.sendall(b"PROXY TCP4 198.51.100.7 10.0.0.1 40000 443\r\nGET /")
        srv.wait_log(r"peer 198\.51\.100\.7:40000.*TLS handshake failed")
        raw.close()


class BioSocket:
    """Just enough of a socket over an ssl.SSLObject for read_line."""

    def __init__(self, raw, obj, inc, out):
        self.raw, self.obj, self.inc, self.out = raw, obj, inc, out

    def pump(self):
        if self.out.pending:
            self.raw.sendall(self.out.read())
        data = self.raw.recv(65536)
        if not data:
            self.inc.write_eof()
        self.inc.write(data)

    def recv(self, n):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self.pump()

    def close(self):
        self.raw.close()


def drive_bio(raw, obj, inc, out):
    s = BioSocket(raw, obj, inc, out)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            s.pump()
    if out.pending:
        raw.sendall(out.read())
    return s


def test_versions(srv, pki):
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = th.client_ctx(pki, version=v)
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        try:
            th.tls_connect(srv.port, ctx).close()
            check(False, "%s was accepted" % v)
        except (ssl.SSLError, OSError):
            pass
    for flag in ("-tls1", "-tls1_1"):
        rc, out = th.s_client(srv.port, flag, "-cipher", "ALL:@SECLEVEL=0")
        check(rc != 0 and "T v=" not in out, "%s accepted: %s" % (flag, out))
    for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                    (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        with th.tls_connect(srv.port, th.client_ctx(pki, version=v)) as s:
            g = th.greeting(th.read_line(s))
            check(g["v"] == name, "%s: %r" % (name, g))
    srv.wait_log(r"TLS handshake failed: .*(unsupported protocol|version)")


def test_alpn(pki):
    with start(pki, "tls-alpn", ssl_alpn=["h2", "x-swx"]) as srv:
        ctx = th.client_ctx(pki, alpn=["x-swx", "http/1.1"])
        with th.tls_connect(srv.port, ctx) as s:
            check(s.selected_alpn_protocol() == "x-swx", "alpn chosen")
            check(th.greeting(th.read_line(s))["a"] == "x-swx", "plugin")
        ctx = th.client_ctx(pki, alpn=["spdy/1"])
        with th.tls_connect(srv.port, ctx) as s:
            check(s.selected_alpn_protocol() is None, "no common ALPN")
            check(th.greeting(th.read_line(s))["a"] == "-", "no ALPN")
        rc, out = th.s_client(srv.port, "-alpn", "h2", "-CAfile", pki.ca,
                              expect="T v=")
        check("ALPN protocol: h2" in out, "s_client ALPN: %s" % out)


def test_sni(pki):
    sni = {"other.test": {"ssl_cert_file": pki.path("other.pem"),
                          "ssl_key_file": pki.path("other.key")}}
    with start(pki, "tls-sni", ssl_sni_certs=sni) as srv:
        ctx = th.client_ctx(pki)
        with th.tls_connect(srv.port, ctx, name="other.test") as s:
            cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
            check(cn == "other.test", "SNI cert: %s" % cn)
            check(th.greeting(th.read_line(s))["s"] == "other.test", "sni")
        with th.tls_connect(srv.port, ctx, name="localhost") as s:
            cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
            check(cn == "localhost", "default cert: %s" % cn)
        for name in ("other.test", "localhost"):  # curl --resolve
            rc, out = th.curl(pki, "https://%s:%d/" % (name, srv.port),
                              "--resolve", "%s:%d:%s" % (name, srv.port,
                                                         th.HOST), "-v",
                              "--max-time", "5")
            check("subject: CN=%s" % name in out and
                  "SSL certificate verify ok" in out,
                  "curl --resolve %s: %s" % (name, out))
        ctx.check_hostname = False
        with th.tls_connect(srv.port, ctx, name="unknown.test") as s:
            cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
            check(cn == "localhost", "unknown name, default cert: %s" % cn)


def test_mutual(pki):
    with start(pki, "tls-mtls", ssl_verify_peer=True,
               ssl_client_cert_file=pki.ca) as srv:
        with th.tls_connect(srv.port, th.client_ctx(pki, "client")) as s:
            g = th.greeting(th.read_line(s))
            check(g["sub"] == "CN=swx-client" and g["ok"] == "1",
                  "client cert seen: %r" % g)
        for cert in (None, "rogue"):
            try:
                with th.tls_connect(srv.port, th.client_ctx(pki, cert)) as s:
                    line = th.read_line(s)  # TLS 1.3: refused after
                    check(line == "", "served without a valid client "
                          "certificate (%s): %r" % (cert, line))
            except (ssl.SSLError, OSError):
                pass
        srv.wait_log(r"TLS handshake failed: .*certificate", count=2)
    with start(pki, "tls-mtls-opt", ssl_client_cert_file=pki.ca) as srv:
        with th.tls_connect(srv.port, th.client_ctx(pki, "rogue")) as s:
            g = th.greeting(th.read_line(s))
            check(g["sub"] == "CN=rogue" and g["ok"] == "0",
                  "optional, unverified: %r" % g)
        with th.tls_connect(srv.port, th.client_ctx(pki)) as s:
            check(th.greeting(th.read_line(s))["sub"] == "-", "none")


def test_resumption(srv, pki):
    sess = os.path.join(srv.dir, "sess.pem")
    for v in ("-tls1_3", "-tls1_2"):
        rc, out = th.s_client(srv.port, v, "-CAfile", pki.ca, "-sess_out",
                              sess, stdin=b"ping\n", expect="ping")
        check("Verify return code: 0" in out, "first: %s" % out)
        reused = 0
        for _ in range(4):  # each may reach another reactor and worker
            rc, out = th.s_client(srv.port, v, "-CAfile", pki.ca, "-sess_in",
                                  sess, stdin=b"ping\n", expect="ping")
            reused += "Reused, TLS" in out
        check(reused == 4, "%s: resumed %d of 4: %s" % (v, reused, out))
    # A TLS 1.3 resumption brings a new ticket, so that a client that
    # keeps the resumed connection's session (wrk, SSL_clear) resumes
    # again, and with it.
    chained = os.path.join(srv.dir, "sess2.pem")
    th.s_client(srv.port, "-tls1_3", "-CAfile", pki.ca, "-sess_out", sess,
                stdin=b"ping\n", expect="ping")
    rc, out = th.s_client(srv.port, "-tls1_3", "-CAfile", pki.ca, "-msg",
                          "-sess_in", sess, "-sess_out", chained,
                          stdin=b"ping\n", expect="ping")
    check("Reused, TLS" in out and "NewSessionTicket" in out,
          "TLS 1.3 resumption without a new ticket: %s" % out)
    rc, out = th.s_client(srv.port, "-tls1_3", "-CAfile", pki.ca, "-sess_in",
                          chained, stdin=b"ping\n", expect="ping")
    check("Reused, TLS" in out, "the resumed session's ticket: %s" % out)


BUFFERS = re.compile(
    r"TLS buffers: (\d+) connections held them \(at most (\d+) at once\); "
    r"given back by (\d+) idle for a tick, by (\d+) past the 256 most "
    r"recently used; (\d+) keep them")


def test_buffers(pki):
    """OpenSSL's read and write buffers: 300 connections of one event loop
    each used, all again within a moment, then left idle. At most 256 hold
    buffers at once (the least recently used give theirs back), and once
    idle for a tick (a second) none does."""
    srv = th.h.Server("tls-buffers", server={"worker_num": 1,
                                             "reactor_num": 1,
                                             "log_level": "debug"},
                      plugins=[{"name": "probe", "path": th.TLS_PROBE}])
    listener = {"type": "tcp", "host": th.HOST, "plugin": "probe",
                "port": srv.port}
    listener.update(th.tls_opts(pki))
    srv.listeners = [listener]
    srv.write_config()
    conns = []
    with srv.start():
        ctx = th.client_ctx(pki)
        try:
            for _ in range(300):
                conns.append(th.tls_connect(srv.port, ctx))
                th.greeting(th.read_line(conns[-1]))
            for s in conns:
                s.sendall(b"ping\n")
            for s in conns:
                check(th.read_line(s) == "ping\n", "an echo")

            def settled():
                found = BUFFERS.findall(srv.log_text())
                return found and found[-1][4] == "0" and sum(
                    int(f[2]) + int(f[3]) for f in found) >= 300

            th.h.wait_until(settled, 15, what="every connection's buffers "
                            "given back")
            found = BUFFERS.findall(srv.log_text())
            peak = max(int(f[1]) for f in found)
            capped = sum(int(f[3]) for f in found)
            check(peak <= 256, "%d connections held buffers at once" % peak)
            check(capped >= 44, "only %d gave theirs back past the 256 most "
                  "recently used: %r" % (capped, found))
        finally:
            for s in conns:
                s.close()


def main():
    th.h.require(th.TLS_PROBE, th.OPENSSL)
    base = th.h.Server("tls-pki")  # only for its temporary directory
    pki = th.Pki(base.dir)
    with start(pki, "tls-stream") as srv:
        test_echo(srv, pki)
        test_versions(srv, pki)
        test_resumption(srv, pki)
        srv.stop()
    test_unix(pki)
    test_proxy(pki)
    test_alpn(pki)
    test_sni(pki)
    test_mutual(pki)
    test_buffers(pki)


if __name__ == "__main__":
    th.h.main(main)
