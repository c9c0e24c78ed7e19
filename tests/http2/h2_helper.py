"""h2_helper.py: what the HTTP/2 tests share: a server whose HTTP listener
has open_http2_protocol (tests/http/http_helper.py underneath), curl and
h2load runs, and a frame-level client on python3-h2 over a plain socket.

Paths come from tests/http2/meson.build (those of http_helper, and
SWX_H2LOAD)."""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "http"))
import http_helper as hh  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.settings  # noqa: E402

check = hh.check
h = hh.h
HOST = hh.HOST
H2LOAD = os.environ.get("SWX_H2LOAD", "") or "h2load"


def server(name, listener=None, **kw):
    opts = {"open_http2_protocol": True}
    opts.update(listener or {})
    return hh.HttpServer(name, listener=opts, **kw)


def url(srv, path):
    return "http://%s:%d%s" % (HOST, srv.port, path)


def curl(args, timeout=60):
    return hh.curl(args, timeout)


def h2load(args, timeout=120):
    p = subprocess.run([H2LOAD] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class Client:
    """An HTTP/2 connection by prior knowledge, driven frame by frame."""

    def __init__(self, port, settings=None, validate=True, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        cfg = h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8",
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.events = []
        self.closed = False
        self.goaway = None
        self.bodies = {}
        self.heads = {}
        self.ended = set()
        self.resets = {}
        self.no_ack = set()  # streams whose data is not acknowledged

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, path, method="GET", body=None, headers=(), end=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", "test")] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=end and body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end)
        self.flush()
        return sid

    def pump(self, timeout=5.0, ack=True):
        """Read once (up to timeout); handle the events. False at EOF."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        try:
            evs = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.closed = True
            return False
        for ev in evs:
            self.handle(ev, ack)
        self.flush()
        return True

    def handle(self, ev, ack):
        self.events.append(ev)
        if isinstance(ev, h2.events.ResponseReceived):
            self.heads[ev.stream_id] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            self.bodies.setdefault(ev.stream_id, b"")
            self.bodies[ev.stream_id] += ev.data
            if ack and ev.stream_id not in self.no_ack:
                self.conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.ended.add(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self.resets[ev.stream_id] = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev.error_code

    def wait(self, pred, timeout=10.0, what="condition"):
        end = time.time() + timeout
        while not pred():
            left = end - time.time()
            check(left > 0, "timed out waiting for %s" % what)
            if not self.pump(min(left, 0.5)):
                check(pred(), "connection closed while waiting for %s"
                      % what)
                return

    def response(self, sid, timeout=10.0):
        self.wait(lambda: sid in self.ended or sid in self.resets, timeout,
                  "stream %d" % sid)
        # RST_STREAM(NO_ERROR) may follow a whole response (RFC 9113 8.1).
        check(sid in self.ended, "stream %d reset (%s)"
              % (sid, self.resets.get(sid)))
        return self.heads.get(sid, {}), self.bodies.get(sid, b"")

    def wait_end(self, timeout=10.0):
        """Until GOAWAY or EOF; True when either came."""
        end = time.time() + timeout
        while time.time() < end and self.goaway is None and not self.closed:
            self.pump(0.5)
        return self.goaway is not None or self.closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def served(srv, path="/echo"):
    """A fresh client is answered 200 on a new connection."""
    c = Client(srv.port)
    try:
        head, _ = c.response(c.request(path))
        check(head.get(":status") == "200", "a new client got %r" % head)
    finally:
        c.close()
