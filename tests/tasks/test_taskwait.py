"""test_taskwait.py: swx_taskwait and swx_taskwait_multi.

- on_task sleeps past the timeout: -ETIMEDOUT (-110), not before the
  timeout; the result that comes later is discarded (logged "came after its
  swx_taskwait gave up") and reaches neither the next swx_taskwait, which
  gets its own result, nor on_finish;
- a timeout of -1 waits as long as it takes; a bad dst is -EINVAL;
- swx_taskwait_multi returns how many finished within the timeout, with
  each one's status and result in order, and a send error in its slot.
"""

import re
import time

from task_helper import (ETIMEDOUT, EINVAL, Server, TABLES, check,
                         conns_per_worker, log, parse_result, run)

DISCARD = r"result of task (\d+) came after its swx_taskwait gave up"


def wait_ok(c, line, want_out, want_tw=None):
    r = c.cmd(line)
    m = re.fullmatch(r"wait 0 (.*)", r)
    check(m is not None, "%r: %r" % (line, r))
    out, f = parse_result(m.group(1))
    check(out == want_out, "%r: result %r, expected %r" % (line, out,
                                                           want_out))
    if want_tw is not None:
        check(f["tw"] == want_tw, "%r ran in task worker %d" % (line,
                                                                f["tw"]))
    return f


def timeout_then_own_result(srv, c):
    t0 = time.monotonic()
    r = c.cmd("wait 300 0 sleep 1500 late-one")
    took = time.monotonic() - t0
    check(r == "wait %d " % ETIMEDOUT, "expected -ETIMEDOUT, got %r" % r)
    check(took >= 0.28, "swx_taskwait gave up after %.3f s, before its "
          "300 ms" % took)
    # Queued behind the sleeping task: the late result arrives while this
    # one waits, and must not be taken for it.
    wait_ok(c, "wait 30000 0 echo mine", "echo mine", 0)
    srv.wait_log(DISCARD, timeout=30)
    check(c.cmd("ping").startswith("pong "), "a stray line after the wait")


def timeout_then_on_finish(srv, c):
    check(c.cmd("wait 200 1 sleep 1000 late-two") == "wait %d " % ETIMEDOUT,
          "second timeout")
    tid = int(c.expect("task 1 echo after", "task ").split()[1])
    line = c.line()
    m = re.fullmatch(r"finish (\d+) (.*)", line)
    check(m is not None and int(m.group(1)) == tid,
          "on_finish got %r, expected the result of task %d" % (line, tid))
    out, _ = parse_result(m.group(2))
    check(out == "echo after", "on_finish got %r" % out)
    srv.wait_log(DISCARD, timeout=30, count=2)


def multi(srv, c):
    r = c.cmd("multi 1500 echo:a@0 sleep:3000:b@1 echo:c@0")
    parts = r.split(" | ")
    check(parts[0] == "multi 2", "expected 2 of 3 in time: %r" % r)
    check(len(parts) == 4, "three results expected: %r" % r)
    st = [p.split(" ", 1) for p in parts[1:]]
    check(st[0][0] == "0" and parse_result(st[0][1])[0] == "echo a",
          "first: %r" % parts[1])
    check(st[1][0] == str(ETIMEDOUT), "second should time out: %r"
          % parts[2])
    check(st[2][0] == "0" and parse_result(st[2][1])[0] == "echo c",
          "third: %r" % parts[3])
    srv.wait_log(DISCARD, timeout=30, count=3)

    r = c.cmd("multi 30000 echo:x echo:y@1 echo:z@0")
    parts = r.split(" | ")
    check(parts[0] == "multi 3", "all three in time: %r" % r)
    outs = [parse_result(p.split(" ", 1)[1])[0] for p in parts[1:]]
    check(outs == ["echo x", "echo y", "echo z"], "results %r" % outs)

    r = c.cmd("multi 30000 echo:ok@0 echo:bad@7")
    parts = r.split(" | ")
    check(parts[0] == "multi 1" and parts[2].strip() == str(EINVAL),
          "a bad dst fails in its slot: %r" % r)


def main():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 2,
           "log_level": "debug"}
    with Server("taskwait", server=cfg, tables=TABLES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, 2)
        c = conns[0]
        timeout_then_own_result(srv, c)
        timeout_then_on_finish(srv, c)
        wait_ok(c, "wait -1 1 sleep 200 forever", "sleep forever", 1)
        check(c.cmd("wait 1000 2 echo x") == "wait %d " % EINVAL,
              "dst 2 of 2 task workers")
        check(c.cmd("wait 1000 -2 echo x") == "wait %d " % EINVAL, "dst -2")
        multi(srv, conns[1])
        check("on_finish for task" not in srv.log_text(),
              "a result reached a process that was not waiting for it")
        log("late results discarded: %d"
            % len(re.findall(DISCARD, srv.log_text())))
        for x in conns.values():
            x.close()
        srv.stop()


if __name__ == "__main__":
    run(main)
