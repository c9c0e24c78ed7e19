"""test_http_stream.py: issue 13's "1 GB HTTP stream to a client that reads
slowly, with the worker's RSS bounded": an on_request handler writes 1 GiB
with swx_http_write in a plain loop of 64 KiB writes; the client reads it
at about 100 MB/s (far below what the server could send), while this test
samples the worker's and the master's VmRSS. In a coroutine each write
waits while the connection's output is over buffer_high_watermark (half
of buffer_output_size, 1 MiB), until it is back at buffer_low_watermark
(Swoole's send_yield), so the whole body arrives and neither process
grows by more than a few MiB.

Both modes. In base mode the worker owns the connection and waits on its
output. In process mode the reactor tells the worker (IPC_OUTPUT_FULL,
IPC_OUTPUT_DRAINED); without those notices the worker streams as fast as
its channel takes it, the reactor queues what the client has not read,
and closes the connection past buffer_output_size (the "arrived" check
fails), or, were the cap large, the master grows (the master's check)."""

import threading
import time

from cofile_helper import h, check, log, server, worker_pid, SLOW

MB = 1024
RATE = 100 << 20  # bytes a second the client takes


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
    return 0


def sample(pid, out, stop):
    while not stop.is_set():
        out.append(rss(pid))
        time.sleep(0.1)


def read_slowly(s, want):
    """Read the body at about RATE; the bytes read."""
    got, t0 = 0, time.monotonic()
    while True:
        b = s.recv(1 << 20)
        if not b:
            return got
        got += len(b)
        ahead = got / RATE - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)


def main():
    with server("http-stream", {"worker_num": 1, "log_level": "notice"},
                http=True) as srv:
        srv.start()
        pid = worker_pid(srv)
        before = rss(pid)
        mpid = srv.pid
        mbefore = rss(mpid)
        s = h.connect(srv.http_port, 60)
        s.sendall(("GET /stream?mb=%d HTTP/1.1\r\nHost: t\r\n"
                   "Connection: close\r\n\r\n" % MB).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = s.recv(4096)
            check(b, "closed before the head")
            head += b
        head, _, rest = head.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200"), "status: %r" % head[:40])
        samples, msamples, stop = [], [], threading.Event()
        t = threading.Thread(target=sample, args=(pid, samples, stop))
        t.start()
        mt = threading.Thread(target=sample, args=(mpid, msamples, stop))
        mt.start()
        t0 = time.monotonic()
        try:
            got = len(rest) + read_slowly(s, MB << 20)
        finally:
            stop.set()
            t.join()
            mt.join()
        took = time.monotonic() - t0
        s.close()
        growth = max(samples) - before
        mgrowth = max(msamples) - mbefore
        log("%d MiB in %.1f s (%.0f MB/s); worker RSS %d MiB before, "
            "peak %d MiB; master RSS %d MiB before, peak %d MiB"
            % (got >> 20, took, got / took / 1e6, before >> 20,
               max(samples) >> 20, mbefore >> 20, max(msamples) >> 20))
        # Chunked encoding adds a few bytes per write.
        check(got >= MB << 20, "%d of %d bytes arrived" % (got, MB << 20))
        srv.wait_log(r"cofile: stream rc=0 chunks=%d of %d"
                     % (MB * 16, MB * 16), timeout=10)
        # ASan's allocator keeps freed memory in quarantine: RSS says
        # nothing there.
        check(SLOW or growth < 64 << 20, "the worker grew by %d MiB while "
              "streaming" % (growth >> 20))
        check(SLOW or mgrowth < 64 << 20, "the master grew by %d MiB while "
              "streaming" % (mgrowth >> 20))
        srv.stop()


h.main(main)
