"""test_reload_sync.py: with reload_async false the old workers hand over
one after another: the next old worker is asked to retire only once the
previous one has exited; no request fails under load, and requests after
"reload done" are answered by the new build. Done twice, with four
workers, so that a race in the hand-over has many chances to show."""

import os
import re
import signal

from ops_helper import h
import ops_helper as o

WORKERS = 4


def reload_one_by_one(srv, app, load, build, version, nth):
    old = srv.workers()
    o.install(build, app)
    os.kill(srv.pid, signal.SIGUSR1)
    try:
        srv.wait_log(r"reload done", timeout=30, count=nth)
    except h.TestFailure:
        text = srv.log_text()
        early = [p for p in old.values()
                 if re.search(r"manager: worker \d+ \(pid %d\) exited" % p,
                              text)]
        if early:
            raise h.TestFailure(
                "reload_async false: the reload never completes after old "
                "worker(s) %s were reaped as serving workers (the manager "
                "saw their exit before their WORKER_RELEASED notice): the "
                "next slot is never asked to retire" % early)
        raise
    o.check(o.version_of(o.ask(srv.port, b"which?\n")) == version,
            "after 'reload done' the old build answered")
    load.wait_requests(200)
    o.check(set(load.last_version.values()) == {version},
            "connections answered by %s after the reload" % load.last_version)
    o.check(not load.failures, "requests failed during the reload")

    text = srv.log_text()

    def pos(regex):
        m = re.search(regex, text, re.M)
        o.check(m is not None, "no log line /%s/" % regex)
        return m.start()
    order = []
    for i in range(WORKERS):
        released = pos(r"\] %d worker %d: retiring: channels released"
                       % (old[i], i))
        # "old worker", or just "worker" when the manager saw the exit
        # before the notice that it had released its channels.
        exited = pos(r"manager: (?:old )?worker %d \(pid %d\) exited"
                     % (i, old[i]))
        order.append((released, exited))
    for i in range(WORKERS - 1):
        o.check(order[i][1] < order[i + 1][0],
                "reload_async false: worker %d released its channels "
                "before old worker %d had exited" % (i + 1, i))
    h.log("reload %d: old workers %s handed over and exited one after "
          "another; v%d serves" % (nth, [old[i] for i in range(WORKERS)],
                                   version))


def main():
    h.process_mode_only(
        "raw TCP connections move to the new workers only in process mode; in base mode they stay with the old worker to the end")
    o.require(o.V1, o.V2)
    with o.Server("reload-sync", server={"worker_num": WORKERS,
                                         "reactor_num": 2,
                                         "reload_async": False,
                                         "log_level": "debug"}) as srv:
        app = os.path.join(srv.dir, "app.so")
        o.install(o.V1, app)
        srv.plugins = [{"name": "app", "path": app}]
        srv.write_config()
        srv.start()
        load = o.Load(srv.port, persistent=4, churn=1).start()
        load.wait_requests(200)
        reload_one_by_one(srv, app, load, o.V2, 2, 1)
        reload_one_by_one(srv, app, load, o.V1, 1, 2)
        load.stop()
        load.check_clean()
        h.log("%d requests, versions %s, none failed"
              % (load.count(), load.versions))
        srv.stop()


if __name__ == "__main__":
    h.main(main)
