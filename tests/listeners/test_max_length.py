"""test_max_length.py: package_max_length through the real server, for EOF
and length framing. A message of exactly the limit is delivered; one byte
more closes that connection with a log line naming the peer and the size;
a length field announcing too much closes at once, before the body is
sent; a connection beside it on the same listener, holding half a message
of its own, and one on another listener are served before and after.
Memory stays bounded: clients pushing far more than the limit without a
delimiter are cut off after little more than the limit, and the master's
peak memory grows by a bounded amount; idle connections that each sent one
large message do not keep its memory."""

import socket
import struct
import threading

import listener_helper as lh

h = lh.h
check = lh.check

LIMIT = 1024
BIG_LIMIT = 1 << 20
PUSHERS = 6
PUSH_MAX = 64 << 20


def vm_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise h.TestFailure("no %s for pid %d" % (key, pid))


def eof_limit(srv, port, other_port):
    exact = b"e" * (LIMIT - 1) + b"\n"
    with h.connect(port) as bad, h.connect(port) as good, \
            h.connect(other_port) as other:
        rg, ro = lh.Reader(good), lh.Reader(other)
        # The neighbour holds half a message while the bad one is cut off.
        good.sendall(b"first half, ")
        bad.sendall(exact)
        lh.expect(lh.Reader(bad), [exact], "a message of exactly the limit")
        bad.sendall(b"o" * LIMIT + b"\n")
        check(lh.Reader(bad).closed(), "a message over package_max_length "
              "did not close the connection")
        m = srv.wait_log(r"session \d+ \(peer 127\.0\.0\.1:%d\): no "
                         r"package_eof in (\d+) bytes, over "
                         r"package_max_length %d; closing"
                         % (bad.getsockname()[1], LIMIT))
        check(int(m[0].group(1)) >= LIMIT, "logged size %s" % m[0].group(1))
        good.sendall(b"second half\n")
        lh.expect(rg, [b"first half, second half\n"], "neighbour's message")
        other.sendall(struct.pack(">I", 3) + b"abc")
        lh.expect(ro, [struct.pack(">I", 3) + b"abc"], "another listener")


def length_limit(srv, port, other_port):
    exact = struct.pack(">I", LIMIT - 4) + b"L" * (LIMIT - 4)
    with h.connect(port) as bad, h.connect(port) as good, \
            h.connect(other_port) as other:
        rg, ro = lh.Reader(good), lh.Reader(other)
        good.sendall(struct.pack(">I", 10) + b"01234")
        bad.sendall(exact)
        lh.expect(lh.Reader(bad), [exact], "a frame of exactly the limit")
        # Only the header: the server must not wait for 1 MiB to refuse it.
        bad.sendall(struct.pack(">I", 1 << 20))
        check(lh.Reader(bad).closed(), "a header announcing 1 MiB over a "
              "%d-byte limit did not close the connection" % LIMIT)
        srv.wait_log(r"session \d+ \(peer 127\.0\.0\.1:%d\): a message of "
                     r"%d bytes is over package_max_length %d; closing"
                     % (bad.getsockname()[1], (1 << 20) + 4, LIMIT))
        good.sendall(b"56789")
        lh.expect(rg, [struct.pack(">I", 10) + b"0123456789"],
               "neighbour's frame")
        other.sendall(b"still here\n")
        lh.expect(ro, [b"still here\n"], "another listener")


def push(port, results, i):
    """Send up to PUSH_MAX bytes with no delimiter; how many were taken
    before the server cut the connection (None if it never did)."""
    chunk = b"p" * 65536
    sent = 0
    try:
        with socket.create_connection((lh.HOST, port), timeout=20) as s:
            while sent < PUSH_MAX:
                sent += s.send(chunk)
            results[i] = None
            return
    except (ConnectionResetError, BrokenPipeError):
        results[i] = sent
    except OSError as e:
        results[i] = "error %s after %d bytes" % (e, sent)


def memory_bound(srv, port, other_port):
    before = vm_kib(srv.pid, "VmHWM")
    results = [None] * PUSHERS
    threads = [threading.Thread(target=push, args=(port, results, i))
               for i in range(PUSHERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not any(t.is_alive() for t in threads), "a pusher hung")
    h.log("pushers cut off after %s bytes" % results)
    for r in results:
        check(isinstance(r, int), "a client pushing %d MiB with no delimiter "
              "was not cut off: %r" % (PUSH_MAX >> 20, r))
        # What the kernel buffers on both sides, beyond what we read.
        check(r < BIG_LIMIT + (24 << 20), "cut off only after %d bytes" % r)
    after = vm_kib(srv.pid, "VmHWM")
    h.log("master peak memory %d KiB -> %d KiB" % (before, after))
    check(after - before < PUSHERS * (BIG_LIMIT >> 10) + 96 * 1024,
          "master peak memory grew by %d KiB" % (after - before))
    srv.wait_log(r"no package_eof in \d+ bytes, over package_max_length "
                 r"%d; closing" % BIG_LIMIT, count=PUSHERS)
    with h.connect(other_port) as s:
        s.sendall(struct.pack(">I", 2) + b"ok")
        lh.expect(lh.Reader(s), [struct.pack(">I", 2) + b"ok"],
               "served after the pushers")


def memory_returned(srv, port):
    """Connections that each sent one large message and stay open do not
    keep its memory: the input buffer gives it back between messages."""
    conns = 64
    size = BIG_LIMIT - 1
    before = vm_kib(srv.pid, "VmRSS")
    socks = []
    try:
        for _ in range(conns):
            s = h.connect(port)
            socks.append(s)
            s.sendall(b"m" * (size - 1) + b"\n")
            rec = lh.Reader(s).record()
            check(len(rec.data) == size, "a %d-byte message came back as %d"
                  % (size, len(rec.data)))
        after = vm_kib(srv.pid, "VmRSS")
        h.log("master memory with %d idle connections that each sent "
              "%d KiB: %d KiB -> %d KiB" % (conns, size >> 10, before, after))
        # AddressSanitizer keeps freed memory in quarantine: no figure.
        check(h.is_sanitized() or
              after - before < conns * (size >> 10) // 4,
              "%d idle connections keep %d KiB" % (conns, after - before))
    finally:
        for s in socks:
            s.close()


def main():
    eof_l = lh.tcp_listener(open_eof_split=True, package_eof="\n",
                            package_max_length=LIMIT)
    len_l = lh.tcp_listener(open_length_check=True, package_length_type="N",
                            package_body_offset=4, package_max_length=LIMIT)
    big_l = lh.tcp_listener(open_eof_split=True, package_eof="\n",
                            package_max_length=BIG_LIMIT)
    with lh.frame_server("maxlen", [eof_l, len_l, big_l],
                         server={"reactor_num": 2}) as srv:
        srv.start()
        eof_limit(srv, eof_l["port"], len_l["port"])
        length_limit(srv, len_l["port"], eof_l["port"])
        memory_bound(srv, big_l["port"], len_l["port"])
        memory_returned(srv, big_l["port"])
        srv.stop()


if __name__ == "__main__":
    lh.main(main)
