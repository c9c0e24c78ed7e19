"""test_chaos.py: under continuous load (8 client threads, one persistent
connection each), SIGKILL a random worker process (serving, standby or
retiring) every 200-400 ms, twenty times, with five reloads interleaved.

What must hold:
- no reply is wrong, and no connection breaks (workers never own client
  connections) except one whose worker is backing off, which the server
  closes with a log line naming it;
- a request may be lost only when it was inside a worker that was killed:
  each lost request (no reply within the client timeout) must have a kill
  between its sending and its timeout; they are counted and printed, and
  there can be at most one per client per kill;
- afterwards the master has exactly one child, the manager, and the manager
  exactly worker_num live workers (no leftover, no zombie); a reload still
  completes; every client's requests succeed again, and a fresh round of
  requests on new connections from every client succeeds 100%;
- the server stops cleanly.

A worker killed after it started is replaced at once; one killed while
still starting counts as a start failure and its slot backs off (100 ms,
then doubling while that repeats). Its clients do not wait for that: their
connections are closed (and the client reconnects). A request sent to a
replacement may be late; it counts as lost only when it is still
unanswered after the server has been steady for a few seconds."""

import os
import random
import re
import signal
import socket
import threading
import time

from ops_helper import h
import ops_helper as o

WORKERS = 4
CLIENTS = 8
KILLS = 20
RELOADS = 5
# Seconds of steady service after which an unanswered request is lost.
GRACE = 10.0 if o.SLOW else 5.0
ABANDON = 100.0


CLOSED = object()


class Client(threading.Thread):
    """One persistent connection at a time, one request at a time. A reply
    may be late; a request is declared lost only once the server has been
    steady (every worker up) for GRACE seconds and it is still unanswered:
    it was inside a worker that was killed. A connection the server closes
    because its worker is backing off is counted. The client then
    reconnects."""

    def __init__(self, port, idx, stop, steady_since, backoff_closed):
        super().__init__(daemon=True)
        self.port, self.idx, self.stop = port, idx, stop
        self.steady_since = steady_since   # [monotonic time] once steady
        self.backoff_closed = backoff_closed  # (local port) -> bool
        self.lock = threading.Lock()
        self.ok = 0
        self.lost = []      # (sent at, given up at, request)
        self.closed = 0     # closed by the server during a back-off
        self.errors = []    # anything else: wrong reply, broken connection

    def count(self):
        with self.lock:
            return self.ok

    def reply(self, s, t0, pending):
        """The reply line, None when the request is lost, or CLOSED."""
        buf = bytearray(pending)
        while not buf.endswith(b"\n"):
            try:
                b = s.recv(4096)
            except socket.timeout:
                since = self.steady_since[0] if self.steady_since else None
                now = time.monotonic()
                if (since is not None and now - max(since, t0) > GRACE) or \
                        now - t0 > ABANDON:
                    return None
                continue
            if not b:
                return CLOSED
            buf += b
        return bytes(buf)

    def session(self):
        """Requests on one connection until told to stop, a request is
        lost or a back-off closed it; True when the client should go on."""
        with h.connect(self.port, timeout=30) as s:
            s.settimeout(0.5)
            while not self.stop.is_set():
                msg = b"client %d request %d\n" % (self.idx, self.ok)
                t0 = time.monotonic()
                try:
                    s.sendall(msg)
                    got = self.reply(s, t0, b"")
                except (ConnectionResetError, BrokenPipeError):
                    got = CLOSED
                if got is CLOSED:
                    if not self.backoff_closed(s.getsockname()[1]):
                        self.errors.append("after %d requests: connection "
                                           "closed by the server" % self.ok)
                        return False
                    self.closed += 1
                    return True
                if got is None:
                    self.lost.append((t0, time.monotonic(), msg))
                    return True
                m = re.match(rb"v(\d):(\d+):", got)
                if m is None or got[m.end():] != msg:
                    self.errors.append("got %r for %r" % (got, msg))
                    return False
                with self.lock:
                    self.ok += 1
                time.sleep(0.002)
        return False

    def run(self):
        try:
            while not self.stop.is_set():
                if not self.session():
                    return
        except (OSError, h.TestFailure) as e:
            self.errors.append("after %d requests: %r" % (self.ok, e))


def worker_pids(srv):
    return [p for p, title, state in o.worker_procs(srv)
            if title.startswith("swx-server: worker") and state != "Z"]


def chaos(srv, app, rng):
    """The kills and reloads; the kill times."""
    kill_times = []
    reload_at = set(rng.sample(range(1, KILLS), RELOADS))
    version = 1
    for k in range(KILLS):
        time.sleep(rng.uniform(0.2, 0.4))
        if k in reload_at:
            version = 3 - version
            o.install(o.V1 if version == 1 else o.V2, app)
            os.kill(srv.pid, signal.SIGUSR1)
        victims = worker_pids(srv)
        deadline = time.monotonic() + 30
        while not victims:   # every slot is waiting out its back-off
            o.check(time.monotonic() < deadline, "no worker for 30 s")
            time.sleep(0.05)
            victims = worker_pids(srv)
        victim = rng.choice(victims)
        kill_times.append(time.monotonic())
        o.kill_quietly(victim)
    return kill_times


