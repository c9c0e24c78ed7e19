"""test_task_big.py: big tasks and results through swx_task and
swx_taskwait, checked byte by byte on both sides (the task worker checks
the task, the worker the result).

- with the default task_max_size (8 MiB): tasks and results of 33 B, the
  largest inline frame (60 KiB) and one byte more (a memfd), 1 MiB, and
  exactly 8 MiB both ways arrive intact;
- 8 MiB + 1 is refused with -E2BIG (-7) to the caller of swx_task and of
  swx_taskwait, and a result of 8 MiB + 1 with -E2BIG to the caller of
  swx_finish (which then sends a short result instead);
- with task_max_size 65536 the limit moves with it.
"""

from task_helper import E2BIG, Server, TABLES, check, conns_per_worker, run

MIB = 1 << 20
INLINE = 60 * 1024


def big(c, n, reslen=None):
    line = "big %d" % n if reslen is None else "big %d %d" % (n, reslen)
    return c.cmd(line)


def default_limit():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 2}
    with Server("big", server=cfg, tables=TABLES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, 2)
        c = conns[0]
        for n in (33, INLINE, INLINE + 1, MIB, 8 * MIB):
            r = big(c, n)
            check(r == "big ok %d %d" % (n, n), "big %d: %r" % (n, r))
        r = big(c, 40, 8 * MIB)
        check(r == "big ok 40 %d" % (8 * MIB), "8 MiB result: %r" % r)
        r = conns[1].cmd("bigwait 60000 %d" % (8 * MIB))
        check(r == "bigwait ok %d %d" % (8 * MIB, 8 * MIB),
              "8 MiB through swx_taskwait: %r" % r)
        check(big(c, 8 * MIB + 1) == "big err %d" % E2BIG,
              "a task of 8 MiB + 1 must be refused with -E2BIG")
        r = conns[1].cmd("bigwait 60000 %d" % (8 * MIB + 1))
        check(r == "bigwait err %d" % E2BIG, "swx_taskwait of 8 MiB + 1: %r"
              % r)
        r = big(c, 40, 8 * MIB + 1)
        check(r == "big ERR: finish %d" % E2BIG,
              "a result of 8 MiB + 1: swx_finish should say -E2BIG: %r" % r)
        srv.wait_log(r"swx_finish returned %d" % E2BIG)
        # Several at once, from both workers.
        for w in conns.values():
            for n in (MIB, 3 * MIB, INLINE + 7):
                w.send("big %d" % n)
        for w in conns.values():
            got = sorted(w.line() for _ in range(3))
            want = sorted("big ok %d %d" % (n, n)
                          for n in (MIB, 3 * MIB, INLINE + 7))
            check(got == want, "concurrent big tasks: %r" % got)
        for w in conns.values():
            w.close()
        srv.stop()


def small_limit():
    cfg = {"worker_num": 1, "reactor_num": 1, "task_worker_num": 1,
           "task_max_size": 65536}
    with Server("bigsmall", server=cfg, tables=TABLES) as srv:
        srv.start()
        c = conns_per_worker(srv.port, 1)[0]
        check(big(c, 65536) == "big ok 65536 65536", "65536 is allowed")
        check(big(c, 65537) == "big err %d" % E2BIG, "65537 is not")
        check(big(c, 40, 65537) == "big ERR: finish %d" % E2BIG,
              "nor a result of 65537")
        check(c.cmd("bigmsg 1 70000") == "bigmsg %d" % E2BIG,
              "a message over task_max_size")
        check(c.cmd("bigmsg 1 60000") == "bigmsg 0", "a message under it")
        r = c.line()
        check(r == "pipe 0 1 ack:1:0:bigmsg 60000 ok", "its ack: %r" % r)
        c.close()
        srv.stop()


def main():
    default_limit()
    small_limit()


if __name__ == "__main__":
    run(main)
