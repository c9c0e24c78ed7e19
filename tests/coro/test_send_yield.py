"""test_send_yield.py: a callback that streams 256 MiB with swx_send in a
plain loop, to a client that reads at about 200 MB/s, slower than the
worker sends, with the default buffer_output_size (2 MiB): in a
coroutine each send waits while the worker's channel to the reactor
holds more than 1 MiB, and while the connection's output is over
buffer_high_watermark (the reactor's IPC_OUTPUT_FULL, until
IPC_OUTPUT_DRAINED; in base mode the engine's own notice): Swoole's
send_yield. So every byte arrives (without the connection's notices the
reactor closes the connection past buffer_output_size: the "closed after"
check fails), the worker's memory stays bounded (without any wait it
queues the whole stream), and the worker answers another client in the
middle of the stream."""

import threading
import time

from coro_helper import h, ask, check, fields, log, server, SLOW

MB = 256
RATE = 200 << 20  # bytes a second the client takes


def main():
    with server("co-send-yield", {"worker_num": 1}) as srv:
        srv.start()
        s = h.connect(srv.port, 60)
        s.sendall(b"stream %d\n" % MB)
        got = 0
        pinged = None
        want = MB << 20
        t0 = time.monotonic()
        while got < want:
            b = s.recv(1 << 20)
            check(b, "closed after %d of %d bytes" % (got, want))
            got += len(b)
            ahead = got / RATE - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
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
