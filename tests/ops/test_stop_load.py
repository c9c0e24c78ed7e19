"""test_stop_load.py: SIGTERM under load. The listeners close at once (the
ports can be bound again while the server is still draining), a request a
worker is handling is still answered, every other request is either
answered correctly or never read (the client then sees the connection
close, not a wrong or partial reply), the master exits 0, the pid file is
removed and no process of the server is left."""

import os
import signal
import threading
import time

from ops_helper import h
import ops_helper as o

WORKERS = 3


class Client(threading.Thread):
    """Requests on one connection until the server closes it. A reply must
    be complete and right; the only acceptable end is EOF (or a reset)
    while waiting for a reply whose request was never read."""

    def __init__(self, port, idx):
        super().__init__(daemon=True)
        self.port, self.idx = port, idx
        self.ok = 0
        self.error = None
        self.end = None

    def run(self):
        try:
            with h.connect(self.port, timeout=60) as s:
                while True:
                    msg = b"client %d request %d\n" % (self.idx, self.ok)
                    s.sendall(msg)
                    got = b""
                    while not got.endswith(b"\n"):
                        b = s.recv(4096)
                        if not b:
                            break
                        got += b
                    if not got:
                        self.end = "EOF"
                        return
                    if not o.VERSION_RE.match(got) or \
                            got[o.VERSION_RE.match(got).end():] != msg:
                        self.error = "got %r for %r" % (got, msg)
                        return
                    self.ok += 1
                    time.sleep(0.002)
        except ConnectionResetError:
            self.end = "reset"
        except OSError as e:
            if self.ok == 0 and isinstance(e, ConnectionRefusedError):
                self.end = "refused"
            else:
                self.error = repr(e)


def main():
    o.require(o.V1)
    port2 = h.free_port()
    with o.Server("stop-load", server={"worker_num": WORKERS,
                                       "reactor_num": 2,
                                       "max_wait_time": 10}) as srv:
        pid_file = os.path.join(srv.dir, "swx.pid")
        srv.server_cfg["pid_file"] = pid_file
        srv.plugins = [{"name": "app", "path": o.V1},
                       {"name": "probe", "path": h.PROBE}]
        srv.listeners = [
            {"type": "tcp", "host": h.HOST, "port": srv.port, "plugin": "app"},
            {"type": "tcp", "host": h.HOST, "port": port2, "plugin": "probe"}]
        srv.write_config()
        srv.start()
        with open(pid_file) as f:
            o.check(int(f.read()) == srv.pid, "pid file does not name the "
                    "master")
        clients = [Client(srv.port, i) for i in range(8)]
        for c in clients:
            c.start()
        h.wait_until(lambda: all(c.ok >= 30 or c.error for c in clients), 60,
                     what="every client to be under way")
        slow = h.connect(port2, timeout=60)
        slow.sendall(b"sleep 2000 DRAINED\n")
        srv.wait_log(r"probe: session \d+: sleeping 2000 ms")

        tree = srv.tree()
        o.check(len(tree) == WORKERS + 1, "expected a manager and %d "
                "workers, found %s" % (WORKERS, tree))
        t0 = time.monotonic()
        os.kill(srv.pid, signal.SIGTERM)
        h.wait_until(lambda: o.port_bindable(srv.port) and
                     o.port_bindable(port2), 20,
                     what="the ports to be free")
        freed = time.monotonic() - t0
        o.check(srv.proc.poll() is None, "the master had exited before the "
                "ports were seen free; cannot tell whether they were closed "
                "at once")
        h.log("ports free %.2f s after SIGTERM, while the master drains"
              % freed)
        try:
            rc = srv.proc.wait(40)
        except Exception:
            raise h.TestFailure("the master did not exit after SIGTERM")
        took = time.monotonic() - t0
        o.check(rc == 0, "master exited with %d, expected 0" % rc)
        got = b""
        slow.settimeout(10)
        while True:
            b = slow.recv(4096)
            if not b:
                break
            got += b
        slow.close()
        o.check(got == b"DRAINED\n", "in-flight request's reply %r, expected "
                "b'DRAINED\\n' then EOF" % got)
        for c in clients:
            c.join(30)
        o.check(not any(c.is_alive() for c in clients), "clients hung")
        bad = ["client %d: %s" % (c.idx, c.error) for c in clients if c.error]
        o.check(not bad, "wrong or broken replies: %s" % bad)
        srv.check_no_leftovers(tree)
        srv.check_log_clean()
        o.check(not os.path.exists(pid_file), "pid file left behind")
        o.check(o.port_bindable(srv.port) and o.port_bindable(port2),
                "ports not free after the stop")
        h.log("stopped in %.2f s: exit 0, %d requests answered, clients "
              "ended by %s, pid file removed, no process left"
              % (took, sum(c.ok for c in clients),
                 sorted({c.end for c in clients})))


if __name__ == "__main__":
    h.main(main)
