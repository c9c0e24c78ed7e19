"""http_helper.py: what the HTTP and WebSocket tests share: a server with
an HTTP listener (tests/integration/swx_harness.py underneath), a strict
HTTP/1.1 response reader over a raw socket, curl, and a WebSocket client
written on the stdlib socket module.

Paths come from tests/http/meson.build: SWX_HTTP_PROBE_PLUGIN,
SWX_HTTP_HELLO_PLUGIN, SWX_WS_ECHO_PLUGIN, SWX_CURL (and the harness's)."""

import base64
import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import swx_harness as h  # noqa: E402

HOST = h.HOST
PROBE = os.environ.get("SWX_HTTP_PROBE_PLUGIN", "")
HELLO = os.environ.get("SWX_HTTP_HELLO_PLUGIN", "")
WS_ECHO = os.environ.get("SWX_WS_ECHO_PLUGIN", "")
CURL = os.environ.get("SWX_CURL", "") or "curl"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

check = h.check


class HttpServer(h.Server):
    """A server whose first listener is HTTP on self.port (kept right when
    the harness moves to another free port). listener: extra keys of that
    listener; more: further listeners, each a dict (their ports fixed)."""

    def __init__(self, name, listener=None, plugins=None, server=None,
                 more=(), plugin_config=None):
        self.listener_opts = dict(listener or {})
        self.more = list(more)
        if plugins is None:
            plugins = [{"name": "probe", "path": PROBE,
                        "config": plugin_config or {}}]
        server = dict(server or {})
        server.setdefault("worker_num", 2)
        server.setdefault("reactor_num", 2)
        super().__init__(name, server=server, plugins=plugins)

    def config(self):
        cfg = super().config()
        first = {"type": "tcp", "host": HOST, "port": self.port,
                 "plugin": self.plugins[0]["name"], "protocol": "http"}
        first.update(self.listener_opts)
        cfg["listeners"] = [first] + self.more
        return cfg


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.headers = headers  # [(lower-case name, value)]
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def __repr__(self):
        return "<%d %s %r %r>" % (self.status, self.reason, self.headers,
                                  self.body[:80])


