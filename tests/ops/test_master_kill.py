"""test_master_kill.py: a master killed with SIGKILL, under load, takes its
manager and workers with it (PR_SET_PDEATHSIG): within a second no process
of the server is left (zombies re-parented to this test count as gone
once reaped), clients see their connections close, and the port is free.

The limit is 1 s in a plain build; the kernel delivers the death signals at
once, but in an AddressSanitizer build (detected from the binary) process
teardown of the large shadow mappings is slower, so 3 s is allowed
there."""

import os
import signal
import time

from ops_helper import h
import ops_helper as o

WORKERS = 3


def main():
    o.require(o.V1)
    limit = 3.0 if o.SLOW else 1.0
    with o.Server("master-kill", server={"worker_num": WORKERS,
                                         "reactor_num": 2}) as srv:
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.write_config()
        srv.start()
        load = o.Load(srv.port, persistent=4, churn=1).start()
        load.wait_requests(200)
        o.check(not load.failures, "failures before the kill")
        tree = srv.tree()
        o.check(len(tree) == WORKERS + 1, "expected a manager and %d workers,"
                " found %s" % (WORKERS, tree))
        t0 = time.monotonic()
        os.kill(srv.pid, signal.SIGKILL)
        srv.proc.wait(10)
        h.wait_until(lambda: o.all_gone(tree), 30,
                     interval=0.005, what="the manager and workers to go")
        took = time.monotonic() - t0
        h.log("master SIGKILLed: %d processes gone in %.3f s (limit %.1f s%s)"
              % (len(tree), took, limit, ", sanitizer build" if o.SLOW
                 else ""))
        o.check(took <= limit, "the manager and workers took %.2f s to go "
                "after the master was killed; expected at most %.1f s"
                % (took, limit))
        load.stop_ev.set()
        for t in load.threads:
            t.join(40)
        o.check(not any(t.is_alive() for t in load.threads),
                "a client hung after the master died")
        o.check(len(load.failures) <= len(load.threads),
                "more failures than clients: %s" % load.failures)
        for name, what in load.failures:
            h.log("  %s ended with %s" % (name, what))
        h.wait_until(lambda: o.port_bindable(srv.port), 10,
                     what="the port to be free")
        srv.check_no_leftovers(tree)


if __name__ == "__main__":
    h.main(main)
