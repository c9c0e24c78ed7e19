"""test_task_roundtrip.py: swx_task from every worker to task worker 0, 1
and -1 (any), in task_ipc_mode 1 and 3: the id swx_task returned is the id
on_task and on_finish see, the result comes back to the worker that sent
it, and a targeted task runs in the task worker it names. With task worker
0 blocked, a task for -1 runs in task worker 1 (mode 1 picks an idle one;
in mode 3 the idle one takes it from the shared queue). 60 tasks in flight
at once all come back, each with its own result; swx_taskwait too."""

import re

from task_helper import (Conn, Server, TABLES, check, conns_per_worker,
                         log, parse_result, run, wait_value)

WORKERS = 2
TASKERS = 2


def finish_of(c, task_id, want_text):
    line = c.line()
    m = re.fullmatch(r"finish (\d+) (.*)", line)
    check(m is not None, "expected a finish line, got %r" % line)
    out, f = parse_result(m.group(2))
    check(int(m.group(1)) == task_id, "on_finish id %s, swx_task gave %d"
          % (m.group(1), task_id))
    check(f["id"] == task_id, "on_task saw id %d, swx_task gave %d"
          % (f["id"], task_id))
    check(out == want_text, "result %r, expected %r" % (out, want_text))
    return f


def targeted(srv, conns):
    pids = srv.task_workers()
    for wid, c in sorted(conns.items()):
        for dst in (0, 1, -1, 0, -1, 1):
            text = "w%d-d%d" % (wid, dst)
            r = c.cmd("task %d echo %s" % (dst, text))
            m = re.fullmatch(r"task (\d+)", r)
            check(m is not None, "swx_task failed: %r" % r)
            f = finish_of(c, int(m.group(1)), "echo " + text)
            check(f["src"] == wid, "on_task saw src %d, sent by worker %d"
                  % (f["src"], wid))
            if dst >= 0:
                check(f["tw"] == dst, "task for %d ran in task worker %d"
                      % (dst, f["tw"]))
            check(pids.get(f["tw"]) == f["pid"], "task worker %d has pid %s, "
                  "result says %d" % (f["tw"], pids.get(f["tw"]), f["pid"]))


def any_goes_to_idle(c, mode):
    """Task worker 0 blocked: -1 must run in task worker 1."""
    c.expect("gate 0", "gate 0")
    block_id = int(c.expect("task 0 block b0", "task ").split()[1])
    wait_value(lambda: c.st()["task_idle_worker_num"], 1,
               what="task worker 0 busy")
    for i in range(4):
        tid = int(c.expect("task -1 echo idle%d" % i, "task ").split()[1])
        f = finish_of(c, tid, "echo idle%d" % i)
        check(f["tw"] == 1, "mode %d: task for -1 went to busy task worker "
              "%d" % (mode, f["tw"]))
    c.expect("gate 1", "gate 1")
    finish_of(c, block_id, "block b0 gate=1")


def in_flight(c, n=60):
    """n tasks sent back to back; every result matches its id."""
    for i in range(n):
        c.send("task -1 echo f%d" % i)
    ids, results = {}, {}
    while len(ids) < n or len(results) < n:
        line = c.line()
        m = re.fullmatch(r"task (\d+)", line)
        if m:
            ids[int(m.group(1))] = len(ids)
            continue
        m = re.fullmatch(r"finish (\d+) (.*)", line)
        check(m is not None, "unexpected line %r" % line)
        out, f = parse_result(m.group(2))
        check(f["id"] == int(m.group(1)), "id mismatch in %r" % line)
        results[int(m.group(1))] = (out, f["tw"])
    check(sorted(ids) == sorted(results), "ids sent %s, results for %s"
          % (sorted(ids), sorted(results)))
    for tid, idx in ids.items():
        check(results[tid][0] == "echo f%d" % idx, "task %d (f%d) got %r"
              % (tid, idx, results[tid][0]))
    used = sorted({tw for _, tw in results.values()})
    log("  %d tasks in flight ran in task workers %s" % (n, used))


def one_mode(mode):
    log("task_ipc_mode %d" % mode)
    cfg = {"worker_num": WORKERS, "reactor_num": 1,
           "task_worker_num": TASKERS, "task_ipc_mode": mode}
    with Server("roundtrip%d" % mode, server=cfg, tables=TABLES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, WORKERS)
        targeted(srv, conns)
        any_goes_to_idle(conns[0], mode)
        in_flight(conns[1])
        r = conns[0].cmd("wait 20000 1 echo sync")
        m = re.fullmatch(r"wait 0 (.*)", r)
        check(m is not None, "swx_taskwait: %r" % r)
        out, f = parse_result(m.group(1))
        check(out == "echo sync" and f["tw"] == 1 and f["src"] == 0,
              "swx_taskwait result %r" % r)
        with Conn(srv.port) as c:
            c.pid()
        for c in conns.values():
            c.close()
        srv.stop()


def main():
    for mode in (1, 3):
        one_mode(mode)


if __name__ == "__main__":
    run(main)
