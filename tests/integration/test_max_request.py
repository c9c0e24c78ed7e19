"""test_max_request.py: with max_request 50 (and no max_request_grace, so
exactly 50), workers are recycled under
continuous load and not one request goes unanswered: messages queued for an
exiting worker wait in its channel for the replacement.

Persistent connections loop request/response; another thread keeps opening
new connections. Every reply must match its request."""

import socket
import threading
import time

import swx_harness as h

MAX_REQUEST = 50
WORKERS = 2
PERSISTENT = 4
DURATION = 4.0          # seconds of load
MIN_REQUESTS = 600      # and at least this many, whatever the speed


class Load(threading.Thread):
    def __init__(self, port, idx, fresh, stop):
        super().__init__(daemon=True)
        self.port, self.idx, self.fresh, self.stop = port, idx, fresh, stop
        self.done = 0
        self.pids = set()
        self.error = None

    def exchange(self, s, n):
        if n % 10 == 0:
            self.pids.add(h.ask_pid(s)[1])
        else:
            msg = b"load %d request %d\n" % (self.idx, n)
            got = h.request(s, msg)
            h.check(got == msg, "load %d: got %r for %r"
                    % (self.idx, got, msg))
        self.done += 1

    def run(self):
        try:
            if self.fresh:
                while not self.stop.is_set():
                    with h.connect(self.port, timeout=20) as s:
                        for _ in range(3):
                            self.exchange(s, self.done)
            else:
                with h.connect(self.port, timeout=20) as s:
                    while not self.stop.is_set():
                        self.exchange(s, self.done)
        except socket.timeout:
            self.error = "request %d got no reply within 20 s" % self.done
        except Exception as e:  # noqa: BLE001 -- judged by the main thread
            self.error = repr(e)


def main():
    h.process_mode_only(
        "persistent raw TCP connections are served by a fresh worker after max_request only in process mode; a base-mode worker serves its own connections to the end (test_base_reload covers max_request there)")
    probe = {"name": "probe", "path": h.PROBE}
    with h.Server("maxreq", server={"worker_num": WORKERS, "reactor_num": 2,
                                    "max_request": MAX_REQUEST,
                                    "max_request_grace": 0},
                  plugins=[probe]) as srv:
        srv.start()
        first = srv.workers()
        pids_seen = set(first.values())
        stop = threading.Event()
        loads = [Load(srv.port, i, i == PERSISTENT, stop)
                 for i in range(PERSISTENT + 1)]
        t0 = time.monotonic()
        for t in loads:
            t.start()

        def enough():
            pids_seen.update(srv.workers().values())
            total = sum(t.done for t in loads)
            return ((time.monotonic() - t0 >= DURATION
                     and total >= MIN_REQUESTS)
                    or any(t.error for t in loads)
                    or not any(t.is_alive() for t in loads))
        h.wait_until(enough, 100, interval=0.05, what="the load to finish")
        stop.set()
        for t in loads:
            t.join(30)
        h.check(not any(t.is_alive() for t in loads), "clients hung")
        total = sum(t.done for t in loads)
        errors = ["client %d: %s" % (t.idx, t.error) for t in loads
                  if t.error]
        h.check(not errors, "failed requests: %s" % errors)
        for t in loads:
            pids_seen.update(t.pids)
        starts = len(srv.wait_log(r"probe: worker \d+ \(pid \d+\) starting",
                                  count=WORKERS))
        exits = len(srv.wait_log(r"max_request \(%d\) reached; exiting"
                                 % MAX_REQUEST, count=1))
        h.log("%d requests in %.1f s; %d worker pids seen, %d worker starts, "
              "%d max_request exits" % (total, time.monotonic() - t0,
                                        len(pids_seen), starts, exits))
        # Every request is one on_receive; each worker life takes at most 50.
        h.check(starts >= total // MAX_REQUEST,
                "%d requests but only %d worker starts" % (total, starts))
        h.check(len(pids_seen) > WORKERS + 2, "workers were not replaced: "
                "pids %s" % sorted(pids_seen))
        h.check("exited with status" not in srv.log_text(),
                "a worker exited abnormally")
        srv.stop()


if __name__ == "__main__":
    h.main(main)
