"""test_base_mode.py: server.mode "base", whatever SWX_TEST_MODE says.

- Connections spread over all workers: idle connections opened one after
  another land on every worker (each worker moves to the end of the
  listener's wait queue after an accept).
- Sessions are routed to their owner: swx_send and swx_close from one
  worker to a connection another worker accepted reach that connection
  (through the owner's mailbox), and a send to a closed session is
  dropped, not delivered to anyone.
- A worker SIGKILLed under load loses only its own connections: every
  connection of the other workers keeps being answered without a gap, new
  connections are accepted and served meanwhile, and the dead worker's
  connections are taken off the count.
- max_request with one worker: the worker that reached it still serves
  its open connection, and a new worker accepts new ones at once; the old
  one closes what is left at max_wait_time (less a second) and exits.
  What the new worker sends to the old one's connection reaches it.
- After a reload, the new workers' swx_send and swx_close reach the
  connections the old workers still serve (each process of a slot has a
  lane of its own), and the old workers' reach the new ones'."""

import os
import re
import signal
import threading
import time

import swx_harness as h

WORKERS = 3
LOADED = 4  # connections per worker under load


def base_server(name, **server):
    cfg = {"mode": "base", "worker_num": WORKERS, "log_level": "info"}
    cfg.update(server)
    return h.Server(name, server=cfg,
                    plugins=[{"name": "probe", "path": h.PROBE}])


def session_of(sock):
    """(session id, worker id) of a probe connection."""
    reply = h.request(sock, b"session\n").decode()
    m = re.fullmatch(r"session (\d+) (\d+)\n", reply)
    h.check(m is not None, "bad reply to session: %r" % reply)
    return int(m.group(1)), int(m.group(2))


def by_worker(port, n):
    """n fresh connections, as {worker id: [(sock, session)]}."""
    out = {}
    for _ in range(n):
        s = h.connect(port)
        sess, wid = session_of(s)
        out.setdefault(wid, []).append((s, sess))
    return out


def close_all(groups):
    for conns in groups.values():
        for s, _ in conns:
            s.close()


def by_worker_with(port, n, need):
    """by_worker(port, n) in which each worker w of need holds at least
    need[w] connections. Which worker takes a connection is the kernel's
    choice, and one that is off its CPU is passed over (see test_spread):
    so up to 10 rounds, a quarter of a second apart."""
    for i in range(10):
        if i > 0:
            time.sleep(0.25)
        groups = by_worker(port, n)
        if all(len(groups.get(w, [])) >= k for w, k in need.items()):
            return groups
        close_all(groups)
    h.check(False, "in no round of %d connections did the workers take "
            "%s of them" % (n, need))


def wait_all_accepting(port):
    """Until a connection has reached every worker: a worker's title is
    set before it watches the listeners."""
    def seen():
        groups = by_worker(port, WORKERS)
        close_all(groups)
        return len(groups) == WORKERS
    h.wait_until(seen, 20, interval=0.05, what="every worker accepting")


def test_spread(srv):
    """Connections to a quiet server, one after another, reach every
    worker (without the rotation in worker_base.c the first worker in
    the listener's queue takes them all). A worker that is not back in
    epoll_wait when a connection comes is passed over by design, and on
    a machine busy with other tests (the sanitizer build runs two at
    once) one may stay off its CPU for a while: so up to 10 rounds, a
    quarter of a second apart, and every worker in one of them."""
    wait_all_accepting(srv.port)
    rounds = []
    for i in range(10):
        if i > 0:
            time.sleep(0.25)
        groups = by_worker(srv.port, WORKERS * 3)
        rounds.append({w: len(c) for w, c in groups.items()})
        close_all(groups)
        if sorted(groups) == list(range(WORKERS)):
            break
    h.log("idle connections per worker, by round: %s" % rounds)
    h.check(any(sorted(r) == list(range(WORKERS)) for r in rounds),
            "in no round of %d connections did every one of the %d "
            "workers take one: %s" % (WORKERS * 3, WORKERS, rounds))


