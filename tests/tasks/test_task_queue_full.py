"""test_task_queue_full.py: a full task queue returns -EAGAIN (-11) to
swx_task at once; it never blocks the worker.

Both task workers are held in on_task (waiting for an atomic "gate"), and
one worker sends 1000 tasks of 50 000 bytes as fast as it can, in
task_ipc_mode 1 (to each task worker's own queue) and 3 (to the shared
queue). Some are queued, the rest refused with -EAGAIN, and:
- swx_stats().task_queue_full grows by exactly the number refused;
- tasking_num is exactly the tasks queued plus the two running, and
  task_queue_num the queued ones;
- while it happens, clients of both workers keep being answered, and the
  flooding worker answers its next command at once;
- once the gate opens, every queued task runs and its result comes back.
"""

import threading

from task_helper import (Conn, Server, TABLES, check, conns_per_worker, log,
                         run, wait_value)

N, SIZE = 1000, 50000


class Pinger(threading.Thread):
    """Pings on its own connection until told to stop; records failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = Conn(port, timeout=20)
        self.stop_ev = threading.Event()
        self.count = 0
        self.error = None

    def run(self):
        try:
            while not self.stop_ev.is_set():
                r = self.conn.cmd("ping")
                if not r.startswith("pong "):
                    raise AssertionError("ping got %r" % r)
                self.count += 1
        except Exception as e:  # noqa: BLE001 -- judged by the main thread
            self.error = repr(e)

    def finish(self):
        self.stop_ev.set()
        self.join(30)
        self.conn.close()
        check(not self.is_alive(), "a pinger hung")
        check(self.error is None, "a client went unanswered: %s" % self.error)


def one_mode(mode):
    cfg = {"worker_num": 2, "reactor_num": 2, "task_worker_num": 2,
           "task_ipc_mode": mode, "log_level": "error"}
    with Server("qfull%d" % mode, server=cfg, tables=TABLES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, 2)
        c, other = conns[0], conns[1]
        c.expect("gate 0", "gate 0")
        blocks = [int(c.expect("task %d block b%d" % (i, i), "task ")
                      .split()[1]) for i in (0, 1)]
        wait_value(lambda: c.st()["task_idle_worker_num"], 0,
                   what="both task workers busy")
        before = c.st()
        pingers = [Pinger(srv.port) for _ in range(3)]
        for p in pingers:
            p.start()
        r = c.cmd("flood %d %d -1" % (N, SIZE))
        parts = r.split()
        check(parts[0] == "flood" and len(parts) == 4, "flood: %r" % r)
        sent, eagain, other_err = (int(x) for x in parts[1:])
        log("mode %d: %d queued, %d refused with -EAGAIN" % (mode, sent,
                                                            eagain))
        check(eagain > 0 and sent > 0 and other_err == 0,
              "expected a full queue: %r" % r)
        check(c.cmd("ping").startswith("pong 0 "), "the flooding worker")
        check(other.cmd("ping").startswith("pong 1 "), "the other worker")
        after = c.st()
        check(after["task_queue_full"] - before["task_queue_full"] == eagain,
              "task_queue_full grew by %d, %d were refused"
              % (after["task_queue_full"] - before["task_queue_full"],
                 eagain))
        check(after["tasking_num"] == sent + 2, "tasking_num %d, expected "
              "%d queued + 2 running" % (after["tasking_num"], sent))
        check(after["task_queue_num"] == sent, "task_queue_num %d, expected "
              "%d" % (after["task_queue_num"], sent))
        for p in pingers:
            p.finish()
        check(all(p.count > 0 for p in pingers), "pingers got no reply")
        c.expect("gate 1", "gate 1")
        got = sorted(int(c.line().split()[1]) for _ in blocks)
        check(got == sorted(blocks), "block results %s, expected %s"
              % (got, blocks))
        wait_value(lambda: int(c.cmd("quiet").split()[1]), sent, timeout=60,
                   what="results of the queued tasks")
        wait_value(lambda: c.st()["tasking_num"], 0, what="tasking_num 0")
        for x in conns.values():
            x.close()
        srv.stop()


def main():
    for mode in (1, 3):
        one_mode(mode)


if __name__ == "__main__":
    run(main)
