"""dnsd.py: a small DNS server on loopback UDP for the name lookup tests
(stdlib only). It answers A and AAAA questions from a table with the TTL
given there, NXDOMAIN for names it does not know, answers some names only
after a delay, never answers others, and counts every question by name and
type so a test can tell whether the server asked at all."""

import socket
import struct
import threading
import time

A, AAAA = 1, 28


class DnsServer:
    """names: {name: (ttl, [ipv4...], [ipv6...])}; delay: {name: seconds};
    silent: names never answered (nor those starting "silent-"). Runs in
    a thread until close()."""

    def __init__(self, names=None, delay=None, silent=()):
        self.names = {k.lower(): v for k, v in (names or {}).items()}
        self.delay = {k.lower(): v for k, v in (delay or {}).items()}
        self.silent = {s.lower() for s in silent}
        self.counts = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def count(self, name, qtype=None):
        """Questions received for name (of qtype, or of any type)."""
        with self.lock:
            return sum(n for (q, t), n in self.counts.items()
                       if q == name.lower() and qtype in (None, t))

    def count_prefix(self, prefix):
        """Questions received for names starting with prefix."""
        with self.lock:
            return sum(n for (q, t), n in self.counts.items()
                       if q.startswith(prefix))

    def close(self):
        self.running = False
        self.sock.close()

    def _serve(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self._handle(data, peer)

    def _handle(self, data, peer):
        try:
            name, qtype, qend = parse_question(data)
        except (ValueError, struct.error, IndexError):
            return
        with self.lock:
            self.counts[(name, qtype)] = self.counts.get((name, qtype), 0) + 1
        if name in self.silent or name.startswith("silent-"):
            return
        answer = self.answer(data, name, qtype, qend)
        wait = self.delay.get(name, 0)
        if wait:
            threading.Timer(wait, self._send, (answer, peer)).start()
        else:
            self._send(answer, peer)

    def _send(self, answer, peer):
        try:
            self.sock.sendto(answer, peer)
        except OSError:
            pass

    def answer(self, query, name, qtype, qend):
        entry = self.names.get(name)
        rcode = 0 if entry is not None else 3  # NXDOMAIN
        records = []
        if entry is not None:
            ttl, v4, v6 = entry
            if qtype == A:
                records = [(A, socket.inet_pton(socket.AF_INET, ip), ttl)
                           for ip in v4]
            elif qtype == AAAA:
                records = [(AAAA, socket.inet_pton(socket.AF_INET6, ip), ttl)
                           for ip in v6]
        qid, flags = struct.unpack("!HH", query[:4])
        flags = 0x8000 | (flags & 0x0100) | 0x0400 | 0x0080 | rcode
        head = struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0)
        out = head + query[12:qend]
        for rtype, rdata, ttl in records:
            out += struct.pack("!HHHIH", 0xC00C, rtype, 1, ttl, len(rdata))
            out += rdata
        return out


def parse_question(data):
    """(lower-cased name, qtype, offset after the question)."""
    if len(data) < 12 or struct.unpack("!H", data[4:6])[0] != 1:
        raise ValueError("not one question")
    labels, i = [], 12
    while data[i] != 0:
        n = data[i]
        if n > 63:
            raise ValueError("compressed or bad label")
        labels.append(data[i + 1:i + 1 + n].decode("ascii").lower())
        i += 1 + n
    qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
    return ".".join(labels), qtype, i + 5


def closed_udp_port():
    """A loopback UDP port nobody listens on (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    time.sleep(0.01)
    return port
