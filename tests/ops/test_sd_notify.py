"""test_sd_notify.py: the systemd notification protocol against a fake
NOTIFY_SOCKET (a Unix datagram socket this test binds).

- READY=1 comes only once every worker has run on_worker_start (the
  plugin sleeps 1 s in it) and the listeners accept: a request sent the
  moment it arrives is answered at once. Before it, only STATUS.
- SIGUSR1 (a reload): RELOADING=1 with MONOTONIC_USEC (now, on
  CLOCK_MONOTONIC), then READY=1 only once the new workers serve: a
  request sent the moment it arrives is answered by the new build.
- A reload whose new build refuses to start: RELOADING=1, then READY=1
  with a STATUS saying the reload failed; the old build still answers.
- SIGTERM: STOPPING=1 with EXTEND_TIMEOUT_USEC (max_wait_time + 3 s, so
  that a short TimeoutStopSec does not cut the drain), then the server
  exits 0.
- No WATCHDOG=1 without WATCHDOG_USEC, and no MAINPID without daemonize.
- With daemonize (and the default pid file): MAINPID= the master's pid,
  sent at once after detaching and again with READY=1; `-s stop` finds
  the master and STOPPING=1 follows.
"""

import os
import signal
import time

from ops_helper import h
import ops_helper as o
from sd_helper import Env, NotifySocket

START_DELAY_MS = 1000


def ask_fast(port, line):
    """One request; its reply and how long it took."""
    t0 = time.monotonic()
    reply = o.ask(port, line, timeout=10)
    return reply, time.monotonic() - t0


def check_ready(srv, ns, spawned):
    i, t, f = ns.wait_for("READY", "1", timeout=60)
    reply, took = ask_fast(srv.port, b"first\n")
    o.check(o.version_of(reply) == 1, "first reply %r" % reply)
    o.check(t - spawned >= START_DELAY_MS / 1000.0 - 0.05,
            "READY=1 %.2f s after the start, before on_worker_start (%d ms) "
            "could have returned" % (t - spawned, START_DELAY_MS))
    o.check(took < (2.0 if o.SLOW else 0.5), "the request sent at READY=1 "
            "took %.2f s: the workers were not serving yet" % took)
    started = o.count_log(srv, r"version 1: worker \d+ \(pid \d+\) started")
    o.check(started >= 2, "READY=1 with %d of 2 workers started" % started)
    o.check("STATUS" in f and f["STATUS"].startswith("serving"),
            "READY=1 without a serving STATUS: %r" % f)
    o.check("MAINPID" not in f, "MAINPID sent without daemonize: %r" % f)
    for _, g, text in ns.snapshot()[:i]:
        o.check(set(g) == {"STATUS"}, "before READY=1: %r" % text)
    h.log("READY=1 %.2f s after the start; a request then took %.3f s; "
          "STATUS=%s" % (t - spawned, took, f["STATUS"]))
    return i


def check_reload(srv, ns, app, after):
    o.install(o.V2, app)
    os.kill(srv.pid, signal.SIGUSR1)
    sent = time.monotonic()
    i, t, f = ns.wait_for("RELOADING", "1", after=after, timeout=30)
    o.check("MONOTONIC_USEC" in f, "RELOADING=1 without MONOTONIC_USEC")
    usec = int(f["MONOTONIC_USEC"]) / 1e6
    o.check(sent - 1 <= usec <= t + 0.01, "MONOTONIC_USEC %.3f s is not the "
            "time of the reload (%.3f .. %.3f)" % (usec, sent, t))
    j, t2, g = ns.wait_for("READY", "1", after=i + 1, timeout=60)
    reply, took = ask_fast(srv.port, b"after\n")
    o.check(o.version_of(reply) == 2, "after READY=1 of the reload, %r: "
            "the old code still serves" % reply)
    o.check(t2 - sent >= START_DELAY_MS / 1000.0 - 0.05, "READY=1 %.2f s "
            "after SIGUSR1, before the new workers could start"
            % (t2 - sent))
    o.check(g.get("STATUS", "").startswith("serving"), "status %r" % g)
    srv.wait_log(r"reload done")
    h.log("RELOADING=1 (MONOTONIC_USEC %.3f s), READY=1 %.2f s later; v2 "
          "serves" % (usec, t2 - t))
    return j