def steady(srv):
    """The manager has exactly WORKERS live workers and no other child, the
    master only the manager, nobody is a zombie, and no reload is under
    way."""
    mgr = srv.manager_pid()
    if mgr is None or h.children_of(srv.pid) != [mgr]:
        return False
    procs = o.worker_procs(srv)
    if len(procs) != WORKERS or any(st == "Z" for _, _, st in procs):
        return False
    if any(not t.startswith("swx-server: worker") for _, t, _ in procs):
        return False
    text = srv.log_text()
    started = len(re.findall(r"reload: starting", text))
    ended = len(re.findall(r"reload done|reload failed", text))
    return started == ended and len(srv.workers()) == WORKERS


def main():
    h.process_mode_only(
        "connections survive a killed worker only in process mode; in base mode they die with it (test_base_kill covers that)")
    o.require(o.V1, o.V2)
    seed = int(os.environ.get("SWX_CHAOS_SEED", time.time_ns() % 100000))
    rng = random.Random(seed)
    h.log("seed %d (SWX_CHAOS_SEED=%d to repeat)" % (seed, seed))
    with o.Server("chaos", server={"worker_num": WORKERS, "reactor_num": 2,
                                   "max_wait_time": 3}) as srv:
        app = os.path.join(srv.dir, "app.so")
        o.install(o.V1, app)
        srv.plugins = [{"name": "app", "path": app,
                        "config": {"with_pid": True}}]
        srv.write_config()
        srv.start()
        stop = threading.Event()
        steady_since = []

        def backoff_closed(port):
            """The server logged that it closed this client's connection
            because its worker is backing off."""
            rx = re.compile(r"\(peer 127\.0\.0\.1:%d\): worker \d+ is "
                            r"backing off after failures" % port)
            try:
                h.wait_until(lambda: rx.search(srv.log_text()), 5,
                             what="the back-off close of port %d" % port)
                return True
            except h.TestFailure:
                return False
        clients = [Client(srv.port, i, stop, steady_since, backoff_closed)
                   for i in range(CLIENTS)]
        for c in clients:
            c.start()
        h.wait_until(lambda: all(c.count() >= 20 or c.errors
                                 for c in clients), 60,
                     what="every client to be under way")

        t_begin = time.monotonic()
        kill_times = chaos(srv, app, rng)
        h.log("%d kills and %d reloads in %.1f s"
              % (KILLS, RELOADS, time.monotonic() - t_begin))

        h.wait_until(lambda: steady(srv), 60, interval=0.1,
                     what="%d workers, no zombie, no reload under way"
                     % WORKERS)
        steady_since.append(time.monotonic())
        h.log("steady %.1f s after the chaos ended"
              % (steady_since[0] - t_begin - (kill_times[-1] - t_begin)))
        text = srv.log_text()
        h.log("reloads: %d done, %d failed, %d ignored; workers now %s"
              % (len(re.findall(r"reload done", text)),
                 len(re.findall(r"reload failed", text)),
                 len(re.findall(r"reload requested while", text)),
                 sorted(srv.workers().values())))

        # The manager is not wedged: one more reload completes.
        done = len(re.findall(r"reload done", text))
        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"reload done", count=done + 1, timeout=60)
        h.wait_until(lambda: steady(srv), 60, interval=0.1,
                     what="steady after the last reload")

        # Every client is served again.
        marks = [c.count() for c in clients]
        h.wait_until(lambda: all(c.count() >= m + 20 or c.errors or
                                 not c.is_alive()
                                 for c, m in zip(clients, marks)),
                     GRACE + 60, what="every client to make progress")
        stop.set()
        for c in clients:
            c.join(30)
        o.check(not any(c.is_alive() for c in clients), "clients hung")

        lost = [(c.idx,) + x for c in clients for x in c.lost]
        h.log("%d requests answered; %d connections closed during a "
              "back-off; %d lost:" % (sum(c.ok for c in clients),
                                      sum(c.closed for c in clients),
                                      len(lost)))
        for idx, t0, t1, msg in lost:
            near = [round(k - t0, 2) for k in kill_times
                    if t0 - 0.05 <= k <= t1]
            h.log("  client %d: %r sent at +%.2f s; kills %s s after it"
                  % (idx, msg, t0 - t_begin, near[:3]))
            o.check(near, "client %d lost %r, but no worker was killed "
                    "after it was sent" % (idx, msg))
        errors = ["client %d: %s" % (c.idx, e) for c in clients
                  for e in c.errors]
        o.check(not errors, "wrong replies or broken connections: %s"
                % errors)
        o.check(len(lost) <= KILLS * CLIENTS, "too many lost requests")

        # A fresh round on new connections: 100%.
        for c in clients:
            with h.connect(srv.port, timeout=30) as s:
                for k in range(20):
                    msg = b"fresh %d %d\n" % (c.idx, k)
                    got = h.request(s, msg)
                    o.check(re.match(rb"v\d:\d+:" + re.escape(msg) + rb"$",
                                     got) is not None,
                            "fresh round: got %r for %r" % (got, msg))
        h.log("fresh round: %d clients x 20 requests, all answered"
              % CLIENTS)
        srv.stop()


if __name__ == "__main__":
    h.main(main)
