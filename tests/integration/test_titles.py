"""test_titles.py: ps shows each process's role: "swx-server: master",
"swx-server: manager", "swx-server: worker N" (from /proc/PID/cmdline), and
comm (what top shows) says the same in 15 characters."""

import os
import signal

import swx_harness as h

WORKERS = 3


def main():
    with h.Server("titles", server={"worker_num": WORKERS,
                                    "reactor_num": 2}) as srv:
        srv.start()
        h.check(h.proc_cmdline(srv.pid) == "swx-server: master",
                "master title %r" % h.proc_cmdline(srv.pid))
        mgr = srv.manager_pid()
        h.check(mgr is not None, "no child titled 'swx-server: manager' "
                "under the master; children: %s"
                % [(p, h.proc_cmdline(p)) for p in h.children_of(srv.pid)])
        kids = h.children_of(srv.pid)
        h.check(kids == [mgr], "the master has children other than the "
                "manager: %s" % [(p, h.proc_cmdline(p)) for p in kids])
        workers = srv.workers()
        h.check(sorted(workers) == list(range(WORKERS)),
                "worker ids %s" % sorted(workers))
        wkids = h.children_of(mgr)
        h.check(sorted(wkids) == sorted(workers.values()),
                "the manager's children %s are not the workers %s"
                % ([(p, h.proc_cmdline(p)) for p in wkids], workers))
        h.check(srv.tree() == sorted([mgr] + list(workers.values())),
                "the process tree is not master > manager > workers")
        comms = {p: h.proc_comm(p) for p in [srv.pid, mgr] +
                 list(workers.values())}
        h.log("master %d %r, manager %d %r, workers %s"
              % (srv.pid, comms[srv.pid], mgr, comms[mgr],
                 {i: (p, comms[p]) for i, p in workers.items()}))
        h.check(comms[srv.pid] == "swx-master", "master comm %r"
                % comms[srv.pid])
        h.check(comms[mgr] == "swx-manager", "manager comm %r" % comms[mgr])
        for i, p in workers.items():
            h.check(comms[p] == "swx-worker %d" % i, "worker %d comm %r"
                    % (i, comms[p]))
        # A replacement worker takes the same title.
        victim = workers[1]
        os.kill(victim, signal.SIGKILL)
        after = srv.wait_workers(WORKERS, 30, exclude=[victim])
        h.check(h.proc_cmdline(after[1]) == "swx-server: worker 1",
                "replacement title %r" % h.proc_cmdline(after[1]))
        srv.stop()


if __name__ == "__main__":
    h.main(main)
