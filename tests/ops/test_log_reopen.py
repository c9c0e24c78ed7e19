"""test_log_reopen.py: log rotation. With log_file set, the file is moved
away (as logrotate does) and `swx-server -s reopen` (SIGRTMIN) is sent:
the file appears again at the same path, and lines from the master, the
manager and every worker land in it, not in the moved file. Workers
started afterwards (a reload) write to the new file too. A second
rotation by signal works the same way."""

import os
import re
import signal
import time

from ops_helper import h
import ops_helper as o

WORKERS = 2


def lines(path, regex):
    return re.findall(regex, o.read_text(path), re.M)


def worker_lines_in(path, tag, pids):
    """Every worker of pids has written a line with tag to path."""
    got = set(int(p) for p in lines(
        path, r"^\S+ \S+ \[notice\] (\d+) worker \d+: version 1: log %s"
        % re.escape(tag)))
    return got >= set(pids)


def rotate(srv, log_file, n, via_command):
    moved = "%s.%d" % (log_file, n)
    reloads_before = len(lines(log_file, r"reload: starting"))
    os.rename(log_file, moved)
    if via_command:
        rc, out, err = h.run_cli(["--config", srv.config_path, "-s",
                                  "reopen"])
        o.check(rc == 0, "-s reopen: exit %d, %s%s" % (rc, out, err))
    else:
        os.kill(srv.pid, signal.SIGRTMIN)
    o.wait_file(log_file, r"master: log file reopened")
    workers = srv.workers()
    # Round robin over one reactor: requests alternate between the
    # workers. Keep asking until each worker's line is in the new file
    # (a request can reach a worker just before it reopened).
    tag = "after-rotation-%d" % n
    deadline = time.monotonic() + 30
    k = 0
    while not worker_lines_in(log_file, tag, workers.values()):
        o.check(time.monotonic() < deadline, "workers' lines did not "
                "reach the new log file")
        # A connection each: in base mode a connection stays with the
        # worker that accepted it, and new ones go round the workers.
        with h.connect(srv.port, timeout=20) as s:
            msg = b"log %s %d\n" % (tag.encode(), k)
            o.check(h.request(s, msg) == b"v1:" + msg, "reply")
        k += 1
        time.sleep(0.01)
    # The workers reopen after the manager (it passes the signal on), so
    # from here the manager writes to the new file: a reload's lines must
    # be there, and the new workers' lines too.
    before = len(lines(log_file, r"reload done"))
    os.kill(srv.pid, signal.SIGUSR1)
    o.wait_file(log_file, r"manager: reload done", count=before + 1)
    new = srv.wait_workers(WORKERS, 30, exclude=workers.values())
    o.wait_file(log_file, r"worker \d+: version 1: worker \d+ \(pid (%s)\) "
                r"started" % "|".join(str(p) for p in new.values()),
                count=WORKERS)
    o.check(len(lines(moved, r"reload: starting")) == reloads_before,
            "the manager's lines went to the moved file %s after the "
            "reopen" % moved)
    h.log("rotation %d (%s): master, manager, workers %s and new workers "
          "%s write to the new file" % (n, "-s reopen" if via_command
                                        else "SIGRTMIN",
                                        sorted(workers.values()),
                                        sorted(new.values())))
    return moved


def main():
    o.require(o.V1)
    with o.Server("log-reopen", server={"worker_num": WORKERS,
                                        "reactor_num": 1,
                                        "dispatch_mode": 1}) as srv:
        log_file = os.path.join(srv.dir, "swx.log")
        srv.server_cfg["log_file"] = log_file
        srv.server_cfg["pid_file"] = os.path.join(srv.dir, "swx.pid")
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.write_config()
        srv.start()
        o.wait_file(log_file, r"master: swx-server \S+ started")
        with h.connect(srv.port) as s:
            h.request(s, b"log before-rotation\n")
        o.wait_file(log_file, r"version 1: log before-rotation")

        moved1 = rotate(srv, log_file, 1, via_command=True)
        moved2 = rotate(srv, log_file, 2, via_command=False)
        o.check(lines(moved1, r"before-rotation"), "first file lost lines")
        srv.stop()
        o.wait_file(log_file, r"master: stopped")
        for p in (log_file, moved1, moved2):
            o.check_clean(p)
        o.check(not o.read_text(srv.log_path).strip(),
                "lines went to standard error despite log_file: %r"
                % o.read_text(srv.log_path)[:500])


if __name__ == "__main__":
    h.main(main)
