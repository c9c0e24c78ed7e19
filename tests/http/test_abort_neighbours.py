"""test_abort_neighbours.py: a client hits an endpoint that aborts its
worker (abort() in on_request), again and again, with dispatch_mode 2
and two workers. A worker that took an event and then died is replaced at
once, however soon after its start, so the other clients of that worker
are not held up by a back-off:

- every /abort gets 502 within 2 s (the process died with it);
- every other client, on either worker, is answered 200 within 2 s, all
  along;
- no back-off is logged, and the server stops cleanly."""

import re
import threading
import time

import http_helper as hh

check = hh.check
WORKERS = 2
CLIENTS = 6
ABORTS = 12
ANSWER_WITHIN = 2.0


class Client(threading.Thread):
    """One keep-alive connection, GET /worker in a loop."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.ok = 0
        self.worker = None
        self.slowest = 0.0
        self.error = None
        self.stop = threading.Event()

    def run(self):
        try:
            with hh.connect(self.port, timeout=ANSWER_WITHIN + 5) as s:
                reader = hh.Reader(s)
                while not self.stop.is_set():
                    t0 = time.monotonic()
                    s.sendall(hh.get(self.port, "/worker"))
                    r = reader.response()
                    took = time.monotonic() - t0
                    self.slowest = max(self.slowest, took)
                    check(r.status == 200, "client %d: %r" % (self.n, r))
                    check(took < ANSWER_WITHIN, "client %d (worker %s): "
                          "answered after %.2f s" % (self.n, r.body, took))
                    self.worker = r.body
                    self.ok += 1
                    time.sleep(0.005)
        except Exception as e:  # noqa: B902 -- reported by the main thread
            self.error = e


def abort_once(port):
    """One /abort on a new connection: 502, within the bound."""
    t0 = time.monotonic()
    r = hh.exchange(port, hh.get(port, "/abort"), timeout=ANSWER_WITHIN + 5)
    took = time.monotonic() - t0
    check(r.status == 502, "/abort got %r" % r)
    check(took < ANSWER_WITHIN, "/abort answered after %.2f s" % took)
    return took


def main():
    hh.h.process_mode_only(
        "connections survive their worker's abort only in process mode")
    with hh.HttpServer("abort-neighbours",
                       listener={"http_response_timeout": 60},
                       server={"worker_num": WORKERS}) as srv:
        srv.start()
        clients = [Client(srv.port, n) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        hh.h.wait_until(lambda: all(c.ok >= 5 or c.error for c in clients),
                        30, what="every client under way")
        workers = {c.worker for c in clients}
        took = []
        for _ in range(ABORTS):
            took.append(abort_once(srv.port))
            time.sleep(0.2)
            check(all(c.error is None for c in clients),
                  "a client failed: %s"
                  % [c.error for c in clients if c.error][:1])
        marks = [c.ok for c in clients]
        hh.h.wait_until(lambda: all(c.ok > m or c.error for c, m in
                                    zip(clients, marks)), 10,
                        what="every client served after the aborts")
        hh.stop_clients(clients, ANSWER_WITHIN + 10)
        hh.h.log("clients on workers %s; %d aborts answered 502 in %.0f.."
                 "%.0f ms; %d requests answered 200, the slowest after "
                 "%.2f s" % (sorted(workers), ABORTS, 1000 * min(took),
                             1000 * max(took), sum(c.ok for c in clients),
                             max(c.slowest for c in clients)))
        check(len(workers) == WORKERS, "the clients were all on %s" % workers)
        text = srv.log_text()
        check(len(re.findall(r"killed by signal 6", text)) == ABORTS,
              "not every abort was logged")
        backoff = re.findall(r".*failed \d+ time\(s\) in a row.*", text)
        check(not backoff, "back-off after crashes while serving: %s"
              % backoff[:3])
        srv.wait_workers(WORKERS)
        srv.stop(expected=("AddressSanitizer: ABRT", "AddressSanitizer: "
                           "SEGV"))


if __name__ == "__main__":
    hh.main(main)