def daemonized():
    with o.Server("sd-daemon") as srv:
        ns = NotifySocket(os.path.join(srv.dir, "notify.sock"))
        master = None
        try:
            srv.plugins = [{"name": "app", "path": o.V1}]
            srv.server_cfg.update({"worker_num": 1, "reactor_num": 1,
                                   "daemonize": True,
                                   "log_file": os.path.join(srv.dir,
                                                            "swx.log")})
            srv.write_config()
            with Env(NOTIFY_SOCKET=ns.address):
                rc, out, err = h.run_cli(["--config", srv.config_path])
            o.check(rc == 0, "daemonized start: exit %d: %s%s"
                    % (rc, out, err))
            i, _, f = ns.wait_for("READY", "1", timeout=30)
            master = int(f.get("MAINPID", "0"))
            srv.note([master])
            o.check(h.proc_cmdline(master) == "swx-server: master",
                    "READY=1 with MAINPID=%r, not the master" % f)
            early = [g for _, g, _ in ns.snapshot()[:i] if "MAINPID" in g]
            o.check(early and int(early[0]["MAINPID"]) == master,
                    "no MAINPID=%d before READY=1" % master)
            rc, out, err = h.run_cli(["--config", srv.config_path, "-s",
                                      "stop"])
            o.check(rc == 0, "-s stop: exit %d: %s%s" % (rc, out, err))
            ns.wait_for("STOPPING", "1", after=i + 1, timeout=10)
            # Re-parented to this test (a subreaper): reaped here.
            h.wait_until(lambda: o.all_gone([master]), 30,
                         what="the master to exit")
            h.log("daemonize: MAINPID=%d at once and with READY=1; -s stop "
                  "by the default pid file; STOPPING=1" % master)
        finally:
            if master is not None and h.alive(master):
                o.kill_quietly(master)
            ns.close()


def check_failed_reload(srv, ns, app, after):
    o.install(o.FAIL, app)
    os.kill(srv.pid, signal.SIGUSR1)
    i, _, _ = ns.wait_for("RELOADING", "1", after=after, timeout=30)
    j, _, g = ns.wait_for("READY", "1", after=i + 1, timeout=60)
    o.check("reload failed" in g.get("STATUS", ""), "READY=1 after a "
            "failed reload with status %r" % g.get("STATUS"))
    reply = o.ask(srv.port, b"still\n")
    o.check(o.version_of(reply) == 2, "after a failed reload: %r" % reply)
    h.log("failed reload: READY=1 with STATUS=%s" % g["STATUS"])
    return j


def main():
    o.require(o.V1, o.V2, o.FAIL)
    daemonized()
    with o.Server("sd-notify", server={"worker_num": 2, "reactor_num": 1},
                  plugins=[{"name": "app", "path": o.V1}]) as srv:
        app = os.path.join(srv.dir, "app.so")
        o.install(o.V1, app)
        srv.plugins = [{"name": "app", "path": app,
                        "config": {"start_delay_ms": START_DELAY_MS}}]
        srv.write_config()
        ns = NotifySocket(os.path.join(srv.dir, "notify.sock"))
        try:
            with Env(NOTIFY_SOCKET=ns.address, WATCHDOG_USEC=None,
                     WATCHDOG_PID=None):
                spawned = time.monotonic()
                srv.spawn()
            i = check_ready(srv, ns, spawned)
            i = check_reload(srv, ns, app, i + 1)
            i = check_failed_reload(srv, ns, app, i + 1)
            srv.stop(timeout=30, expected=("refusing to start",
                                           "failed to start"))
            _, _, f = ns.wait_for("STOPPING", "1", after=i + 1, timeout=10)
            o.check(f.get("STATUS", "").startswith("stopping"),
                    "STOPPING=1 with status %r" % f)
            o.check(f.get("EXTEND_TIMEOUT_USEC") == "6000000",
                    "STOPPING=1 with EXTEND_TIMEOUT_USEC %r, expected "
                    "6000000 (max_wait_time 3 s + 3 s)"
                    % f.get("EXTEND_TIMEOUT_USEC"))
            o.check(ns.count("WATCHDOG") == 0, "WATCHDOG=1 without "
                    "WATCHDOG_USEC")
            h.log("SIGTERM: STOPPING=1 (%s); %d message(s) in all"
                  % (f.get("STATUS"), len(ns.snapshot())))
        finally:
            ns.close()


if __name__ == "__main__":
    h.main(main)
