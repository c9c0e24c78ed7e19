"""test_slowlog.py: request_slowlog_timeout and request_slowlog_file, and
max_execution_time 0. A callback that runs past the threshold and finishes
gets exactly one entry in the slow log file (not in the server log) with
its duration, process, plugin, callback, session and a backtrace naming the
function it was waiting in; a quick one gets none; an HTTP listener's own
max_execution_time kills a stuck on_request (504) while the server's 0
leaves a worker that loops forever on a raw listener alone; the slow log is
reopened with -s reopen."""

import os
import re
import signal
import time

import ops_helper as oh
import test_stuck as ts

h = oh.h
check = oh.check
hh = ts.hh
SLOW_MS = 1600


def make_server():
    srv = oh.Server(
        "slowlog", admin={"unix": None},
        server={"worker_num": 2, "reactor_num": 1, "max_wait_time": 1,
                "request_slowlog_timeout": 1},
        plugins=[{"name": "stuck", "path": ts.STUCK,
                  "config": {"slow_ms": SLOW_MS}}])
    srv.admin_cfg = {"unix": os.path.join(srv.dir, "admin.sock")}
    srv.slowlog = os.path.join(srv.dir, "slow.log")
    srv.server_cfg["request_slowlog_file"] = srv.slowlog
    srv.http_port = h.free_port()
    base = {"host": h.HOST, "plugin": "stuck"}
    srv.listeners = [
        dict(base, type="tcp", port=srv.port),
        dict(base, type="tcp", port=srv.http_port, protocol="http",
             max_execution_time=1)]
    srv.write_config()
    return srv


ENTRY = (r"^\S+ \S+ \[warning\] (\d+) worker (\d): slow: on_receive of plugin "
         r"\"stuck\" \(session (\d+)\) took (\d+) ms "
         r"\(request_slowlog_timeout 1 s\); backtrace while it was slow:\n"
         r"((?:    #\d+ .*\n)+)")


def test_slow(srv):
    s, _, pid = ts.worker_of(srv.port)
    check(ts.ask(s, b"quick\n") == b"ok:quick\n", "quick")
    t0 = time.monotonic()
    check(ts.ask(s, b"slow\n") == b"slow done\n", "slow")
    check(time.monotonic() - t0 >= SLOW_MS / 1000 * 0.9, "not slow")
    m = oh.wait_file(srv.slowlog, ENTRY)[0]
    check(int(m.group(1)) == pid, "entry of pid %s, expected %d"
          % (m.group(1), pid))
    check(SLOW_MS <= int(m.group(4)) < SLOW_MS + 1000, "took %s ms"
          % m.group(4))
    trace = m.group(5)
    for f in ("stuck_slow_wait", "stuck_receive"):
        check(re.search(r"libswx_ops_stuck\.so\(%s\+0x" % f, trace),
              "%s not in the backtrace:\n%s" % (f, trace))
    time.sleep(0.5)
    text = oh.read_text(srv.slowlog)
    check(len(re.findall(r"slow: ", text)) == 1, "entries:\n%s" % text)
    check("slow: " not in srv.log_text(), "slow entry in the server log")
    s.close()


def test_reopen(srv):
    moved = srv.slowlog + ".1"
    os.rename(srv.slowlog, moved)
    os.kill(srv.pid, signal.SIGRTMIN)
    time.sleep(0.5)
    with h.connect(srv.port) as s:
        check(ts.ask(s, b"slow\n") == b"slow done\n", "slow after reopen")
    oh.wait_file(srv.slowlog, ENTRY)
    check(len(re.findall(r"slow: ", oh.read_text(moved))) == 1,
          "the moved file got another entry")


def test_http_override(srv):
    port = srv.http_port
    with hh.connect(port) as s:
        s.sendall(hh.get(port, "/spin"))
        rd = hh.Reader(s)
        s.settimeout(15)
        if h.base_mode():  # its connection dies with the killed worker
            check(hh.closed_after(s, rd, 15), "/spin: still open")
        else:
            r = rd.response()
            check(r.status == 504, "/spin: %r" % r)
    srv.wait_log(r"on_request of plugin \"stuck\" \(session \d+, GET /spin\) "
                 r"has run for \d+ ms, past max_execution_time \(1 s\)")
    r = hh.exchange(port, hh.get(port, "/"))
    check(r.status == 200, "after: %r" % r)


def test_never_killed(srv):
    # The worker killed for /spin is replaced (ts.two_workers waits until
    # both accept).
    srv.wait_workers(2)
    a, b = ts.two_workers(srv.port)
    b[0].sendall(b"spin\n")
    time.sleep(3.5)
    check(h.alive(b[2]), "the looping worker was killed")
    check(srv.workers().get(b[1]) == b[2], "the looping worker was replaced")
    check(ts.ask(a[0], b"other\n") == b"ok:other\n", "the other worker")
    check(len(re.findall(r"has run for \d+ ms, past max_execution_time",
                         srv.log_text())) == 1,
          "a kill on the raw listener")
    st = oh.stats(srv.admin)
    check(st["restarts"]["timeout"] == 1, "timeouts %r" % st["restarts"])
    a[0].close()
    b[0].close()


def test():
    oh.require(ts.STUCK)
    with make_server() as srv:
        srv.start()
        test_slow(srv)
        test_reopen(srv)
        test_http_override(srv)
        test_never_killed(srv)
        # The looping worker is killed by the stop after max_wait_time.
        srv.stop()


if __name__ == "__main__":
    h.main(test)
