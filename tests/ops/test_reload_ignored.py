"""test_reload_ignored.py: a reload requested while one is in progress (by
SIGUSR1 or POST /reload) is ignored and logged; the reload in progress
completes, and only it is counted (reload_count 1). The standby workers
are made slow to start (start_delay_ms) so that the window is wide."""

import os
import signal

from ops_helper import h
import ops_helper as o

WORKERS = 2


def ignored():
    start_delay = 1500
    with o.Server("reload-ignored",
                  server={"worker_num": WORKERS, "reactor_num": 1},
                  admin={"port": h.free_port()}) as srv:
        srv.plugins = [{"name": "app", "path": o.V1,
                        "config": {"start_delay_ms": start_delay}}]
        srv.write_config()
        srv.start()
        srv.wait_log(r"version 1: worker \d+ \(pid \d+\) started",
                     count=WORKERS, timeout=60)
        load = o.Load(srv.port, persistent=2, churn=1).start()
        load.wait_requests(50)
        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"manager: reload: starting")
        # The standby workers sleep in on_worker_start: the window is wide.
        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"reload requested while one is in progress; ignored")
        o.post_reload(srv.admin)
        srv.wait_log(r"reload requested while one is in progress; ignored",
                     count=2)
        o.check(o.count_log(srv, r"reload done") == 0,
                "the reload finished before the second request was made; "
                "the test's window (start_delay_ms %d) is too narrow"
                % start_delay)
        srv.wait_log(r"reload done", timeout=60)
        load.wait_requests(50)
        load.stop()
        load.check_clean()
        st = o.stats(srv.admin)
        o.check(st["reload_count"] == 1, "reload_count %s, expected 1"
                % st["reload_count"])
        o.check(o.count_log(srv, r"reload: starting") == 1,
                "more than one reload started")
        h.log("ignored: 2 reload requests during a reload ignored; "
              "reload_count 1; %d requests, none failed" % load.count())
        srv.stop()


def main():
    o.require(o.V1)
    ignored()


if __name__ == "__main__":
    h.main(main)
