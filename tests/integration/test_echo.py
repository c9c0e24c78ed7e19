"""test_echo.py: the echo plugin returns every message intact, 1 B to 1 MiB,
on several connections at once; the probe echoes lines the same way."""

import os
import threading

import swx_harness as h

SIZES = [1, 2, 10, 100, 1000, 4096, 65535, 65536, 65537, 200000, 1 << 20]


def echo_session(port, seed, errors):
    try:
        with h.connect(port, timeout=60) as s:
            for i, size in enumerate(SIZES):
                msg = os.urandom(size)
                # Send from another thread: a 1 MiB message does not fit the
                # socket buffers, and the echo comes back while we send.
                t = threading.Thread(target=s.sendall, args=(msg,))
                t.start()
                got = h.recv_exact(s, size)
                t.join()
                h.check(got == msg, "connection %d: message %d (%d bytes) "
                        "came back different" % (seed, i, size))
    except Exception as e:  # noqa: BLE001 -- reported by the main thread
        errors.append("connection %d: %r" % (seed, e))


def test_echo_plugin():
    with h.Server("echo", server={"worker_num": 2, "reactor_num": 2}) as srv:
        srv.start()
        errors = []
        threads = [threading.Thread(target=echo_session,
                                    args=(srv.port, i, errors))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        h.check(not any(t.is_alive() for t in threads), "clients hung")
        h.check(not errors, "echo errors: %s" % errors)
        srv.stop()


def test_probe_lines():
    probe = {"name": "probe", "path": h.PROBE}
    with h.Server("echo-probe", server={"worker_num": 2},
                  plugins=[probe]) as srv:
        srv.start()
        with h.connect(srv.port) as a, h.connect(srv.port) as b:
            for size in (1, 100, 70000, 1 << 20):
                line = h.pattern(size).replace(b"\n", b"x") + b"\n"
                for s in (a, b):
                    t = threading.Thread(target=s.sendall, args=(line,))
                    t.start()
                    got = h.recv_exact(s, len(line))
                    t.join()
                    h.check(got == line, "probe echo of %d bytes differs"
                            % len(line))
            # A line split over several writes is still one line.
            a.sendall(b"hel")
            a.sendall(b"lo ")
            a.sendall(b"world\n")
            h.check(h.recv_line(a) == b"hello world\n", "split line")
        srv.stop()


def main():
    test_echo_plugin()
    test_probe_lines()


if __name__ == "__main__":
    h.main(main)
