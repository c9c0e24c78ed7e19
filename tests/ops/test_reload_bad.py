"""test_reload_bad.py: a reload whose new plugin file cannot serve (not an
ELF file, a plugin of another ABI major, a plugin whose on_worker_start
fails) is called off: the log says "reload failed: ...; the old workers
keep serving", the old workers keep their pids and keep answering with the
old build, with no failed request under load. A good file installed
afterwards is then picked up by the next reload."""

import os
import signal

from ops_helper import h
import ops_helper as o

WORKERS = 3


def settle(srv, workers):
    """Wait until the manager's only children are the serving workers (the
    failed standby workers have been reaped)."""
    def only_old():
        procs = o.worker_procs(srv)
        return sorted(p for p, _, _ in procs) == sorted(workers.values())
    h.wait_until(only_old, 30, what="the standby workers to be gone")


def bad_reload(srv, app, load, workers, label, install, why_regex, nth):
    install(app)
    os.kill(srv.pid, signal.SIGUSR1)
    srv.wait_log(r"reload failed: [^\n]*; the old workers keep serving",
                 timeout=60, count=nth)
    srv.wait_log(why_regex, timeout=30)
    settle(srv, workers)
    o.check(srv.workers() == workers, "%s: workers changed: %s -> %s"
            % (label, workers, srv.workers()))
    load.wait_requests(200)
    for _ in range(3):
        o.check(o.version_of(o.ask(srv.port, b"still v1?\n")) == 1,
                "%s: not answered by the old build" % label)
    o.check(set(load.last_version.values()) == {1},
            "%s: persistent connections answered by %s"
            % (label, load.last_version))
    o.check(not load.failures, "%s: requests failed" % label)
    h.log("%s: reload failed as it should; workers %s still serve v1"
          % (label, sorted(workers.values())))


def main():
    h.process_mode_only(
        "raw TCP connections move to the new workers only in process mode; in base mode they stay with the old worker to the end")
    o.require(o.V1, o.V2, o.FAIL, h.ABI_MISMATCH)
    with o.Server("reload-bad", server={"worker_num": WORKERS,
                                        "reactor_num": 2}) as srv:
        app = os.path.join(srv.dir, "app.so")
        o.install(o.V1, app)
        srv.plugins = [{"name": "app", "path": app}]
        srv.write_config()
        srv.start()
        workers = srv.workers()
        load = o.Load(srv.port, persistent=4, churn=1).start()
        load.wait_requests(200)

        bad_reload(srv, app, load, workers, "not an ELF file",
                   lambda p: o.install_bytes(b"not a shared object\n" * 64,
                                             p),
                   r'plugin "app" \([^)]*app\.so\): .*', 1)
        bad_reload(srv, app, load, workers, "ABI major mismatch",
                   lambda p: o.install(h.ABI_MISMATCH, p),
                   r"plugin ABI 2\.\d+, server ABI 1\.\d+", 2)
        bad_reload(srv, app, load, workers, "on_worker_start fails",
                   lambda p: o.install(o.FAIL, p),
                   r'plugin "app" \([^)]*app\.so\) failed to start: '
                   r'on_worker_start returned 1', 3)
        o.check(o.count_log(srv, r"reload done") == 0,
                "a failed reload was reported done")

        o.install(o.V2, app)
        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"reload done", timeout=60)
        o.wait_version(srv.port, 2, timeout=10)
        after = srv.wait_workers(WORKERS, 30, exclude=workers.values())
        load.wait_requests(200)
        o.check(set(load.last_version.values()) == {2},
                "after the good reload, connections answered by %s"
                % load.last_version)
        load.stop()
        load.check_clean()
        h.log("good reload: workers %s -> %s; %d requests, versions %s, "
              "none failed" % (sorted(workers.values()),
                               sorted(after.values()), load.count(),
                               load.versions))
        srv.stop()


if __name__ == "__main__":
    h.main(main)
