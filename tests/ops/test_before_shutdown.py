"""test_before_shutdown.py: on_before_shutdown (ABI 1.5, Swoole's
onBeforeShutdown) and an ABI 1.4 plugin beside it.

- on_before_shutdown runs once, in the master, when the stop is asked for
  and before the listeners close: the plugin's own connect to its port
  succeeds from inside it, and so does the test's while it runs.
- It comes before on_shutdown; once the stop has begun the port is closed.
- A plugin built against ABI 1.4 (a description that ends before
  on_before_shutdown) loads, serves, runs its on_shutdown, and the server
  exits 0: the member it lacks reads as NULL."""

import os
import signal
import socket

from ops_helper import h
import ops_helper as o

OLD = os.environ.get("SWX_ABI_1_4_PLUGIN", "")


def events(path):
    return [line.split() for line in o.read_text(path).splitlines()]


def main():
    o.require(o.LIFECYCLE, OLD)
    with o.Server("before_shutdown", server={"worker_num": 2,
                                             "reactor_num": 1}) as srv:
        ev = os.path.join(srv.dir, "events")
        old_port = h.free_port()
        srv.plugins = [
            {"name": "lc", "path": o.LIFECYCLE,
             "config": {"events_file": ev, "probe_port": srv.port,
                        "before_shutdown_ms": 1500}},
            {"name": "old", "path": OLD}]
        srv.listeners = [
            {"type": "tcp", "host": h.HOST, "port": srv.port,
             "plugin": "lc"},
            {"type": "tcp", "host": h.HOST, "port": old_port,
             "plugin": "old"}]
        srv.write_config()
        srv.start()
        o.check(o.ask(srv.port, b"a\n") == b"a\n", "the lifecycle plugin serves")
        o.check(o.ask(old_port, b"b\n") == b"v1.4:b\n",
                "the ABI 1.4 plugin serves")
        o.wait_file(ev, r"^start %d$" % srv.pid)

        procs = srv.tree()
        os.kill(srv.pid, signal.SIGTERM)
        o.wait_file(ev, r"^before_shutdown ")
        # The callback sleeps 1.5 s: the listener must still be open.
        with socket.create_connection((h.HOST, srv.port), timeout=5):
            pass
        o.check(not [e for e in events(ev) if e[0] == "before_shutdown_done"],
                "on_before_shutdown returned before the test connected "
                "(the check would prove nothing)")
        h.log("connected while on_before_shutdown ran")
        o.wait_file(ev, r"^shutdown ")
        rc = srv.proc.wait(30)
        o.check(rc == 0, "master exited with %d" % rc)
        srv.check_no_leftovers(procs)
        srv.check_log_clean()

        got = events(ev)
        names = [e[0] for e in got]
        h.log("events: %s" % names)
        before = [e for e in got if e[0] == "before_shutdown"]
        o.check(len(before) == 1, "on_before_shutdown ran %d times"
                % len(before))
        o.check(before[0][1] == str(srv.pid), "on_before_shutdown ran in "
                "pid %s, not the master %d" % (before[0][1], srv.pid))
        o.check(before[0][2] == "1", "the plugin's own connect "
                "from on_before_shutdown failed: %s" % before[0])
        o.check(names.index("before_shutdown") <
                names.index("before_shutdown_done") <
                names.index("shutdown"), "order: %s" % names)
        o.check(o.port_bindable(srv.port), "port still bound after exit")
        srv.wait_log(r"abi 1\.4 plugin: on_shutdown", 5)
        h.log("ABI 1.4 plugin loaded, served and shut down; exit 0")


if __name__ == "__main__":
    h.main(main)
