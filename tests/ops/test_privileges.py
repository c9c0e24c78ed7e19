"""test_privileges.py: "user": "nobody". The master binds and stays root;
the workers run as nobody (uid, gid, no root group), and so do the workers
a reload starts; serving works; after a log rotation the workers can still
write to the new log file (the master creates it for them). Skipped (exit
77) when not run as root or when there is no user "nobody"."""

import os
import pwd
import re
import signal
import sys

from ops_helper import h
import ops_helper as o

WORKERS = 2


def check_worker_ids(pids, pw):
    for p in pids:
        uid, gid = o.proc_ids(p, "Uid"), o.proc_ids(p, "Gid")
        o.check(uid == [pw.pw_uid] * 4, "worker %d: Uid %s, expected %d"
                % (p, uid, pw.pw_uid))
        o.check(gid == [pw.pw_gid] * 4, "worker %d: Gid %s, expected %d"
                % (p, gid, pw.pw_gid))
        o.check(0 not in o.proc_groups(p), "worker %d keeps group 0: %s"
                % (p, o.proc_groups(p)))


def low_port():
    """A free port below 1024: only root may bind it."""
    import socket
    for port in range(1023, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise h.TestFailure("no free port below 1024")


def main():
    pw = pwd.getpwnam("nobody")
    with o.Server("privileges", server={"worker_num": WORKERS,
                                        "reactor_num": 1,
                                        "dispatch_mode": 1,
                                        "user": "nobody"}) as srv:
        # The workers reopen the log after a rotation: they must be able
        # to reach it.
        os.chmod(srv.dir, 0o755)
        log_file = os.path.join(srv.dir, "swx.log")
        srv.server_cfg["log_file"] = log_file
        srv.plugins = [{"name": "app", "path": o.V1}]
        privileged = low_port()
        srv.listeners = [
            {"type": "tcp", "host": "127.0.0.1", "port": srv.port,
             "plugin": "app"},
            {"type": "tcp", "host": "127.0.0.1", "port": privileged,
             "plugin": "app"}]
        srv.write_config()
        srv.start()
        workers = srv.workers()
        check_worker_ids(workers.values(), pw)
        o.check(o.proc_ids(srv.pid, "Uid") == [0, 0, 0, 0],
                "the master is not root: %s" % o.proc_ids(srv.pid, "Uid"))
        mgr = srv.manager_pid()
        h.log("master uid %s, manager uid %s, workers %s uid %s"
              % (o.proc_ids(srv.pid, "Uid")[0], o.proc_ids(mgr, "Uid")[0],
                 sorted(workers.values()), pw.pw_uid))
        for i in range(4):
            o.check(o.ask(srv.port, b"as nobody %d\n" % i)
                    == b"v1:as nobody %d\n" % i, "not served")
            o.check(o.ask(privileged, b"port %d\n" % i)
                    == b"v1:port %d\n" % i, "port %d not served" % privileged)
        h.log("port %d (below 1024) bound by the root master, served by "
              "workers running as nobody" % privileged)

        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"reload done", timeout=60)
        new = srv.wait_workers(WORKERS, 30, exclude=workers.values())
        check_worker_ids(new.values(), pw)

        os.rename(log_file, log_file + ".1")
        os.kill(srv.pid, signal.SIGRTMIN)
        o.wait_file(log_file, r"master: log file reopened")
        o.check(os.stat(log_file).st_uid == pw.pw_uid, "the new log file is "
                "owned by uid %d, not by the workers' user"
                % os.stat(log_file).st_uid)
        for i in range(40):
            # A connection each: in base mode a connection stays with the
            # worker that accepted it (in process mode dispatch_mode 1
            # spreads one connection's requests).
            with h.connect(srv.port) as s:
                h.request(s, b"log as-nobody %d\n" % i)
            text = o.read_text(log_file)
            if all("%d worker" % p in text for p in new.values()):
                break
        text = o.read_text(log_file)
        for p in new.values():
            o.check("] %d worker" % p in text, "worker %d (as nobody) wrote "
                    "nothing to the reopened log file" % p)
        o.check(not re.search(r"\[error\] \d+ worker \d+: reopen", text),
                "a worker could not reopen the log file")
        h.log("after a reload and a log rotation the workers %s still run "
              "as nobody and write to the new file" % sorted(new.values()))
        srv.stop()


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: switching workers to another user needs root")
        sys.exit(77)
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        print("SKIP: there is no user \"nobody\"")
        sys.exit(77)
    h.main(main)
