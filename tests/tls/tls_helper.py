"""tls_helper.py: what the TLS tests share: a test PKI made at test time
with openssl (a CA; server certificates for localhost and for a second
name, other.test; a client certificate; an expired one), a server whose
listeners speak TLS, and clients: python's ssl module, curl and
openssl s_client.

Paths come from tests/tls/meson.build: SWX_TLS_PROBE_PLUGIN and the
harness's (SWX_SERVER, SWX_HTTP_PROBE_PLUGIN, ...)."""

import json
import os
import select
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "http"))
import http_helper as hh  # noqa: E402

h = hh.h
check = h.check
HOST = h.HOST
TLS_PROBE = os.environ.get("SWX_TLS_PROBE_PLUGIN", "")
OPENSSL = os.environ.get("SWX_OPENSSL", "") or "openssl"


def run(args, timeout=60, stdin=b""):
    """(exit status, stdout + stderr as text)."""
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def openssl(*args):
    rc, out = run([OPENSSL] + list(args))
    check(rc == 0, "openssl %s: %s" % (" ".join(args), out))
    return out


class Pki:
    """Certificates under d, each NAME.pem with NAME.key: ca, server
    (localhost, 127.0.0.1), other (other.test), client (CN swx-client),
    expired (localhost, notAfter yesterday), rogue (a client certificate
    of another, self-signed CA)."""

    def __init__(self, d):
        self.dir = d
        self.ca = self.path("ca.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.path("ca.key"), "-out", self.ca,
                "-days", "3", "-subj", "/CN=swx test CA")
        self.leaf("server", "localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self.leaf("server2", "localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self.leaf("other", "other.test", "subjectAltName=DNS:other.test")
        self.leaf("client", "swx-client", "extendedKeyUsage=clientAuth")
        self.leaf("expired", "localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1", days="-1")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.path("rogue.key"), "-out",
                self.path("rogue.pem"), "-days", "3", "-subj", "/CN=rogue")

    def path(self, name):
        return os.path.join(self.dir, name)

    def leaf(self, name, cn, ext, days="3"):
        key, csr = self.path(name + ".key"), self.path(name + ".csr")
        extfile = self.path(name + ".ext")
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                "-out", csr, "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                self.path("ca.key"), "-CAcreateserial", "-out",
                self.path(name + ".pem"), "-days", days, "-extfile", extfile)

    def serial(self, name):
        out = openssl("x509", "-in", self.path(name + ".pem"), "-noout",
                      "-serial")
        return out.strip().split("=", 1)[1].upper()


def tls_opts(pki, name="server", **more):
    """A listener's TLS keys for certificate name."""
    opts = {"ssl_cert_file": pki.path(name + ".pem"),
            "ssl_key_file": pki.path(name + ".key")}
    opts.update(more)
    return opts


def client_ctx(pki, cert=None, version=None, alpn=None):
    """A verifying client context (the test CA), optionally with a client
    certificate, pinned to one TLS version, offering ALPN names."""
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        ctx.load_cert_chain(pki.path(cert + ".pem"), pki.path(cert + ".key"))
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, ctx, name="localhost", timeout=10.0, session=None):
    raw = socket.create_connection((HOST, port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=name, session=session)
    except BaseException:
        raw.close()
        raise


def read_line(s, limit=4096):
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        b = s.recv(1)
        if not b:
            break
        buf += b
    return buf.decode("utf-8", "replace")


def greeting(line):
    """tls_probe's "T k=v ..." line as a dict."""
    check(line.startswith("T "), "not a tls_probe greeting: %r" % line)
    out = {}
    for part in line[2:].split(" "):
        k, _, v = part.partition("=")
        out[k] = v.strip()
    return out


def s_client(port, *args, stdin=b"", expect=None, timeout=20):
    """openssl s_client against the port, sending stdin; with expect, the
    output is read until it holds expect before stdin closes (s_client
    quits at EOF: a TLS 1.3 session ticket or an echo would be missed).
    (exit status, output)."""
    p = subprocess.Popen([OPENSSL, "s_client", "-connect",
                          "%s:%d" % (HOST, port)] + list(args),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        p.stdin.write(stdin)
        p.stdin.flush()
        while expect is not None and expect.encode() not in out:
            check(time.monotonic() < deadline, "s_client: no %r in %r"
                  % (expect, out))
            select.select([p.stdout], [], [], 0.2)
            out += p.stdout.read() or b""
            if p.poll() is not None:
                break
        p.stdin.close()
        while p.poll() is None and time.monotonic() < deadline:
            select.select([p.stdout], [], [], 0.2)
            out += p.stdout.read() or b""
    except BrokenPipeError:
        pass
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        os.set_blocking(p.stdout.fileno(), True)
        out += p.stdout.read() or b""
    return p.returncode, out.decode("utf-8", "replace")


def curl(pki, url, *args, timeout=60):
    """curl verifying against the test CA: (exit status, output)."""
    return run([hh.CURL, "-sS", "--cacert", pki.ca] + list(args) + [url],
               timeout=timeout)
