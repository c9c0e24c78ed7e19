"""test_task_errors.py: what the task functions refuse, and that no refusal
hurts the process that made it.

- swx_task and swx_taskwait inside a task worker: -EPERM (-1), with a log
  line saying why; swx_send there: -ENOTSUP;
- swx_finish twice for one task: the second is -EALREADY (-114);
- a task whose on_task never calls swx_finish (fire and forget) leaves
  the task worker free for the next one, and tasking_num back at 0;
- a plugin without on_finish: its tasks want no result, swx_finish in
  on_task returns -EINVAL (-22) with a log line, the task still runs, and
  nothing crashes;
- without task workers, swx_task and swx_taskwait are -ENOTSUP (-95);
- the error returns of the API from a worker (apierr): timers, fds,
  deferred calls, bad task and message destinations, swx_finish outside
  on_task, swx_taskwait_multi with no tasks, unknown table, bad counter.
"""

import re

from task_helper import (EALREADY, EEXIST, EINVAL, ENOENT, ENOTSUP, EPERM,
                         Server, TABLES, TASKPROBE_NOFINISH, check,
                         conns_per_worker, parse_result, run, taskprobe,
                         wait_value)


def finish_line(c, tid):
    line = c.line()
    m = re.fullmatch(r"finish (\d+) (.*)", line)
    check(m is not None and int(m.group(1)) == tid,
          "expected the result of task %d, got %r" % (tid, line))
    return parse_result(m.group(2))


def in_task_worker(srv, c):
    tid = int(c.expect("task 0 nested", "task ").split()[1])
    out, _ = finish_line(c, tid)
    check(out == "nested %d %d" % (EPERM, EPERM),
          "swx_task, swx_taskwait in a task worker: %r" % out)
    srv.wait_log(r"swx_task called in a task worker: tasks are sent from "
                 r"workers and processes only", count=2)
    tid = int(c.expect("task 1 send", "task ").split()[1])
    out, _ = finish_line(c, tid)
    check(out == "send %d" % ENOTSUP, "swx_send in a task worker: %r" % out)
    tid = int(c.expect("task 0 finish2", "task ").split()[1])
    out, _ = finish_line(c, tid)
    check(out == "finish2 first", "the first swx_finish: %r" % out)
    srv.wait_log(r"second swx_finish of task %d returned %d"
                 % (tid, EALREADY))


def fire_and_forget(srv, c):
    fid = int(c.expect("fire 0", "fire ").split()[1])
    srv.wait_log(r"task %d left unfinished on purpose" % fid)
    tid = int(c.expect("task 0 echo next", "task ").split()[1])
    out, f = finish_line(c, tid)
    check(out == "echo next" and f["tw"] == 0, "after fire: %r" % out)
    wait_value(lambda: c.st()["tasking_num"], 0, what="tasking_num 0")
    check(c.cmd("quiet") == "quiet 0", "a result for the fired task")


def apierr(c):
    r = c.cmd("apierr")
    got = dict(kv.split("=") for kv in r.split()[1:])
    want = {"tick0": EINVAL, "after_neg": EINVAL, "null_cb": EINVAL,
            "clear_unknown": ENOENT, "add": 0, "add_again": EEXIST,
            "add_errbit": EINVAL, "add_negfd": EINVAL, "del": 0,
            "del_again": ENOENT, "set_unwatched": ENOENT,
            "defer_null": EINVAL, "task_dst_high": EINVAL,
            "task_dst_neg": EINVAL, "msg_self": EINVAL, "msg_high": EINVAL,
            "msg_neg": EINVAL, "finish_outside": EINVAL,
            "multi_zero": EINVAL, "table_missing": 1, "atomic_empty": 1}
    bad = {k: (got.get(k), v) for k, v in want.items()
           if got.get(k) != str(v)}
    check(not bad, "apierr (got, expected): %r" % bad)


def with_finish():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 2}
    with Server("taskerr", server=cfg, tables=TABLES) as srv:
        srv.start()
        c = conns_per_worker(srv.port, 2)[0]
        in_task_worker(srv, c)
        fire_and_forget(srv, c)
        apierr(c)
        c.close()
        srv.stop()


def without_finish():
    cfg = {"worker_num": 1, "reactor_num": 1, "task_worker_num": 1}
    with Server("nofinish", server=cfg, tables=TABLES,
                plugins=[taskprobe(TASKPROBE_NOFINISH)]) as srv:
        srv.start()
        c = conns_per_worker(srv.port, 1)[0]
        tid = int(c.expect("task 0 tincr counters nf n 1", "task ")
                  .split()[1])
        srv.wait_log(r"swx_finish: task %d from worker 0 wants no result "
                     r"\(its plugin has no on_finish\)" % tid)
        srv.wait_log(r"task %d wants no result: swx_finish returned %d"
                     % (tid, EINVAL))
        wait_value(lambda: c.cmd("tget counters nf n"), "tget 0 1",
                   what="the task ran")
        for i in range(20):
            c.expect("task -1 echo %d" % i, "task ")
        wait_value(lambda: c.st()["tasking_num"], 0, what="tasking_num 0")
        check(c.cmd("ping").startswith("pong 0 "), "the worker is alive")
        c.close()
        srv.stop()


def no_task_workers():
    cfg = {"worker_num": 1, "reactor_num": 1}
    with Server("notasks", server=cfg) as srv:
        srv.start()
        c = conns_per_worker(srv.port, 1)[0]
        check(c.cmd("task 0 echo x") == "task ERR %d" % ENOTSUP, "swx_task")
        check(c.cmd("task -1 echo x") == "task ERR %d" % ENOTSUP,
              "swx_task -1")
        check(c.cmd("wait 100 -1 echo x") == "wait %d " % ENOTSUP,
              "swx_taskwait")
        check(c.cmd("msg 0 x") == "msg %d" % EINVAL, "a message to self")
        check(c.cmd("tget counters x n") == "tget usage", "no table")
        c.close()
        srv.stop()


def main():
    with_finish()
    without_finish()
    no_task_workers()


if __name__ == "__main__":
    run(main)
