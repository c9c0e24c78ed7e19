"""test_task_recycle.py: task workers are replaced, and tasks survive it.

- task_max_request 5: 12 tasks in a row to task worker 0 run in three
  processes, 5 + 5 + 2, each replacement started by the manager; 7 tasks
  sent at once to task worker 1 all come back (those queued while it
  exits run in its replacement); the workers and the user process keep
  their pids;
- SIGUSR2 to the master reloads the task workers only: every task worker
  gets a new pid, the workers and the user process keep theirs, and a
  task running at that moment still delivers its result;
- SIGUSR1 reloads workers and task workers, never the user process.
"""

import os
import re
import signal

from task_helper import (Conn, PROCESSES, Server, TABLES, check,
                         conns_per_worker, h, log, parse_result, run,
                         wait_value)


def result(c, want_out=None):
    line = c.line()
    m = re.fullmatch(r"finish (\d+) (.*)", line)
    check(m is not None, "expected a task result, got %r" % line)
    out, f = parse_result(m.group(2))
    if want_out is not None:
        check(out == want_out, "result %r, expected %r" % (out, want_out))
    return out, f


def roles_by_kind(srv):
    r = srv.wait_roles()
    return ({k: p for k, p in r.items() if k[0] == "worker"},
            {k: p for k, p in r.items() if k[0] == "task"},
            {k: p for k, p in r.items() if k[0] == "process"})


def max_request(srv, c):
    workers, _, procs = roles_by_kind(srv)
    pids = []
    for i in range(12):
        r = c.cmd("wait 30000 0 pid")
        m = re.fullmatch(r"wait 0 (.*)", r)
        check(m is not None, "task %d: %r" % (i, r))
        out, f = parse_result(m.group(1))
        check(out == "pid %d %d" % (2, f["pid"]), "pid op: %r" % out)
        pids.append(f["pid"])
    runs = [pids[0:5], pids[5:10], pids[10:12]]
    check(all(len(set(x)) == 1 for x in runs) and len(set(pids)) == 3,
          "task worker 0 should change every 5 tasks: %r" % pids)
    for i in range(7):
        c.send("task 1 echo q%d" % i)
    seen = {}
    for _ in range(14):
        line = c.line()
        if line.startswith("finish "):
            out, f = parse_result(line.split(" ", 2)[2])
            seen[out] = f["pid"]
    check(sorted(seen) == sorted("echo q%d" % i for i in range(7)),
          "queued tasks lost across the restart: %r" % seen)
    check(len(set(seen.values())) == 2, "task worker 1 ran 7 tasks in %d "
          "process(es)" % len(set(seen.values())))
    srv.wait_log(r"task_max_request \(5\) reached; exiting", count=3)
    w2, _, p2 = roles_by_kind(srv)
    check(w2 == workers and p2 == procs, "workers or the process changed: "
          "%r -> %r" % ((workers, procs), (w2, p2)))


def reload_tasks(srv, c):
    workers, tasks, procs = roles_by_kind(srv)
    tid = int(c.expect("task 0 sleep 800 inflight", "task ").split()[1])
    with Conn(srv.port) as o:
        wait_value(lambda: o.st()["task_idle_worker_num"], 1,
                   what="the task running")
    count0 = len(re.findall(r"reload done", srv.log_text()))
    os.kill(srv.pid, signal.SIGUSR2)
    srv.wait_log(r"reload done", count=count0 + 1, timeout=60)
    out, f = result(c, "sleep inflight")
    check(f["id"] == tid and f["pid"] == tasks[("task", 0)],
          "the task running at SIGUSR2 finished in its old process: %r" % f)
    w2, t2 = {}, {}

    def settled():
        nonlocal w2, t2
        w2, t2, p2 = roles_by_kind(srv)
        return not set(t2.values()) & set(tasks.values()) and p2 == procs
    h.wait_until(settled, 30, what="new task workers")
    check(w2 == workers, "SIGUSR2 replaced workers: %r -> %r"
          % (workers, w2))
    log("  SIGUSR2: task workers %s -> %s" % (sorted(tasks.values()),
                                             sorted(t2.values())))
    for tw in (0, 1):
        r = c.cmd("wait 30000 %d pid" % tw)
        out, f = parse_result(r.split(" ", 2)[2])
        check(f["pid"] == t2[("task", tw)], "task worker %d after reload"
              % tw)


def reload_all(srv):
    workers, tasks, procs = roles_by_kind(srv)
    count0 = len(re.findall(r"reload done", srv.log_text()))
    os.kill(srv.pid, signal.SIGUSR1)
    srv.wait_log(r"reload done", count=count0 + 1, timeout=60)

    def settled():
        w2, t2, p2 = roles_by_kind(srv)
        return (not set(w2.values()) & set(workers.values()) and
                not set(t2.values()) & set(tasks.values()) and p2 == procs)
    h.wait_until(settled, 30, what="new workers and task workers, the same "
                 "user process")


def main():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 2,
           "task_max_request": 5, "log_level": "debug"}
    with Server("recycle", server=cfg, tables=TABLES,
                processes=PROCESSES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, 2)
        max_request(srv, conns[0])
        reload_tasks(srv, conns[1])
        reload_all(srv)
        c = conns_per_worker(srv.port, 2)
        for x in c.values():
            r = x.cmd("wait 30000 -1 echo after")
            check(r.startswith("wait 0 echo after "), "after reloads: %r" % r)
            x.close()
        for x in conns.values():
            x.close()
        srv.stop()


if __name__ == "__main__":
    run(main)
