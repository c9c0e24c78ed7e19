"""test_worker_kill.py: a worker killed with SIGKILL under load is replaced
by the manager; clients served by the other workers see no error, and the
server keeps serving new connections.

Each client thread owns one connection (dispatch_mode 2: one worker per
connection), learns its worker's pid with "pid", then does request/response
in a loop. A client whose worker was killed may lose the request that was
inside it: it times out, is counted and printed, but does not fail the
test."""

import os
import signal
import socket
import threading
import time

import swx_harness as h

CLIENTS = 12
WORKERS = 3


class Client(threading.Thread):
    def __init__(self, port, idx, stop):
        super().__init__(daemon=True)
        self.port, self.idx, self.stop = port, idx, stop
        self.worker_pid = None
        self.done = 0
        self.error = None
        self.timed_out = False

    def run(self):
        try:
            with h.connect(self.port, timeout=30) as s:
                _, self.worker_pid = h.ask_pid(s)
                s.settimeout(5)
                while not self.stop.is_set():
                    msg = b"client %d request %d\n" % (self.idx, self.done)
                    try:
                        got = h.request(s, msg)
                    except socket.timeout:
                        self.timed_out = True
                        return
                    h.check(got == msg, "got %r for %r" % (got, msg))
                    self.done += 1
        except Exception as e:  # noqa: BLE001 -- judged by the main thread
            self.error = e


def main():
    probe = {"name": "probe", "path": h.PROBE}
    with h.Server("kill", server={"worker_num": WORKERS, "reactor_num": 2},
                  plugins=[probe]) as srv:
        srv.start()
        before = srv.workers()
        stop = threading.Event()
        clients = [Client(srv.port, i, stop) for i in range(CLIENTS)]
        for c in clients:
            c.start()
        h.wait_until(lambda: all(c.done >= 20 or c.error for c in clients),
                     60, what="every client to be under way")
        time.sleep(0.5)  # load, not synchronisation: kill mid-stream
        served = {c.worker_pid for c in clients}
        victim_id = next(i for i, p in sorted(before.items()) if p in served)
        victim = before[victim_id]
        h.log("workers %s; killing worker %d (pid %d)"
              % (before, victim_id, victim))
        srv.note([victim])
        os.kill(victim, signal.SIGKILL)

        after = srv.wait_workers(WORKERS, 30, exclude=[victim])
        h.check(after[victim_id] != victim, "worker %d not replaced"
                % victim_id)
        for i, p in before.items():
            if i != victim_id:
                h.check(after[i] == p, "worker %d changed pid %d -> %d "
                        "though it was not killed" % (i, p, after[i]))
        srv.wait_log(r"worker %d \(pid %d\) killed by signal 9"
                     % (victim_id, victim))
        h.log("worker %d replaced: pid %d -> %d"
              % (victim_id, victim, after[victim_id]))

        # Let the load run on the new worker for a while, then stop.
        marks = {c: c.done for c in clients}
        h.wait_until(lambda: all(c.done >= marks[c] + 20 or c.error
                                 or c.timed_out for c in clients
                                 if c.worker_pid != victim),
                     60, what="the other clients to make progress")
        stop.set()
        for c in clients:
            c.join(30)
        h.check(not any(c.is_alive() for c in clients), "clients hung")

        hit = [c for c in clients if c.worker_pid == victim]
        spared = [c for c in clients if c.worker_pid != victim]
        h.log("%d client(s) on the killed worker: %d timed out, %d error(s);"
              " %d on other workers" % (len(hit),
                                        sum(c.timed_out for c in hit),
                                        sum(c.error is not None for c in hit),
                                        len(spared)))
        for c in hit:
            h.log("  client %d: %d requests, timed out %s, error %r"
                  % (c.idx, c.done, c.timed_out, c.error))
        bad = ["client %d (worker pid %s): %s" % (c.idx, c.worker_pid,
                                                    c.error or "timed out")
               for c in spared if c.error or c.timed_out]
        h.check(not bad, "clients of workers that were not killed failed: "
                "%s" % bad)

        # New connections are served, by every worker including the new
        # one. Keep them open so their fds (and so their workers) differ.
        fresh, seen = [], set()
        try:
            while seen != set(after.values()) and len(fresh) < 40:
                s = h.connect(srv.port)
                fresh.append(s)
                seen.add(h.ask_pid(s)[1])
                h.check(h.request(s, b"still here\n") == b"still here\n",
                        "echo on a new connection")
        finally:
            for s in fresh:
                s.close()
        h.log("%d new connections served by pids %s"
              % (len(fresh), sorted(seen)))
        h.check(seen == set(after.values()), "new connections served by %s,"
                " expected every worker %s" % (sorted(seen),
                                               sorted(after.values())))
        srv.stop()


if __name__ == "__main__":
    h.main(main)
