"""test_rude_clients.py: clients that reset their connections at awkward
moments (mid-request, mid-reply, mid-collect, right after connecting) do not
hurt the server: it keeps serving others correctly, stops cleanly, and the
sanitizer build reports nothing."""

import socket
import struct
import threading
import time

import swx_harness as h

DURATION = 2.0
THREADS = 4


def reset(sock):
    """Close with RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


ANTICS = [
    b"",                                  # connect and reset
    b"half a li",                          # mid-line
    b"big 1000000\n",                      # reset while the reply flows
    b"collect 100000\n" + b"x" * 5000,     # mid-collect
    b"sleep 5 LATE\n",                     # reply after the reset
    b"close\n",                            # server closes, client resets
    b"pid\n" * 50,                         # many requests, no reading
]


def rude(port, idx, stop, counts):
    n = 0
    while not stop.is_set():
        antic = ANTICS[(idx + n) % len(ANTICS)]
        n += 1
        try:
            s = h.connect(port, timeout=5)
            if antic:
                s.sendall(antic)
            if n % 3 == 0:
                s.settimeout(0.05)
                try:
                    s.recv(1000)   # read a little of whatever comes
                except OSError:
                    pass
            reset(s)
        except OSError:
            pass   # the server may close first: that is fine
        counts[idx] = n


def polite(port, stop, errors, done):
    try:
        with h.connect(port, timeout=20) as s:
            while not stop.is_set():
                msg = b"polite %d\n" % done[0]
                got = h.request(s, msg)
                h.check(got == msg, "polite client got %r for %r"
                        % (got, msg))
                done[0] += 1
    except Exception as e:  # noqa: BLE001 -- judged by the main thread
        errors.append(repr(e))


def main():
    probe = {"name": "probe", "path": h.PROBE}
    for mode in (2, 3):
        with h.Server("rude%d" % mode,
                      server={"worker_num": 2, "reactor_num": 2,
                              "dispatch_mode": mode},
                      plugins=[probe]) as srv:
            srv.start()
            stop = threading.Event()
            counts = [0] * THREADS
            errors, done = [], [0]
            threads = [threading.Thread(target=rude,
                                        args=(srv.port, i, stop, counts),
                                        daemon=True)
                       for i in range(THREADS)]
            threads.append(threading.Thread(
                target=polite, args=(srv.port, stop, errors, done),
                daemon=True))
            for t in threads:
                t.start()
            t0 = time.monotonic()
            h.wait_until(lambda: (time.monotonic() - t0 >= DURATION
                                  and sum(counts) >= 100) or errors,
                         60, interval=0.05, what="the rude clients")
            stop.set()
            for t in threads:
                t.join(30)
            h.check(not any(t.is_alive() for t in threads), "clients hung")
            h.check(not errors, "a polite client failed: %s" % errors)
            h.log("mode %d: %d rude connections, %d polite requests"
                  % (mode, sum(counts), done[0]))
            # Still fully working: a big reply and an echo, on new
            # connections.
            with h.connect(srv.port, timeout=30) as s:
                s.sendall(b"big 1000000\n")
                h.check(h.recv_exact(s, 1000000) == h.pattern(1000000),
                        "big reply after the rude clients")
                h.check(h.request(s, b"fine\n") == b"fine\n", "echo")
            h.check(h.alive(srv.pid), "master died")
            h.check("killed by signal" not in srv.log_text(),
                    "a worker crashed")
            srv.stop()


if __name__ == "__main__":
    h.main(main)
