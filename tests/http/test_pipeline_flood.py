"""test_pipeline_flood.py: one connection floods the server with pipelined
requests, 2000 per write, for a few seconds. What the master buffers for
it stays bounded: its RSS grows by at most a few MiB, whether the client
reads its responses or not. A client that reads them gets every one, in
order (each carries its own number), and other clients are served as
before while the flood runs.

  reading      the flooding client reads its responses as they come
  not reading  it never reads: the server stops taking its requests once
               its output is full, and the master stays small"""

import socket
import threading
import time

import http_helper as hh

check = hh.check
h = hh.h

PER_WRITE = 2000
SECONDS = 3.0
# What the master may grow by under the flood (its read-ahead and output
# buffers, allocator slack); unbounded buffering reached hundreds of MiB
# within a second.
GROWTH_KIB = 16 * 1024


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def batch(first):
    return b"".join(b"GET /echo?%d HTTP/1.1\r\nHost: x\r\n\r\n" % (first + i)
                    for i in range(PER_WRITE))


class Flood(threading.Thread):
    """Writes batches for SECONDS; with read_back, a second thread reads
    and checks the responses (their X-Query numbers run 0, 1, 2, ...)."""

    def __init__(self, port, read_back):
        super().__init__(daemon=True)
        self.sock = hh.connect(port)
        self.read_back = read_back
        self.sent = 0
        self.answered = 0
        self.error = None
        self.done_writing = threading.Event()

    def run(self):
        reader = None
        if self.read_back:
            reader = threading.Thread(target=self.read_all, daemon=True)
            reader.start()
        deadline = time.monotonic() + SECONDS
        self.sock.settimeout(0.5)
        try:
            while time.monotonic() < deadline:
                data = batch(self.sent)
                try:
                    self.sock.sendall(data)
                except socket.timeout:
                    break  # the server stopped taking requests
                self.sent += PER_WRITE
        except OSError as e:
            self.error = "write: %s" % e
        self.done_writing.set()
        if reader is not None:
            reader.join(60)

    def read_all(self):
        self.sock.settimeout(30)
        r = hh.Reader(self.sock)
        try:
            while not (self.done_writing.is_set()
                       and self.answered >= self.sent):
                resp = r.response()
                want = str(self.answered)
                if resp.status != 200 or resp.header("x-query") != want:
                    self.error = "response %d: %r" % (self.answered, resp)
                    return
                self.answered += 1
        except (OSError, EOFError) as e:
            self.error = "read after %d responses: %s" % (self.answered, e)


def watch_rss(pid, flood):
    peak = rss_kib(pid)
    while flood.is_alive():
        peak = max(peak, rss_kib(pid))
        time.sleep(0.05)
    return peak


def bystander_ok(port):
    """Another client is served while the flood runs."""
    resp = hh.exchange(port, hh.get(port, "/echo?other"), timeout=10)
    return resp.status == 200 and resp.header("x-query") == "other"


def flood_once(srv, read_back):
    base = rss_kib(srv.pid)
    f = Flood(srv.port, read_back)
    f.start()
    time.sleep(0.5)
    check(bystander_ok(srv.port), "another client was not served")
    peak = watch_rss(srv.pid, f)
    f.join(90)
    grown = peak - base
    h.log("%s: %d requests sent, %d answered, master RSS %d -> %d KiB "
          "(peak +%d KiB)" % ("reading" if read_back else "not reading",
                              f.sent, f.answered, base, peak, grown))
    check(grown <= GROWTH_KIB, "the master grew by %d KiB under the flood"
          % grown)
    if read_back:
        check(f.error is None, f.error or "")
        check(f.answered == f.sent and f.sent >= PER_WRITE,
              "%d of %d requests answered" % (f.answered, f.sent))
    f.sock.close()
    h.wait_until(lambda: bystander_ok(srv.port), 10, what="service after "
                 "the flood")


def test():
    with hh.HttpServer("pipeline_flood") as srv:
        srv.start()
        flood_once(srv, read_back=True)
        flood_once(srv, read_back=False)
        srv.stop()
        srv.check_log_clean()


if __name__ == "__main__":
    h.main(test)
