"""test_task_worker_kill.py: SIGKILL of a task worker in the middle of a
task.

- the manager logs it and starts a new task worker with the same id at
  once;
- tasks queued behind the killed one (task_ipc_mode 1: in its own queue,
  which outlives it) run in the new one and their results come back;
- a swx_taskwait for the lost task returns -ETIMEDOUT, it does not hang;
- the workers keep serving throughout;
- once everything is done, tasking_num is back to 0: the lost task is not
  counted as in flight forever.
"""

import os
import re
import signal

from task_helper import (ETIMEDOUT, Server, TABLES, check, conns_per_worker,
                         log, parse_result, run, wait_value)


def main():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 2}
    with Server("twkill", server=cfg, tables=TABLES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, 2)
        c, w = conns[0], conns[1]
        c.expect("gate 0", "gate 0")
        c.expect("task 0 block lost", "task ")
        queued = [int(c.expect("task 0 echo q%d" % i, "task ").split()[1])
                  for i in range(5)]
        wait_value(lambda: w.st()["tasking_num"], 6, what="6 tasks in flight")
        victim = srv.task_workers()[0]
        w.send("wait 1500 0 echo waited")
        os.kill(victim, signal.SIGKILL)
        srv.wait_log(r"task worker 0 \(pid %d\) killed by signal 9" % victim)
        # The new task worker starts at once (a kill from outside is not
        # a start failure), so the results may come before the reply.
        c.send("gate 1")
        got, gate = {}, None
        while len(got) < len(queued) or gate is None:
            line = c.line()
            if gate is None and line.startswith("gate 1"):
                gate = line
                continue
            m = re.fullmatch(r"finish (\d+) (.*)", line)
            check(m is not None, "expected a result, got %r" % line)
            out, f = parse_result(m.group(2))
            got[int(m.group(1))] = (out, f["pid"])
        check(sorted(got) == sorted(queued), "results %s for %s"
              % (sorted(got), queued))
        check(all(pid != victim for _, pid in got.values()),
              "a queued task ran in the killed process")
        r = w.line()
        check(r in ("wait %d " % ETIMEDOUT,) or r.startswith("wait 0 echo "
                                                             "waited"),
              "swx_taskwait for task worker 0: %r" % r)
        log("  taskwait during the kill: %r" % r.split(" @")[0])
        check(w.cmd("ping").startswith("pong 1 "), "worker 1 serves")
        wait_value(lambda: w.st()["tasking_num"], 0, timeout=10,
                   what="tasking_num back to 0 after the lost task")
        for x in conns.values():
            x.close()
        srv.stop()


if __name__ == "__main__":
    run(main)
