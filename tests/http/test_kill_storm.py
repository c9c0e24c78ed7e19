"""test_kill_storm.py: an operator SIGKILLs workers twenty times, about
300 ms apart, under keep-alive HTTP load with two workers. A kill from
outside says nothing about the next start, so no back-off may follow:

- no back-off is logged, and each killed worker is replaced at once
  (its slot has a new process well within a second);
- every request is answered within 2 s: 200, or 502 when the killed
  process itself had it (then the client reconnects);
- there is never more than 2 s without a successful response;
- afterwards both workers serve, and the server stops cleanly.

Only workers that have finished starting (their "started" line is in
the log) are killed: a process killed while it is still starting counts
as a start failure."""

import os
import re
import signal
import threading
import time

import http_helper as hh

check = hh.check
WORKERS = 2
CLIENTS = 6
KILLS = 20
ANSWER_WITHIN = 2.0
MAX_OUTAGE = 2.0
REPLACED_WITHIN = 1.0


class Client(threading.Thread):
    """Keep-alive GETs of /worker, one at a time; every answer's delay and
    the time of every 200 are recorded."""

    def __init__(self, port, n, oks, lock):
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.oks, self.lock = oks, lock
        self.ok = self.bad_gateway = 0
        self.slowest = 0.0
        self.error = None
        self.stop = threading.Event()

    def one(self, sock, reader):
        t0 = time.monotonic()
        sock.sendall(hh.get(self.port, "/worker"))
        r = reader.response()
        took = time.monotonic() - t0
        self.slowest = max(self.slowest, took)
        check(took < ANSWER_WITHIN, "client %d: answered after %.2f s: %r"
              % (self.n, took, r))
        check(r.status in (200, 502), "client %d: %r" % (self.n, r))
        if r.status == 200:
            with self.lock:
                self.oks.append(time.monotonic())
        return r.status

    def run(self):
        try:
            while not self.stop.is_set():
                with hh.connect(self.port, timeout=ANSWER_WITHIN + 5) as s:
                    reader = hh.Reader(s)
                    while not self.stop.is_set():
                        if self.one(s, reader) == 502:
                            self.bad_gateway += 1
                            break   # closed after the 502: reconnect
                        self.ok += 1
                        time.sleep(0.002)
        except Exception as e:  # noqa: B902 -- reported by the main thread
            self.error = e


def started(srv, pid):
    return re.search(r"\] %d worker \d+: started$" % pid, srv.log_text(),
                     re.M) is not None


def kill_one(srv, slot):
    """SIGKILL slot's worker once it has started; how long until the
    slot had a new process."""
    victim = hh.h.wait_until(lambda: srv.workers().get(slot), 10,
                             what="worker %d" % slot)
    hh.h.wait_until(lambda: started(srv, victim), 10,
                    what="worker %d (pid %d) to finish starting"
                    % (slot, victim))
    srv.note([victim])
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    hh.h.wait_until(lambda: srv.workers().get(slot) not in (None, victim),
                    10, interval=0.005, what="worker %d replaced" % slot)
    return time.monotonic() - t0


def longest_gap(stamps, t_from, t_to):
    points = [t_from] + sorted(t for t in stamps if t_from <= t <= t_to) \
        + [t_to]
    return max(b - a for a, b in zip(points, points[1:]))


def main():
    hh.h.process_mode_only(
        "connections survive killed workers only in process mode")
    with hh.HttpServer("kill-storm", listener={"http_response_timeout": 60},
                       server={"worker_num": WORKERS,
                               "log_level": "debug"}) as srv:
        srv.start()
        oks, lock = [], threading.Lock()
        clients = [Client(srv.port, n, oks, lock) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        hh.h.wait_until(lambda: all(c.ok >= 5 or c.error for c in clients),
                        30, what="every client under way")
        t_begin = time.monotonic()
        replaced = []
        for k in range(KILLS):
            replaced.append(kill_one(srv, k % WORKERS))
            time.sleep(0.3)
        t_end = time.monotonic()
        time.sleep(0.5)
        hh.stop_clients(clients, ANSWER_WITHIN + 10)
        ok = sum(c.ok for c in clients)
        bad = sum(c.bad_gateway for c in clients)
        gap = longest_gap(oks, t_begin, t_end)
        hh.h.log("%d kills in %.1f s; replaced after %.0f..%.0f ms; %d "
                 "answered 200, %d 502 (inside a killed process); slowest "
                 "answer %.2f s; longest time without a 200 %.2f s"
                 % (KILLS, t_end - t_begin, 1000 * min(replaced),
                    1000 * max(replaced), ok, bad,
                    max(c.slowest for c in clients), gap))
        text = srv.log_text()
        backoff = re.findall(r".*(?:failed \d+ time\(s\) in a row|is backing "
                             r"off).*", text)
        check(not backoff, "back-off after kills from outside: %s"
              % backoff[:3])
        check(max(replaced) < REPLACED_WITHIN, "a killed worker was replaced "
              "only after %.2f s" % max(replaced))
        check(gap < MAX_OUTAGE, "%.2f s without a successful response" % gap)
        check(ok > 100, "only %d requests served" % ok)
        srv.wait_workers(WORKERS)
        # Connections kept open, so that their fds (and workers) differ.
        socks, seen = [], set()
        try:
            for _ in range(2 * WORKERS):
                s = hh.connect(srv.port)
                socks.append(s)
                s.sendall(hh.get(srv.port, "/worker"))
                r = hh.Reader(s).response()
                check(r.status == 200, "after the kills: %r" % r)
                seen.add(r.body)
        finally:
            for s in socks:
                s.close()
        check(len(seen) == WORKERS, "after the kills, answered by %s" % seen)
        srv.stop()
        # The manager writes what its rate limit held back by its exit.
        check(hh.h.count_logged(srv.log_text(), r"killed by signal 9")
              >= KILLS, "not every kill was logged")


if __name__ == "__main__":
    hh.main(main)
