"""test_start_failure.py: a plugin that cannot start is named.

- A plugin whose on_worker_start returns non-zero (the version plugin's
  FAIL_START build), beside a plugin that starts: the log names the
  failing plugin, its file and what it returned; GET /health answers 503
  "degraded" and lists it (failed_plugins, failed_starts per process); the
  other plugin's listener gets no reply from a worker that cannot start
  (its connections are closed, not left hanging). Once a good build is
  installed at the path, the next start succeeds and /health is ok again.
- A plugin that dies of SIGSEGV inside on_worker_start: the manager logs
  the plugin, its file and the signal; /health lists it the same way."""

import json
import os
import socket

from ops_helper import h
import ops_helper as o



def health(srv):
    status, _, body = o.admin_call(srv.admin, "GET", "/health")
    return status, json.loads(body)


def degraded(srv, plugin, failure):
    """Wait until /health is 503 degraded with plugin failing as said."""
    def bad():
        status, hl = health(srv)
        if status != 503 or hl["status"] != "degraded":
            return None
        fs = [f for f in hl["failed_starts"] if failure in f["failure"]]
        return hl if fs and hl["failed_plugins"] == [plugin] else None
    hl = h.wait_until(bad, 30, interval=0.1, what="/health degraded")
    for f in hl["failed_starts"]:
        o.check(f["plugin"] == plugin and f["process"].startswith("worker ")
                and f["path"].endswith(".so") and f["failed_starts"] >= 1,
                "failed_starts entry %s" % f)
    o.check(hl["workers"]["up"] < hl["workers"]["expected"],
            "workers %s" % hl["workers"])
    return hl


def no_reply(port):
    """A line to port gets no reply: the connection closes (or is reset)
    within 15 s. In base mode no process accepts it while no worker runs
    (the master does not serve connections): it waits in the listen queue
    and only gets no reply."""
    with socket.create_connection((h.HOST, port), timeout=15) as s:
        try:
            s.sendall(b"hello\n")
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            o.check(h.base_mode(), "the connection was neither served nor "
                    "closed")
            data = b""
    o.check(data == b"", "a reply from a worker that cannot start: %r" % data)


def returned():
    with o.Server("start_fail", server={"worker_num": 2, "reactor_num": 1},
                  admin={"host": "127.0.0.1", "port": h.free_port()}) as srv:
        app = os.path.join(srv.dir, "app.so")
        o.install(o.FAIL, app)
        echo_port = h.free_port()
        srv.plugins = [{"name": "app", "path": app},
                       {"name": "echo", "path": h.ECHO}]
        srv.listeners = [
            {"type": "tcp", "host": h.HOST, "port": srv.port,
             "plugin": "app"},
            {"type": "tcp", "host": h.HOST, "port": echo_port,
             "plugin": "echo"}]
        srv.write_config()
        srv.start(workers=False)
        srv.wait_log(r'plugin "app" \(%s\) failed to start: on_worker_start '
                     r'returned 1' % app.replace(".", r"\."))
        hl = degraded(srv, "app", "on_worker_start returned 1")
        h.log("/health: %s" % json.dumps(hl))
        no_reply(echo_port)

        o.install(o.V1, app)
        h.wait_until(lambda: health(srv)[0] == 200, 45, interval=0.2,
                     what="/health ok after a good build was installed")
        st, hl = health(srv)
        o.check(hl["status"] == "ok" and hl["failed_plugins"] == [] and
                hl["workers"] == {"up": 2, "expected": 2}, "after: %s" % hl)
        o.check(o.ask(srv.port, b"x\n") == b"v1:x\n", "app serves")
        o.check(o.ask(echo_port, b"y\n") == b"y\n", "echo serves")
        h.log("a good build: /health ok, both plugins serve")
        srv.stop()


def crashed():
    with o.Server("start_crash", server={"worker_num": 1, "reactor_num": 1},
                  admin={"host": "127.0.0.1", "port": h.free_port()}) as srv:
        srv.plugins = [{"name": "app", "path": o.LIFECYCLE,
                        "config": {"start": "segv"}}]
        srv.write_config()
        srv.start(workers=False)
        srv.wait_log(r'worker 0: plugin "app" \(%s\) failed to start: '
                     r'killed by signal 11 \(Segmentation fault\) in '
                     r'on_worker_start' % o.LIFECYCLE.replace(".", r"\."))
        hl = degraded(srv, "app", "signal 11")
        h.log("/health: %s" % json.dumps(hl))
        srv.stop()


def main():
    o.require(o.FAIL, o.V1, o.LIFECYCLE)
    returned()
    crashed()


if __name__ == "__main__":
    h.main(main)
