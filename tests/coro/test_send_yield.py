"""test_send_yield.py: a callback that streams 256 MiB with swx_send in a
plain loop, to a client that reads as fast as it can: in a coroutine each
send waits while the worker's channel to the reactor holds more than
1 MiB (Swoole's send_yield, as far as the worker can see), so every byte
arrives, the worker's memory stays bounded (without the wait it queues
the whole stream: its growth is the check that fails), and the worker
answers another client in the middle of the stream.

The reactor still closes a connection whose own output passes
buffer_output_size (a client slower than the worker): the worker has no
notice of that yet, so this test raises it to 64 MiB."""

import threading
import time

from coro_helper import h, ask, check, fields, log, server, SLOW

MB = 256


def main():
    with server("co-send-yield", {"worker_num": 1,
                                   "buffer_output_size": 64 << 20}) as srv:
        srv.start()
        s = h.connect(srv.port, 60)
        s.sendall(b"stream %d\n" % MB)
        got = 0
        pinged = None
        want = MB << 20
        while got < want:
            b = s.recv(1 << 20)
            check(b, "closed after %d of %d bytes" % (got, want))
            got += len(b)
            if pinged is None and got > want // 4:
                t0 = time.monotonic()
                r = ask(srv.port, "ping", timeout=10)
                pinged = time.monotonic() - t0
                check(r.startswith("pong"), "no pong: %r" % r)
        rest = b[len(b) - (got - want):] if got > want else b""
        while not rest.endswith(b"\n"):
            more = s.recv(4096)
            check(more, "closed before the report")
            rest += more
        r = rest.decode().strip()
        log("%r; ping in mid-stream took %.3f s" % (r, pinged))
        f = fields(r)
        check(f.get("rc") == "0" and f["sent"] == str(MB * 16),
              "the stream failed: %r" % r)
        growth = int(f["growth"])
        # ASan's allocator keeps freed memory in quarantine: RSS says
        # nothing there.
        check(SLOW or growth < 64 << 20, "the worker grew by %d MiB while "
              "streaming" % (growth >> 20))
        check(pinged < 2.0, "the worker did not answer in mid-stream")
        s.close()
        srv.stop()


h.main(main)
