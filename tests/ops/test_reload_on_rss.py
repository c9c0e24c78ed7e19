"""test_reload_on_rss.py: reload_on_rss recycles a worker and a task worker
whose resident memory passed it, after the request that passed it.

The leak plugin takes 10 MiB per request (and per task) and never frees it.
A first run measures what a fresh worker and task worker hold (/stats
"rss", checked against /proc/PID/statm); the second run sets reload_on_rss
that plus 45 MiB and:
- leaks through /leak until the worker's pid changes: the old worker
  answered every request up to the one that passed the limit, logged its
  RSS and the limit, and that RSS is over the limit by at most one
  request's worth (10 MiB and a little);
- its replacement serves at once, small again;
- the same for the task worker through /task;
- /stats: restarts.rss counts both, max_request and crash none; every
  process, idle ones included, shows a fresh rss."""

import http.client
import os
import re
import time

from ops_helper import h
import ops_helper as o

LEAK = os.environ.get("SWX_OPS_LEAK_PLUGIN", "")
MIB = 1024 * 1024
LEAK_MB = 10
HEADROOM_MB = 45
SLACK = 3 * MIB   # a request's own allocations beside its leak
PAGE = os.sysconf("SC_PAGE_SIZE")


def get(port, path):
    """(pid, leaked MiB) of one request on a fresh connection."""
    conn = http.client.HTTPConnection(h.HOST, port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read().decode()
    finally:
        conn.close()
    o.check(resp.status == 200, "%s: %d %r" % (path, resp.status, body))
    pid, mb = body.split()
    return int(pid), int(mb)


def statm_rss(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


def server(reload_on_rss):
    admin = {"host": "127.0.0.1", "port": h.free_port()}
    srv = o.Server("rss", admin=admin,
                   server={"worker_num": 1, "reactor_num": 1,
                           "task_worker_num": 1,
                           "reload_on_rss": reload_on_rss},
                   plugins=[{"name": "leak", "path": LEAK,
                             "config": {"leak_mb": LEAK_MB}}])
    srv.listeners = [{"type": "tcp", "host": h.HOST, "port": srv.port,
                      "plugin": "leak", "protocol": "http"}]
    srv.write_config()
    return srv


def procs(st):
    return {w["id"]: w for w in st["workers"]}


def fresh_rss(srv):
    """The stats' rss of each process once it is measured, each checked
    against the kernel's figure for the same pid."""
    h.wait_until(lambda: all(w["rss"] > 0 and w["pid"] > 0 for w in
                             o.stats(srv.admin)["workers"]), 20,
                 what="every process's rss")
    time.sleep(1.2)   # a sample taken while idle
    out = {}
    for i, w in procs(o.stats(srv.admin)).items():
        real = statm_rss(w["pid"])
        o.check(abs(real - w["rss"]) < 4 * MIB, "process %d: /stats rss %d, "
                "/proc says %d" % (i, w["rss"], real))
        out[i] = w["rss"]
    return out


def baseline():
    with server(0) as srv:
        srv.start()
        rss = fresh_rss(srv)
        h.log("fresh processes hold %s bytes" % rss)
        srv.stop()
    return max(rss.values())


def leak_until_replaced(srv, path, limit_mb):
    """Leak through path until another pid answers; the first pid, its
    last leaked MiB, and the new pid's first answer."""
    first, last = get(srv.port, path)
    o.check(last == LEAK_MB, "%s: first answer leaked %d MiB" % (path, last))
    for _ in range(limit_mb // LEAK_MB + 5):
        pid, mb = get(srv.port, path)
        if pid != first:
            o.check(mb == LEAK_MB, "the replacement leaked %d MiB at its "
                    "first request" % mb)
            return first, last, pid
        o.check(mb == last + LEAK_MB, "leaked %d then %d" % (last, mb))
        last = mb
    raise h.TestFailure("%s: pid %d was never replaced" % (path, first))


def check_recycled(srv, role, path, limit_mb):
    old, leaked, new = leak_until_replaced(srv, path, limit_mb)
    rx = (r"\] \d+ %s: resident memory (\d+) MiB \((\d+) bytes\) passed "
          r"reload_on_rss \(%d MiB\) after (\d+) (requests|tasks)"
          % (re.escape(role), limit_mb))
    m = re.search(rx, srv.wait_log(rx)[0].group(0))
    rss, count = int(m.group(2)), int(m.group(3))
    limit = limit_mb * MIB
    h.log("%s: pid %d leaked %d MiB in %d requests; exited at %d MiB (limit "
          "%d MiB); pid %d replaced it" % (role, old, leaked, count,
                                           rss // MIB, limit_mb, new))
    o.check(count == leaked // LEAK_MB, "logged %d requests, answered %d"
            % (count, leaked // LEAK_MB))
    o.check(limit < rss <= limit + LEAK_MB * MIB + SLACK, "exited at %d "
            "bytes: more than one request past the limit %d" % (rss, limit))
    h.wait_until(lambda: not h.alive(old), 20, what="pid %d to exit" % old)


def main():
    h.require(LEAK)
    limit_mb = baseline() // MIB + HEADROOM_MB
    with server(limit_mb) as srv:
        srv.start()
        check_recycled(srv, "worker 0", "/leak", limit_mb)
        check_recycled(srv, "task 0", "/task", limit_mb)
        st = o.stats(srv.admin)
        r = st["restarts"]
        o.check(r == {"crash": 0, "max_request": 0, "rss": 2, "timeout": 0},
                "restarts %r" % r)
        rss = fresh_rss(srv)
        o.check(all(v < limit_mb * MIB for v in rss.values()),
                "replacements are past the limit already: %s" % rss)
        srv.stop()


if __name__ == "__main__":
    h.main(main)