def test_routing(srv):
    groups = by_worker_with(srv.port, WORKERS * 3, {0: 2, 1: 1})
    (a, a_sess), (b, b_sess) = groups[0][0], groups[1][0]
    h.check(a_sess & 0xff == 0 and b_sess & 0xff == 1,
            "session ids %d and %d do not name workers 0 and 1"
            % (a_sess, b_sess))
    # Worker 0 writes to worker 1's connection.
    h.check(h.request(a, b"tell %d hello-from-0\n" % b_sess) == b"told 0\n",
            "tell across workers failed")
    b.settimeout(5)
    h.check(h.recv_line(b) == b"hello-from-0\n",
            "the routed message did not reach its connection")
    # And the other way round, then to a session of its own worker.
    h.check(h.request(b, b"tell %d back\n" % a_sess) == b"told 0\n", "tell")
    h.check(h.recv_line(a) == b"back\n", "the reply did not come back")
    a2, a2_sess = groups[0][1]
    h.check(h.request(a, b"tell %d same\n" % a2_sess) == b"told 0\n", "tell")
    h.check(h.recv_line(a2) == b"same\n", "a send within one worker")
    # Worker 0 closes worker 1's connection.
    h.check(h.request(a, b"kick %d\n" % b_sess) == b"kicked 0\n", "kick")
    try:
        eof = b.recv(1) == b""
    except ConnectionResetError:
        eof = True
    h.check(eof, "swx_close across workers did not close the connection")
    # A send to the closed session reaches nobody: the next connection
    # worker 1 accepts gets only its own replies.
    h.request(a, b"tell %d late\n" % b_sess)
    fresh = by_worker_with(srv.port, WORKERS * 2, {1: 1})
    c, _ = fresh[1][0]
    h.check(h.request(c, b"ping\n") == b"ping\n", "a reply meant for a "
            "closed session reached another connection")
    close_all(fresh)
    close_all(groups)


class Loop(threading.Thread):
    """Request after request on one connection until stopped."""

    def __init__(self, sock, wid, stop):
        super().__init__(daemon=True)
        self.sock, self.wid, self.stop = sock, wid, stop
        self.done = 0
        self.error = None
        self.last = time.monotonic()
        self.gap = 0.0  # the longest wait for a reply

    def run(self):
        try:
            while not self.stop.is_set():
                msg = b"w%d-%d\n" % (self.wid, self.done)
                t0 = time.monotonic()
                got = h.request(self.sock, msg)
                self.gap = max(self.gap, time.monotonic() - t0)
                if got != msg:
                    raise h.TestFailure("got %r for %r" % (got, msg))
                self.done += 1
        except Exception as e:  # noqa: B902 -- judged by the main thread
            self.error = e


def test_kill(srv):
    groups = by_worker(srv.port, WORKERS * LOADED * 2)
    h.check(len(groups) == WORKERS, "not every worker has connections")
    pids = srv.workers()
    victim = 1
    stop = threading.Event()
    loops = [Loop(s, w, stop) for w, conns in groups.items()
             for s, _ in conns]
    for t in loops:
        t.start()
    time.sleep(0.5)
    os.kill(pids[victim], signal.SIGKILL)
    # New connections are accepted and served while the slot is empty and
    # after its replacement started.
    t_end = time.monotonic() + 1.5
    served = 0
    while time.monotonic() < t_end:
        with h.connect(srv.port, timeout=5) as s:
            h.check(h.request(s, b"new\n") == b"new\n", "a new connection "
                    "was not served after the kill")
            served += 1
    srv.wait_workers(WORKERS, 30, exclude=[pids[victim]])
    with h.connect(srv.port, timeout=5) as s:
        h.check(h.request(s, b"after\n") == b"after\n", "after the restart")
    stop.set()
    for t in loops:
        t.join(20)
        h.check(not t.is_alive(), "a client hung")
    lost = [t for t in loops if t.error is not None]
    h.check(all(t.wid == victim for t in lost),
            "connections of other workers failed: %s"
            % [(t.wid, repr(t.error)) for t in lost if t.wid != victim])
    h.check(len(lost) == len(groups[victim]),
            "%d of worker %d's %d connections failed"
            % (len(lost), victim, len(groups[victim])))
    slow = [t.gap for t in loops if t.wid != victim and t.gap > 2.0]
    h.check(not slow, "other workers' clients waited %s s" % slow)
    srv.wait_log(r"worker %d: its \d+ connection\(s\) were lost with it"
                 % victim, timeout=10)
    h.log("kill: %d connections lost (all worker %d's), %d served by the "
          "others, %d new connections meanwhile"
          % (len(lost), victim, sum(t.done for t in loops if not t.error),
             served))
    close_all(groups)


