"""test_task_id_reuse.py: a result is never handed to a process that did
not send its task, even when the worker that sent it has been replaced.

Task ids count from 1 in every worker process, and a worker id keeps its
mailbox across restarts. Worker 0 (process A) sends task 1 with
swx_taskwait and gives up (-ETIMEDOUT); A then reaches max_request and is
replaced by process B, whose first task is task 1 again. When A's result
comes, B must not take it as the result of its own task 1: B's
swx_taskwait must return B's result ("new"), never A's ("old"). The same
for on_finish: B's on_finish for its task 1 must carry B's result.
"""

import re
import time

from task_helper import (ETIMEDOUT, h, Conn, Server, TABLES, check, log,
                         parse_result, run)

OLD_MS, NEW_MS = 2500, 4000


def next_worker(srv, pid):
    """The worker that replaced pid (max_request reached)."""
    return srv.wait_workers(1, timeout=30, exclude=(pid,))[0]


def round_taskwait(srv, c):
    """max_request 3: A's requests are ping, wait, ping."""
    pid_a = c.pid()[1]
    t0 = time.monotonic()
    r = c.cmd("wait 200 0 sleep %d old" % OLD_MS)       # A's task 1
    check(r == "wait %d " % ETIMEDOUT, "A's taskwait: %r" % r)
    c.cmd("ping")
    next_worker(srv, pid_a)
    started = time.monotonic() - t0
    r = c.cmd("wait 20000 1 sleep %d new" % NEW_MS)     # B's task 1
    log("B's swx_taskwait started %.2f s after A's task" % started)
    if started * 1000 > OLD_MS:
        log("inconclusive: B started after A's result arrived")
        return
    m = re.fullmatch(r"wait 0 (.*)", r)
    check(m is not None, "B's taskwait: %r" % r)
    out, f = parse_result(m.group(1))
    check(out == "sleep new", "B's swx_taskwait for its task %d returned "
          "%r from task worker %d: the result of A's task %d, which a "
          "process that no longer exists sent"
          % (f["id"], out, f["tw"], f["id"]))


def round_on_finish(srv, c):
    """On a fresh server: A's requests are ping, task, ping."""
    pid_a = c.pid()[1]
    c.expect("task 0 sleep %d old" % OLD_MS, "task 1")   # A's task 1
    c.cmd("ping")
    next_worker(srv, pid_a)
    c.expect("task 1 sleep %d new" % NEW_MS, "task 1")   # B's task 1
    line = c.line()
    m = re.fullmatch(r"finish 1 (.*)", line)
    check(m is not None, "B's on_finish: %r" % line)
    out, f = parse_result(m.group(1))
    check(out == "sleep new", "B's on_finish for its task 1 got %r from "
          "task worker %d: the result of task 1 of the worker B replaced"
          % (out, f["tw"]))


def main():
    h.process_mode_only(
        "one connection outlives its worker's max_request only in process mode")
    cfg = {"worker_num": 1, "reactor_num": 1, "task_worker_num": 2,
           "max_request": 3, "log_level": "debug"}
    failures = []
    for name, fn in (("swx_taskwait", round_taskwait),
                     ("on_finish", round_on_finish)):
        with Server("idreuse", server=cfg, tables=TABLES) as srv:
            srv.start()
            with Conn(srv.port) as c:
                try:
                    fn(srv, c)
                    log("%s: ok" % name)
                except AssertionError as e:
                    log("%s: FAILED: %s" % (name, e))
                    failures.append(str(e))
            srv.stop()
    check(not failures, "; ".join(failures))


if __name__ == "__main__":
    run(main)
