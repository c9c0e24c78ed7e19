"""listener_helper.py: what the listener, framing and dispatch tests share:
a server running the frame_probe plugin (tests/plugins/frame_probe.c) on
listeners each test describes, and a reader of its records.

frame_probe answers each on_receive and on_packet with
"M w=WORKER l=LISTENER b=BIND n=LEN\\n" and the LEN bytes the callback got,
so a test sees exactly where the server cut the stream, which worker and
which listener handled it. Paths come from tests/listeners/meson.build
(SWX_FRAME_PROBE_PLUGIN, SWX_UDP_ECHO_PLUGIN, and the harness's)."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import swx_harness as h  # noqa: E402

HOST = h.HOST
FRAME_PROBE = os.environ.get("SWX_FRAME_PROBE_PLUGIN", "")
UDP_ECHO = os.environ.get("SWX_UDP_ECHO_PLUGIN", "")

check = h.check
log = h.log

RECORD = re.compile(rb"M w=(\d+) l=(-?\d+) b=(-?\d+) n=(\d+)\n")
GREETING = re.compile(rb"C w=(\d+) l=(-?\d+) p=(\d+) a=(\S*) pp=(\d+) "
                      rb"x=(\S*)\n")


class Record:
    def __init__(self, worker, listener, bind, data):
        self.worker, self.listener, self.bind, self.data = \
            worker, listener, bind, data

    def __repr__(self):
        return "Record(w=%d l=%d b=%d %r)" % (
            self.worker, self.listener, self.bind, self.data[:60])


def frame_server(name, listeners, server=None, plugin_config=None,
                 plugins=()):
    """A server whose plugin "fp" is frame_probe; listeners are complete
    dicts except that "plugin" defaults to "fp". The first must be TCP on
    loopback: the harness waits for it to accept."""
    fp = {"name": "fp", "path": FRAME_PROBE}
    if plugin_config:
        fp["config"] = plugin_config
    lst = []
    for item in listeners:
        item = dict(item)
        item.setdefault("plugin", "fp")
        lst.append(item)
    cfg = {"worker_num": 2, "log_level": "info"}
    if h.is_sanitized():
        # A worker's exit under LeakSanitizer (its leak check stops the
        # process and scans its memory) can pass the default 3 s on a
        # loaded machine, and a SIGKILL then leaves LSan's tracer behind.
        cfg["max_wait_time"] = 10
    cfg.update(server or {})
    srv = h.Server(name, server=cfg, plugins=[fp] + list(plugins),
                   listeners=lst, port=lst[0]["port"])
    return srv


def tcp_listener(**opts):
    d = {"type": "tcp", "host": HOST, "port": h.free_port()}
    d.update(opts)
    return d


free_udp_port = h.free_udp_port


class Reader:
    """Records from one stream socket, whatever way they arrive."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        b = self.sock.recv(1 << 20)
        if not b:
            raise h.TestFailure("connection closed with %d bytes unread: %r"
                                % (len(self.buf), self.buf[:100]))
        self.buf += b

    def line(self, rx):
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                m = rx.fullmatch(self.buf[:nl + 1])
                check(m is not None, "unexpected bytes from the server: %r"
                      % self.buf[:200])
                self.buf = self.buf[nl + 1:]
                return m
            check(len(self.buf) < 256, "no record head in %r"
                  % self.buf[:200])
            self._fill()

    def record(self):
        m = self.line(RECORD)
        n = int(m.group(4))
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return Record(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                      data)

    def greeting(self):
        """(worker, listener, server port, peer address); the peer's port
        and the proxy ("addr:port", or "-") are kept in peer_port and
        proxy."""
        m = self.line(GREETING)
        self.peer_port = int(m.group(5))
        self.proxy = m.group(6).decode()
        return (int(m.group(1)), int(m.group(2)), int(m.group(3)),
                m.group(4).decode())

    def records(self, count):
        return [self.record() for _ in range(count)]

    def closed(self, timeout=10.0):
        """True when the server closes (EOF or reset) within timeout, with
        nothing more than what is already buffered."""
        self.sock.settimeout(timeout)
        try:
            while True:
                b = self.sock.recv(1 << 16)
                if not b:
                    return True
                self.buf += b
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def parse_record(datagram):
    """A datagram answer: the Record it carries."""
    nl = datagram.find(b"\n")
    m = RECORD.fullmatch(datagram[:nl + 1]) if nl >= 0 else None
    check(m is not None, "bad datagram answer %r" % datagram[:100])
    data = datagram[nl + 1:]
    check(len(data) == int(m.group(4)), "datagram answer of %d bytes says "
          "n=%s" % (len(data), m.group(4).decode()))
    return Record(int(m.group(1)), int(m.group(2)), int(m.group(3)), data)


def send_split(sock, data, cut, pause=0.003):
    """data in two writes, cut bytes then the rest, with a pause between
    so that the server reads them separately."""
    sock.sendall(data[:cut])
    time.sleep(pause)
    sock.sendall(data[cut:])


def send_bytewise(sock, data, pause=0.001):
    for i in range(len(data)):
        sock.sendall(data[i:i + 1])
        time.sleep(pause)


def expect(reader, msgs, what):
    """The next records carry exactly msgs, in order."""
    for i, m in enumerate(msgs):
        rec = reader.record()
        check(rec.data == m, "%s: message %d: got %r, expected %r"
              % (what, i, rec.data[:60], m[:60]))


def split_rounds(port, msgs, rounds, what):
    """Send msgs over one connection rounds times in one write, then cut
    in two at every byte boundary, then the first three byte by byte;
    every record must be exactly one of msgs, in order. The number of
    messages checked."""
    stream = b"".join(msgs)
    with h.connect(port) as s:
        r = Reader(s)
        s.sendall(stream * rounds)
        expect(r, msgs * rounds, "%s, %d rounds in one write"
               % (what, rounds))
        for cut in range(1, len(stream)):
            send_split(s, stream, cut)
            expect(r, msgs, "%s, cut at byte %d" % (what, cut))
        send_bytewise(s, b"".join(msgs[:3]))
        expect(r, msgs[:3], what + ", byte by byte")
    return len(msgs) * (rounds + len(stream) - 1) + 3


def main(test):
    h.require(FRAME_PROBE, UDP_ECHO)
    h.main(test)