def test_max_request_handover():
    with base_server("base-maxreq", worker_num=1, max_request=3,
                     max_wait_time=3) as srv:
        srv.start()
        a = h.connect(srv.port)
        a_sess, _ = session_of(a)
        old = {h.ask_pid(a)[1] for _ in range(2)}
        h.check(len(old) == 1, "one worker served A: %s" % old)
        t0 = time.monotonic()
        with h.connect(srv.port, timeout=5) as b:
            new = h.ask_pid(b)[1]
            took = time.monotonic() - t0
            # The slot is the new worker's now; A's session is not.
            h.check(h.request(b, b"tell %d from-new\n" % a_sess) ==
                    b"told 0\n", "tell from the new worker failed")
            a.settimeout(5)
            h.check(h.recv_line(a) == b"from-new\n", "what the new worker "
                    "sent to the old one's connection did not reach it")
        h.check(new not in old, "a new connection went to the worker past "
                "max_request")
        h.check(took < 1.0, "the new worker took %.2f s to accept" % took)
        h.check(h.ask_pid(a)[1] in old, "A moved from its worker")
        a.settimeout(10)
        t0 = time.monotonic()
        eof = a.recv(1) == b""
        waited = time.monotonic() - t0
        h.check(eof and 1.0 < waited < 4.0, "A closed after %.1f s" % waited)
        h.log("max_request: a new worker accepted in %.3f s; the old one "
              "closed its last connection after %.1f s" % (took, waited))
        h.wait_until(lambda: not h.alive(min(old)), 10,
                     what="the old worker to exit")
        a.close()
        srv.stop()


def test_reload_routing():
    """Sends and closes across a reload, both ways, while the old workers
    serve their connections to the end."""
    with base_server("base-reload-route", max_wait_time=15) as srv:
        srv.start()
        wait_all_accepting(srv.port)
        olds = {}

        def two_old():
            for w, conns in by_worker(srv.port, WORKERS).items():
                olds.setdefault(w, []).extend(conns)
            return 0 in olds and 1 in olds
        h.wait_until(two_old, 20, interval=0.05,
                     what="connections on workers 0 and 1")
        old_pids = set(h.descendants_of(srv.pid))  # every old worker
        (a, a_sess), (a2, a2_sess) = olds[0][0], olds[1][0]
        os.kill(srv.pid, signal.SIGUSR1)
        new = {}
        spare = []

        def all_new():
            s = h.connect(srv.port)
            wid, pid = h.ask_pid(s)
            if pid in old_pids or wid in new:
                spare.append(s)
            else:
                new[wid] = (s, session_of(s)[0])
            return len(new) == WORKERS
        h.wait_until(all_new, 30, interval=0.05,
                     what="connections on every new worker")
        for s in spare:
            s.close()
        for wid, (b, b_sess) in sorted(new.items()):
            h.check((b_sess & 0xff) % WORKERS == wid and
                    (b_sess & 0xff) != wid,
                    "session %d of a new worker %d does not name a lane of "
                    "its own" % (b_sess, wid))
            for old, sess in ((a, a_sess), (a2, a2_sess)):
                msg = b"new%d-to-%d" % (wid, sess)
                h.check(h.request(b, b"tell %d %s\n" % (sess, msg)) ==
                        b"told 0\n", "tell from new worker %d" % wid)
                old.settimeout(5)
                h.check(h.recv_line(old) == msg + b"\n",
                        "new worker %d's message to session %d (an old "
                        "worker's) did not arrive" % (wid, sess))
            # And an old worker's to the new one's connection.
            h.check(h.request(a, b"tell %d old-to-new\n" % b_sess) ==
                    b"told 0\n", "tell from an old worker")
            b.settimeout(5)
            h.check(h.recv_line(b) == b"old-to-new\n",
                    "an old worker's message to new worker %d's "
                    "connection did not arrive" % wid)
        h.check(h.ask_pid(a)[1] in old_pids, "A moved from its worker")
        # A new worker closes an old worker's connection.
        b, _ = new[0]
        h.check(h.request(b, b"kick %d\n" % a2_sess) == b"kicked 0\n",
                "kick")
        try:
            eof = a2.recv(1) == b""
        except ConnectionResetError:
            eof = True
        h.check(eof, "swx_close from a new worker did not close an old "
                "worker's connection")
        h.log("after a reload: sends both ways and a close across old and "
              "new workers arrived")
        for b, _ in new.values():
            b.close()
        close_all(olds)
        srv.stop()


def main():
    with base_server("base-mode") as srv:
        srv.start()
        test_spread(srv)
        test_routing(srv)
        test_kill(srv)
        srv.stop()
    test_max_request_handover()
    test_reload_routing()


if __name__ == "__main__":
    h.main(main)
