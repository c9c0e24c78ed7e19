"""test_daemon.py: daemonize with a pid file.

- `swx-server --config F` returns 0 once the server serves; the pid file
  names the running master, titled "swx-server: master", in a session of
  its own, with standard input and output on /dev/null; the log goes to
  log_file.
- A second start with the same pid_file is refused (exit 1, a message in
  the log naming the pid file and the running pid), also on the same port;
  neither attempt disturbs the pid file or the running server.
- `swx-server -s stop` stops it: the master exits 0, the pid file is
  removed, no process is left; `-s stop` then says the server is not
  running."""

import os
import re
import time

from ops_helper import h
import ops_helper as o


def daemon_config(srv, port, pid_file, log_file):
    srv.server_cfg.update({"worker_num": 2, "reactor_num": 1,
                           "daemonize": True, "pid_file": pid_file,
                           "log_file": log_file})
    srv.port = port
    srv.write_config()


def read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


def main():
    o.require(o.V1)
    with o.Server("daemon") as srv:
        # The harness cleans up what it started itself; a daemon it did not
        # start is this test's to kill if the test fails half-way.
        daemons = []
        try:
            run(srv, daemons)
        finally:
            left = [p for p in daemons if h.alive(p)]
            for p in left:
                tree = [p] + h.descendants_of(p)
                o.kill_quietly(p)
                h.wait_until(lambda: o.all_gone(tree), 30,
                             what="the daemon to die")
            if left:
                h.log("killed daemon(s) left running: %s" % left)


def run(srv, daemons):
    pid_file = os.path.join(srv.dir, "swx.pid")
    log_file = os.path.join(srv.dir, "swx.log")
    srv.plugins = [{"name": "app", "path": o.V1}]
    daemon_config(srv, srv.port, pid_file, log_file)

    t0 = time.monotonic()
    rc, out, err = h.run_cli(["--config", srv.config_path], timeout=60)
    took = time.monotonic() - t0
    o.check(rc == 0, "daemonized start: exit %d, stdout %r, stderr %r"
            % (rc, out, err))
    pid = read_pid(pid_file)
    daemons.append(pid)
    srv.note([pid])
    h.log("started in %.2f s; pid file names %d" % (took, pid))
    o.check(h.alive(pid), "the pid file names %d, which is not running"
            % pid)
    o.check(h.proc_cmdline(pid) == "swx-server: master",
            "pid %d is titled %r" % (pid, h.proc_cmdline(pid)))
    o.check(os.getsid(pid) == pid, "the master is not a session leader "
            "(sid %d)" % os.getsid(pid))
    for fd in (0, 1, 2):
        target = os.readlink("/proc/%d/fd/%d" % (pid, fd))
        o.check(target == "/dev/null", "the daemon's fd %d is %s, "
                "expected /dev/null" % (fd, target))
    # Serving as soon as the command returned.
    o.check(o.ask(srv.port, b"up?\n") == b"v1:up?\n", "no answer")
    o.wait_file(log_file, r"master: swx-server \S+ started")
    tree = [pid] + h.descendants_of(pid)
    srv.note(tree)

    # Same pid file, another port: refused because of the pid file.
    port1 = srv.port
    daemon_config(srv, h.free_port(), pid_file, log_file)
    rc, out, err = h.run_cli(["--config", srv.config_path], timeout=60)
    o.check(rc == 1, "second start with the same pid_file: exit %d, "
            "expected 1" % rc)
    # Its background half exited; it was re-parented to this process.
    h.wait_until(lambda: o.reap_orphans() == [pid], 10,
                 what="the refused server's process to exit")
    o.wait_file(log_file, r"server\.pid_file: %s names pid %d, which is "
                r"running" % (re.escape(pid_file), pid), timeout=10)
    h.log("second start refused: %s"
          % re.search(r"[^\n]*names pid[^\n]*",
                      o.read_text(log_file)).group(0))
    if not err.strip():
        h.log("note: the refusal is written to log_file only; the "
              "command printed nothing on its standard error")
    # Same pid file and the same port: refused too.
    daemon_config(srv, port1, pid_file, log_file)
    rc, out, err = h.run_cli(["--config", srv.config_path], timeout=60)
    o.check(rc == 1, "second start on the same port: exit %d" % rc)
    h.wait_until(lambda: o.reap_orphans() == [pid], 10,
                 what="the refused server's process to exit")
    o.check(read_pid(pid_file) == pid, "a refused start changed the pid "
            "file")
    o.check(o.ask(srv.port, b"still up?\n") == b"v1:still up?\n",
            "the running server was disturbed")

    # The daemon was re-parented to this process (a subreaper), so its
    # exit status can be read.
    ours = h.proc_stat(pid)[0] == os.getpid()
    rc, out, err = h.run_cli(["--config", srv.config_path, "-s", "stop"])
    o.check(rc == 0, "-s stop: exit %d, %s%s" % (rc, out, err))
    if ours:
        def reaped():
            p, st = os.waitpid(pid, os.WNOHANG)
            return (st,) if p == pid else None
        status, = h.wait_until(reaped, 30, what="the master to exit")
        o.check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
                "the master's wait status is %#x, expected exit 0"
                % status)
    h.wait_until(lambda: o.all_gone(tree), 30,
                 what="the daemon's processes to exit")
    o.check(not os.path.exists(pid_file), "pid file left behind")
    srv.check_no_leftovers(tree)
    o.wait_file(log_file, r"master: stopped")
    o.check_clean(log_file)
    rc, out, err = h.run_cli(["--config", srv.config_path, "-s", "stop"])
    o.check(rc == 1 and "is the server running?" in err,
            "-s stop with no server: exit %d, %r" % (rc, err))
    h.log("-s stop: stopped, pid file removed; then: %s" % err.strip())


if __name__ == "__main__":
    h.main(main)
