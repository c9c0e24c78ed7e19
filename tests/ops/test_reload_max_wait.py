"""test_reload_max_wait.py: a request an old worker is handling when a
reload comes is finished and answered by that worker; an old worker still
busy max_wait_time after the reload asked it to retire is killed (and
logged), and the reload completes without waiting for it."""

import os
import signal
import time

from ops_helper import h
import ops_helper as o


def in_flight_and_max_wait():
    probe = {"name": "probe", "path": h.PROBE}
    max_wait = 2
    with o.Server("reload-wait", server={"worker_num": 1, "reactor_num": 1,
                                         "max_wait_time": max_wait},
                  plugins=[probe]) as srv:
        srv.start()
        first = srv.workers()[0]
        # A request being handled when the reload comes is answered.
        with h.connect(srv.port, timeout=60) as s:
            s.sendall(b"sleep 1000 FINISHED\n")
            srv.wait_log(r"probe: session \d+: sleeping 1000 ms")
            os.kill(srv.pid, signal.SIGUSR1)
            o.check(h.recv_line(s) == b"FINISHED\n", "in-flight reply")
            srv.wait_log(r"reload done", timeout=60)
            o.check(h.request(s, b"after\n") == b"after\n", "echo after")
        h.log("a request inside the old worker during the reload was "
              "answered")

        # One that takes far longer than max_wait_time does not hold the
        # reload up for longer than that: the old worker is killed.
        stuck_ms = 30000
        old = srv.wait_workers(1, 30, exclude=[first])[0]
        with h.connect(srv.port, timeout=60) as s:
            s.sendall(b"sleep %d STUCK\n" % stuck_ms)
            srv.wait_log(r"probe: session \d+: sleeping %d ms" % stuck_ms)
            t0 = time.monotonic()
            os.kill(srv.pid, signal.SIGUSR1)
            srv.wait_log(r"manager: reload: starting", count=2)
            limit = max_wait + (15 if o.SLOW else 6)
            try:
                srv.wait_log(r"reload done", count=2, timeout=limit)
            except h.TestFailure:
                raise h.TestFailure(
                    "a reload waited more than max_wait_time (%d s) + %d s "
                    "for an old worker busy in a callback; it should have "
                    "been killed once max_wait_time had passed since it was "
                    "asked to retire" % (max_wait, limit - max_wait))
            took = time.monotonic() - t0
            o.check(took >= max_wait - 0.3, "the old worker was killed %.1f s "
                    "after the reload began, before max_wait_time (%d s)"
                    % (took, max_wait))
            srv.wait_log(r"old worker 0 \(pid %d\) still running after "
                         r"max_wait_time" % old, timeout=10)
            h.wait_until(lambda: not h.alive(old), 10,
                         what="the old worker to be killed")
            h.log("a reload with an old worker stuck in a callback finished "
                  "in %.1f s (max_wait_time %d)" % (took, max_wait))
        o.check(o.ask(srv.port, b"fine\n") == b"fine\n", "echo after")
        srv.stop()


def main():
    in_flight_and_max_wait()


if __name__ == "__main__":
    h.main(main)
