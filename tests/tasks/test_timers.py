"""test_timers.py: timers, fds and deferred calls in a worker's loop.

- 10 000 one-shot timers with delays 0..250 ms, made in one callback in
  an order unrelated to their delays: each fires once, never before its
  delay, in the order of due time and, for the same due time, of creation
  (the plugin checks each pair as it fires);
- a repeating timer clears itself from its callback on its 3rd run and
  runs no more; a one-shot clears itself (0) and a pending timer, which
  never runs; clearing a cleared timer is -ENOENT;
- swx_event_add with a socketpair of the plugin's own: writable, then
  readable, then end of file once the peer is closed;
- swx_event_defer: after the current callback, in order; one deferred
  from a deferred call runs after those;
- the worker keeps serving other connections while its timers run.
"""

from task_helper import Conn, Server, check, conns_per_worker, log, run


def main():
    cfg = {"worker_num": 2, "reactor_num": 1}
    with Server("timers", server=cfg) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, 2)
        c = conns[0]
        c.send("timers 10000 250")
        # Another client of the same worker while the timers run.
        for _ in range(20):
            with Conn(srv.port) as o:
                o.pid()
        r = c.line()
        check(r == "timers ok 10000", "10 000 timers: %r" % r)
        r = conns[1].cmd("timers 500 0")
        check(r == "timers ok 500", "500 timers due at once: %r" % r)
        r = c.cmd("tclear")
        check(r.startswith("tclear ok "), "clearing timers: %r" % r)
        r = c.cmd("events")
        check(r.startswith("events ok got=ping writes=1 "), "fds: %r" % r)
        log("  %s" % r)
        r = c.cmd("defer")
        check(r == "defer ok cmd,d1,d2,inner", "deferred calls: %r" % r)
        for _ in range(3):
            check(c.cmd("timers 1000 30") == "timers ok 1000", "again")
        for x in conns.values():
            x.close()
        srv.stop()


if __name__ == "__main__":
    run(main)
