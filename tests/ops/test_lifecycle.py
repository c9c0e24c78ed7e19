"""test_lifecycle.py: the ABI 1.1 lifecycle callbacks, each run in the
process the SDK documents, at the moment it documents, with the plugin's
own config:

- start-up: on_start in the master, on_manager_start in the manager,
  on_worker_start in every worker;
- a worker killed by SIGKILL: on_worker_error(id, pid, 0, 9) in the
  manager; a worker that exits with status 7: on_worker_error(id, pid, 7, 0);
- a reload: on_worker_exit then on_worker_stop in every old worker;
- a stop: on_before_shutdown in the master first (ABI 1.5), then
  on_worker_stop in every worker, then on_manager_stop in the manager,
  then on_shutdown in the master, in that order."""

import os
import signal

from ops_helper import h
import ops_helper as o

WORKERS = 2


def events(path):
    out = []
    for line in o.read_text(path).splitlines():
        parts = line.split()
        out.append((parts[0],) + tuple(int(x) for x in parts[1:]))
    return out


def wait_events(path, pred, what, timeout=30):
    return h.wait_until(lambda: [e for e in events(path) if pred(e)] or None,
                        timeout, what=what)


def main():
    o.require(o.LIFECYCLE)
    with o.Server("lifecycle", server={"worker_num": WORKERS,
                                       "reactor_num": 1}) as srv:
        ev = os.path.join(srv.dir, "events")
        srv.plugins = [{"name": "lc", "path": o.LIFECYCLE,
                        "config": {"events_file": ev}}]
        srv.write_config()
        srv.start()
        mgr = srv.manager_pid()
        workers = srv.workers()
        wait_events(ev, lambda e: e[0] == "start", "on_start")
        h.wait_until(lambda: len([e for e in events(ev)
                                  if e[0] == "worker_start"]) == WORKERS, 30,
                     what="on_worker_start in every worker")
        got = events(ev)
        o.check(("start", srv.pid) in got, "on_start not in the master: %s"
                % got)
        o.check(("manager_start", mgr) in got, "on_manager_start not in the "
                "manager: %s" % got)
        o.check(sorted(e[1:] for e in got if e[0] == "worker_start") ==
                sorted((p, i) for i, p in workers.items()),
                "on_worker_start: %s, workers %s" % (got, workers))
        o.check(got.index(("manager_start", mgr)) <
                min(i for i, e in enumerate(got) if e[0] == "worker_start"),
                "on_manager_start ran after a worker started")
        with h.connect(srv.port) as s:
            o.check(h.request(s, b"echo\n") == b"echo\n", "echo")
        h.log("start-up: on_start (master %d), on_manager_start (manager %d),"
              " on_worker_start %s" % (srv.pid, mgr, sorted(workers.items())))

        # A worker killed by a signal, then one that exits with status 7.
        os.kill(workers[0], signal.SIGKILL)
        e = wait_events(ev, lambda e: e[0] == "worker_error",
                        "on_worker_error after SIGKILL")[0]
        o.check(e == ("worker_error", mgr, 0, workers[0], 0, 9),
                "on_worker_error after SIGKILL: %s" % (e,))
        now = srv.wait_workers(WORKERS, 30, exclude=[workers[0]])
        with h.connect(srv.port) as s:
            s.sendall(b"exit 7\n")
        e = wait_events(ev, lambda e: e[0] == "worker_error" and e[4] == 7,
                        "on_worker_error after exit(7)")[0]
        o.check(e[1] == mgr and e[5] == 0 and now.get(e[2]) == e[3],
                "on_worker_error after exit(7): %s, workers %s" % (e, now))
        h.log("on_worker_error: %s" % [e for e in events(ev)
                                       if e[0] == "worker_error"])

        # Reload: on_worker_exit, then on_worker_stop, in each old worker.
        old = srv.wait_workers(WORKERS, 30, exclude=[workers[0], e[3]])
        h.wait_until(lambda: len(o.worker_procs(srv)) == WORKERS, 30,
                     what="exactly %d worker processes" % WORKERS)
        mark = len(events(ev))
        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"reload done", timeout=60)
        for i, p in old.items():
            wait_events(ev, lambda e, p=p: e[0] == "worker_stop" and
                        e[1] == p, "on_worker_stop in old worker %d" % p)
        new = events(ev)[mark:]
        for i, p in old.items():
            exits = [k for k, e in enumerate(new)
                     if e == ("worker_exit", p, i)]
            stops = [k for k, e in enumerate(new)
                     if e == ("worker_stop", p, i)]
            o.check(len(exits) == 1 and len(stops) == 1 and
                    exits[0] < stops[0], "old worker %d (pid %d): expected "
                    "worker_exit then worker_stop, got %s" % (i, p, new))
        o.check(not [e for e in new if e[0] == "worker_error"],
                "a reload reported worker errors: %s" % new)
        h.log("reload: on_worker_exit then on_worker_stop in %s"
              % sorted(old.values()))

        # Stop.
        last = srv.wait_workers(WORKERS, 30, exclude=old.values())
        mark = len(events(ev))
        srv.stop()
        tail = events(ev)[mark:]
        order = [e[0] for e in tail]
        o.check(sorted(e[1:] for e in tail if e[0] == "worker_stop") ==
                sorted((p, i) for i, p in last.items()),
                "on_worker_stop at stop: %s, workers %s" % (tail, last))
        o.check(order.count("manager_stop") == 1 and
                order.count("shutdown") == 1, "stop events: %s" % tail)
        o.check(("manager_stop", mgr) in tail and ("shutdown", srv.pid) in
                tail, "manager_stop/shutdown in the wrong process: %s" % tail)
        o.check(order.index("manager_stop") < order.index("shutdown") and
                max(k for k, e in enumerate(order) if e == "worker_stop") <
                order.index("manager_stop"),
                "stop events out of order: %s" % order)
        o.check(order[:2] == ["before_shutdown", "before_shutdown_done"] and
                tail[0] == ("before_shutdown", srv.pid, 0) and
                order.count("before_shutdown") == 1,
                "on_before_shutdown not first, once, in the master: %s"
                % tail)
        o.check(not [e for e in tail if e[0] == "worker_error"],
                "a stop reported worker errors: %s" % tail)
        h.log("stop: %s" % order)


if __name__ == "__main__":
    h.main(main)
