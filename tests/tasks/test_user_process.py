"""test_user_process.py: a plugin's own processes ("processes" in the
config, Swoole's addProcess).

Two processes named "ticker" (ids 4 and 5 after 2 workers and 2 task
workers) run on_process_start, then their loop: a 20 ms timer adds to a
table row and sends messages to worker 0, and messages to them are
answered.
- their titles are "swx-server: process ticker 0" and "... 1";
- the table row grows; workers receive their messages; a message to one
  is answered by that one;
- SIGKILL of process ticker 0: the manager logs it and starts a new one
  (new pid, same title, on_process_start again), which keeps working; the
  other one, the workers and the task workers keep their pids; the stats
  show the restart;
- a graceful stop ends them too, with nothing left behind.
"""

import os
import re
import signal

from task_helper import (Server, TABLES, check, conns_per_worker, h, log,
                         run, wait_value)

PROCS = [{"name": "ticker", "plugin": "taskprobe", "count": 2}]


def ticks(c):
    r = c.cmd("tget counters proc-ticks n").split()
    return int(r[2]) if r[1] == "0" else 0


def works(srv, c, pid_id):
    """The process with id pid_id answers, and the ticks go on."""
    r = c.cmd("msg %d hi" % pid_id)
    line = c.line()
    check(r == "msg 0" and line == "pipe 0 %d ack:%d:0:hi" % (pid_id, pid_id),
          "process %d: %r %r" % (pid_id, r, line))
    first = ticks(c)
    wait_value(lambda: ticks(c) >= first + 10, True, what="ticks")


def main():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 2}
    with Server("process", server=cfg, tables=TABLES,
                processes=PROCS) as srv:
        srv.start()
        before = srv.wait_roles()
        procs = srv.user_processes()
        check(sorted(procs) == ["ticker 0", "ticker 1"],
              "titles: %r" % sorted(procs))
        for idx, pid_id in ((0, 4), (1, 5)):
            srv.wait_log(r"taskprobe: process ticker %d started \(id %d, "
                         r"pid %d," % (idx, pid_id, procs["ticker %d" % idx]))
        c = conns_per_worker(srv.port, 2)[0]
        check(c.pid()[0] == 0, "worker 0 first")
        works(srv, c, 4)
        works(srv, c, 5)
        wait_value(lambda: int(c.cmd("tget counters ticks-seen n")
                               .split()[2]) > 0, True,
                   what="worker 0 counting ticks")

        victim = procs["ticker 0"]
        os.kill(victim, signal.SIGKILL)
        srv.wait_log(r"process ticker 0 \(pid %d\) killed by signal 9" % victim)
        after = srv.wait_roles(exclude=(victim,))
        new = after[("process", "ticker 0")]
        check(new != victim, "same pid after SIGKILL")
        check(h.proc_cmdline(new) == "swx-server: process ticker 0",
              "title of the new process: %r" % h.proc_cmdline(new))
        changed = {k for k in before if before[k] != after.get(k)}
        check(changed == {("process", "ticker 0")}, "only the killed "
              "process may change: %r" % changed)
        srv.wait_log(r"taskprobe: process ticker 0 started \(id 4, pid %d,"
                     % new)
        works(srv, c, 4)
        st = c.stats()
        entry = [w for w in st["workers"] if w["id"] == 4][0]
        check(entry["kind"] == "process" and entry["pid"] == new and
              entry["starts"] == 2, "stats for process 4: %r" % entry)
        check(st["worker_restarts"] >= 1, "worker_restarts")
        log("  process ticker 0: pid %d -> %d" % (victim, new))
        c.close()
        srv.stop()
        check(not re.search(r"ERROR: LeakSanitizer", srv.log_text()),
              "leaks")


if __name__ == "__main__":
    run(main)