class Reader:
    """Reads HTTP/1.1 responses, strictly, from a connected socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        b = self.sock.recv(1 << 16)
        if not b:
            raise EOFError("connection closed (%d bytes pending)"
                           % len(self.buf))
        self.buf += b

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest(self):
        """Everything up to EOF."""
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        data, self.buf = self.buf, b""
        return data

    def head(self):
        status = self.line().decode("latin-1")
        parts = status.split(" ", 2)
        check(len(parts) >= 2 and parts[0].startswith("HTTP/1."),
              "bad status line %r" % status)
        headers = []
        while True:
            line = self.line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.lower(), value.strip()))
        return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", \
            headers

    def chunked(self):
        body = b""
        while True:
            size = int(self.line().split(b";")[0], 16)
            if size == 0:
                while self.line():
                    pass
                return body
            body += self.exact(size)
            check(self.exact(2) == b"\r\n", "chunk not followed by CRLF")

    def response(self, head_only=False):
        """One response; interim 1xx ones are skipped (and kept in
        self.interim)."""
        self.interim = []
        while True:
            version, status, reason, headers = self.head()
            if status >= 200:
                break
            self.interim.append(status)
        r = Response(version, status, reason, headers, b"")
        te, cl = r.header("transfer-encoding"), r.header("content-length")
        if head_only or status in (204, 304):
            return r
        if te is not None:
            check(te == "chunked", "transfer-encoding %r" % te)
            r.body = self.chunked()
        elif cl is not None:
            r.body = self.exact(int(cl))
        else:
            r.body = self.rest()
        return r


def connect(port, timeout=20.0):
    return h.connect(port, timeout)


def exchange(port, data, head_only=False, timeout=20.0):
    """Send data on a new connection and read one response."""
    with connect(port, timeout) as s:
        s.sendall(data)
        return Reader(s).response(head_only)


def get(port, path, headers=(), method="GET", body=b"", version="1.1"):
    req = "%s %s HTTP/%s\r\nHost: test\r\n" % (method, path, version)
    for k, v in headers:
        req += "%s: %s\r\n" % (k, v)
    if body:
        req += "Content-Length: %d\r\n" % len(body)
    return req.encode() + b"\r\n" + body


def closed_after(sock, reader, timeout=10.0):
    """True when the server closes the connection (after what it sent)."""
    sock.settimeout(timeout)
    try:
        return reader.rest() == b""
    except (ConnectionResetError, socket.timeout):
        return False


def curl(args, timeout=60):
    """Run curl; (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([CURL, "--silent", "--show-error"] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def stop_clients(clients, timeout):
    """Tell every client thread (with .stop, .n, .error) to stop, wait up
    to timeout seconds for each, and raise the first error one hit."""
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(timeout)
        check(not c.is_alive(), "client %d hung" % c.n)
        if c.error is not None:
            raise c.error


class KeepAliveClient(threading.Thread):
    """Requests /echo?ID-N one after another on a kept-alive connection,
    as a careful HTTP client does: a new connection after Connection:
    close; a retry on a new one when a reused connection closes before
    any byte of the response (retries) or when a new one does (fresh: a
    connection the server never accepted, reset by the kernel as the
    listener closed for a stop); refused connections retried while the
    server restarts. A response cut after its first byte fails."""

    def __init__(self, port, ident, stop):
        super().__init__(daemon=True)
        self.port, self.cid, self.stop = port, ident, stop
        self.sock = self.reader = None
        self.reused = False
        self.answered = 0
        self.retries = 0
        self.fresh = 0
        self.error = None

    def connect(self):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.create_connection((HOST, self.port),
                                                     timeout=15)
                self.reader = Reader(self.sock)
                self.reused = False
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def drop(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def one(self, n):
        want = "%d-%d" % (self.cid, n)
        while True:
            if self.sock is None:
                self.connect()
            try:
                self.sock.sendall(get(self.port, "/echo?" + want))
                r = self.reader.response()
            except (OSError, EOFError) as e:
                got = len(self.reader.buf)
                if got:
                    raise h.TestFailure("request %s on a %s connection: "
                                        "%s after %d bytes" % (
                                            want, "reused" if self.reused
                                            else "new", e, got))
                if self.reused:
                    self.retries += 1
                else:
                    self.fresh += 1
                self.drop()
                continue
            check(r.status == 200 and r.header("x-query") == want,
                  "request %s: %r" % (want, r))
            if r.header("connection") == "close":
                self.drop()
            else:
                self.reused = True
            return

    def run(self):
        n = 0
        try:
            while not self.stop.is_set():
                self.one(n)
                n += 1
                self.answered = n
        except Exception as e:  # noqa: B902 -- reported by the test
            self.error = "client %d: %s" % (self.cid, e)
        self.drop()


# ---------------------------------------------------------------- WebSocket

def ws_frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    masked = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return hdr + key + masked


def ws_accept(key):
    digest = hashlib.sha1((key + WS_GUID).encode()).digest()
    return base64.b64encode(digest).decode()


class WsClient:
    """A WebSocket client on a raw socket: handshake, frames both ways."""

    def __init__(self, port, path="/", version="13", timeout=20.0,
                 extra=""):
        self.sock = connect(port, timeout)
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: test\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: %s\r\n%s\r\n"
                           % (path, self.key, version, extra)).encode())
        self.reader = Reader(self.sock)
        v, self.status, _, self.headers = self.reader.head()
        self.resp = Response(v, self.status, "", self.headers, b"")

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(ws_frame(opcode, payload, **kw))

    def recv(self):
        """(fin, opcode, payload) of the next frame from the server; server
        frames must not be masked, nor have RSV bits."""
        fin, rsv, op, payload = self.recv_rsv()
        check(rsv == 0, "RSV bits %d in a server frame" % rsv)
        return fin, op, payload

    def recv_rsv(self):
        """(fin, rsv bits, opcode, payload) of the next server frame."""
        b = self.reader.exact(2)
        check(not b[1] & 0x80, "server frame is masked")
        n = b[1] & 0x7f
        if n == 126:
            n = struct.unpack(">H", self.reader.exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.reader.exact(8))[0]
        return (bool(b[0] & 0x80), (b[0] >> 4) & 7, b[0] & 0x0f,
                self.reader.exact(n))

    def recv_close(self):
        """The code of the server's close frame (ignoring data frames
        before it), or None for an empty one."""
        while True:
            _, op, payload = self.recv()
            if op == 8:
                return struct.unpack(">H", payload[:2])[0] if payload else None

    def closed(self, timeout=10.0):
        return closed_after(self.sock, self.reader, timeout)

    def close(self):
        self.sock.close()


def main(test):
    for var, path in (("SWX_HTTP_PROBE_PLUGIN", PROBE),):
        if not path or not os.path.exists(path):
            h.log("%s is not set to an existing file (%r)" % (var, path))
            sys.exit(1)
    h.main(test)
