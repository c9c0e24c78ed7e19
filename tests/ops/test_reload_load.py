"""test_reload_load.py: a reload picks up a plugin file replaced on disk,
under continuous load, without a single failed request or dropped
connection; then ten reloads in a row (SIGUSR1, swx-server -s reload and
POST /reload in turn), alternating two builds, still without a failure.

The load: persistent connections sending one line after another, plus
threads that open a new connection for each request. Every reply must be
"vN:" followed by the line sent. Finally, -s reload-tasks with no task
workers is logged and changes nothing."""

import os
import signal

from ops_helper import h
import ops_helper as o

WORKERS = 3


def reload_via(srv, how, admin):
    if how == "signal":
        os.kill(srv.pid, signal.SIGUSR1)
    elif how == "command":
        rc, out, err = h.run_cli(["--config", srv.config_path, "-s",
                                  "reload"])
        o.check(rc == 0, "swx-server -s reload: exit %d, %s%s"
                % (rc, out, err))
    else:
        o.post_reload(admin)


def main():
    h.process_mode_only(
        "raw TCP connections move to the new workers only in process mode; in base mode they stay with the old worker to the end (test_base_reload covers reload there)")
    o.require(o.V1, o.V2)
    with o.Server("reload-load", server={"worker_num": WORKERS,
                                         "reactor_num": 2},
                  admin={"port": h.free_port()}) as srv:
        admin = srv.admin
        app = os.path.join(srv.dir, "app.so")
        o.install(o.V1, app)
        srv.server_cfg["pid_file"] = os.path.join(srv.dir, "swx.pid")
        srv.plugins = [{"name": "app", "path": app}]
        srv.write_config()
        srv.start()
        o.check(o.version_of(o.ask(srv.port, b"hello\n")) == 1,
                "the first build does not answer")
        before = srv.workers()

        load = o.Load(srv.port, persistent=6, churn=2).start()
        load.wait_requests(300)
        o.install(o.V2, app)
        h.log("v2 installed; SIGUSR1")
        os.kill(srv.pid, signal.SIGUSR1)
        o.wait_version(srv.port, 2)
        srv.wait_log(r"reload done", timeout=60)
        after = srv.wait_workers(WORKERS, 30, exclude=before.values())
        h.log("workers %s -> %s" % (before, after))
        load.wait_requests(300)
        for _ in range(5):
            o.check(o.version_of(o.ask(srv.port, b"after\n")) == 2,
                    "a request after 'reload done' was answered by v1")
        o.check(set(load.last_version.values()) == {2},
                "connections still answered by v1 after the reload: %s"
                % load.last_version)
        o.check(not load.failures, "failures during the first reload")
        h.log("first reload: %d requests, versions %s, no failure"
              % (load.count(), load.versions))

        # Ten more, back and forth between the builds, by every route.
        ways = ["signal", "command", "admin"]
        for i in range(10):
            want = 1 if i % 2 == 0 else 2
            o.install(o.V1 if want == 1 else o.V2, app)
            how = ways[i % 3]
            reload_via(srv, how, admin)
            srv.wait_log(r"reload done", timeout=60, count=i + 2)
            # Requests sent from here on reach only the new workers.
            o.check(o.version_of(o.ask(srv.port, b"next\n")) == want,
                    "reload %d (%s): not answered by v%d" % (i + 2, how,
                                                              want))
            load.wait_requests(100)
            o.check(set(load.last_version.values()) == {want},
                    "reload %d (%s): persistent connections answered by %s"
                    % (i + 2, how, load.last_version))
            o.check(not load.failures, "failures at reload %d" % (i + 2))
            h.log("reload %d (%s): v%d serves; %d requests so far"
                  % (i + 2, how, want, load.count()))

        load.stop()
        load.check_clean()
        st = o.stats(admin)
        o.check(st["reload_count"] == 11, "reload_count %s, expected 11"
                % st["reload_count"])
        o.check(o.count_log(srv, r"reload: starting %d worker" % WORKERS)
                == 11, "expected 11 'reload: starting' lines")
        o.check(o.count_log(srv, r"reload failed|ignored") == 0,
                "a reload failed or was ignored")
        o.check(st["worker_restarts"] == 0, "worker_restarts %s"
                % st["worker_restarts"])
        h.log("11 reloads, %d requests, versions %s, no failed request"
              % (load.count(), load.versions))
        # There are no task workers to reload: said, and nothing changes.
        workers = srv.workers()
        rc, out, err = h.run_cli(["--config", srv.config_path, "-s",
                                  "reload-tasks"])
        o.check(rc == 0, "-s reload-tasks: exit %d, %s" % (rc, err))
        srv.wait_log(r"SIGUSR2: there are no task workers to reload")
        o.check(o.stats(admin)["reload_count"] == 11 and
                srv.workers() == workers, "reload-tasks changed something")
        srv.stop()
        o.check(not os.path.exists(srv.server_cfg["pid_file"]),
                "pid file left behind")


if __name__ == "__main__":
    h.main(main)
