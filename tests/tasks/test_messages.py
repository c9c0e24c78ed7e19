"""test_messages.py: swx_send_message between every kind of process, and
on_pipe_message with the sender's id.

Ids: workers 0 and 1, task workers 2 and 3, user process 4 ("ticker").
- worker -> worker: on_pipe_message in worker 1 with src 0;
- worker -> task worker and worker -> user process: they answer the
  sender with a message of their own (task worker/process -> worker);
- task worker -> worker from inside on_task;
- the user process's timer sends "tick" messages to worker 0 on its own;
- a message to yourself, or to an id that does not exist, is -EINVAL; a
  message over task_max_size is -E2BIG; a 4 MiB message arrives intact;
- 200 messages from one sender arrive all, in the order sent.
"""

import re

from task_helper import (E2BIG, EINVAL, PROCESSES, Server, TABLES, check,
                         conns_per_worker, parse_result, run, wait_value)


def two_lines(c, line):
    """Send a command that gets its reply and a "pipe" line, in either
    order (two processes write them); (reply, pipe line)."""
    c.send(line)
    got = [c.line(), c.line()]
    pipe = [x for x in got if x.startswith("pipe ")]
    rest = [x for x in got if not x.startswith("pipe ")]
    check(len(pipe) == 1 and len(rest) == 1, "%r: got %r" % (line, got))
    return rest[0], pipe[0]


def between_kinds(srv, c0, c1):
    r, p = two_lines(c0, "msg 1 hello-w1")
    check(r == "msg 0" and p == "pipe 1 0 hello-w1", "w0->w1: %r %r"
          % (r, p))
    srv.wait_log(r"taskprobe: 1 got message from 0: hello-w1")
    r, p = two_lines(c1, "msg 0 hello-w0")
    check(r == "msg 0" and p == "pipe 0 1 hello-w0", "w1->w0: %r %r"
          % (r, p))
    for tw in (2, 3):
        r, p = two_lines(c0, "msg %d to-task" % tw)
        check(r == "msg 0" and p == "pipe 0 %d ack:%d:0:to-task" % (tw, tw),
              "w0->task worker %d->w0: %r %r" % (tw, r, p))
        srv.wait_log(r"taskprobe: %d got message from 0: to-task" % tw)
    r, p = two_lines(c1, "msg 4 to-process")
    check(r == "msg 0" and p == "pipe 1 4 ack:4:1:to-process",
          "w1->process->w1: %r %r" % (r, p))
    srv.wait_log(r"taskprobe: 4 got message from 1: to-process")


def from_on_task(c0):
    sid = int(c0.cmd("sid").split()[1])
    c0.send("task 1 msgto 1 %d from-task" % sid)
    lines = [c0.line() for _ in range(3)]
    pipe = [x for x in lines if x.startswith("pipe ")]
    check(pipe == ["pipe 1 3 from-task"], "task worker 1 (id 3) -> worker "
          "1: %r" % lines)
    fin = [x for x in lines if x.startswith("finish ")]
    check(len(fin) == 1, "the task's result: %r" % lines)
    out, f = parse_result(fin[0].split(" ", 2)[2])
    check(out == "msgto 0" and f["tw"] == 1, "swx_send_message in on_task: "
          "%r" % out)
    c0.send("task 0 msgto 2 %d self" % sid)
    c0.line()
    out, _ = parse_result(c0.line().split(" ", 2)[2])
    check(out == "msgto %d" % EINVAL, "a task worker to itself: %r" % out)


def refusals(c0):
    for dst in (0, -1, 5, 1000):
        check(c0.cmd("msg %d x" % dst) == "msg %d" % EINVAL,
              "a message to %d" % dst)
    check(c0.cmd("bigmsg 1 %d" % (8 << 20)) == "bigmsg %d" % E2BIG,
          "over task_max_size")
    r, p = two_lines(c0, "bigmsg 1 %d" % (4 << 20))
    check(r == "bigmsg 0" and p == "pipe 1 0 bigmsg %d ok" % (4 << 20),
          "4 MiB message: %r %r" % (r, p))


def in_order(c0, n=200):
    for i in range(n):
        c0.send("msg 1 m%d" % i)
    lines = [c0.line() for _ in range(2 * n)]
    replies = [x for x in lines if not x.startswith("pipe ")]
    check(replies == ["msg 0"] * n, "some message was refused: %r"
          % sorted(set(replies)))
    got = [x for x in lines if x.startswith("pipe ")]
    check(got == ["pipe 1 0 m%d" % i for i in range(n)],
          "messages lost or out of order: %r" % got[:10])


def ticks(c0):
    def seen():
        r = c0.cmd("tget counters ticks-seen n").split()
        return int(r[2]) if r[1] == "0" else 0
    first = seen()
    wait_value(lambda: seen() >= first + 3, True, what="ticks from the "
               "user process")


def main():
    cfg = {"worker_num": 2, "reactor_num": 2, "task_worker_num": 2}
    with Server("messages", server=cfg, tables=TABLES,
                processes=PROCESSES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, 2)
        between_kinds(srv, conns[0], conns[1])
        from_on_task(conns[0])
        refusals(conns[0])
        in_order(conns[0])
        ticks(conns[0])
        check(not re.search(r"\[(warning|error)\]", srv.log_text()),
              "warnings in the log")
        for c in conns.values():
            c.close()
        srv.stop()


if __name__ == "__main__":
    run(main)
