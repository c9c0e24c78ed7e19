"""test_sock.py: client sockets (swx_co_sock_*) of a worker through the real
binary, against upstream servers of the test (upstream.py): connection
refused, a connect timeout to a listener whose backlog is full, a receive
timeout, lines up to a delimiter (pieces, a line too long, the rest kept),
exactly n bytes in pieces, a Unix socket and IPv6, the calls outside a
coroutine (-EPERM), and a socket waiting at a reload (-ECANCELED)."""

import os
import signal
import socket
import time

import upstream
from coro_helper import h, ask, check, fields, log, ECANCELED, EPERM, \
    ETIMEDOUT

COSOCK = os.environ.get("SWX_COSOCK_PLUGIN", "")
ECONNREFUSED, EMSGSIZE = -111, -90


def server(name, cfg):
    h.require(COSOCK)
    srv = h.Server(name, server=cfg,
                   plugins=[{"name": "cosock", "path": COSOCK}])
    return srv


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, never listening: refused
    return s, s.getsockname()[1]


def connects(srv):
    holder, port = closed_port()
    r = fields(ask(srv.port, "connect 127.0.0.1 %d 1000" % port))
    check(int(r["rc"]) == ECONNREFUSED, "refused: %r" % r)
    holder.close()
    r = fields(ask(srv.port, "connect example.com 80 1000"))
    check(int(r["rc"]) == -22, "a name: %r" % r)
    lst, port, fillers = upstream.full_backlog()
    r = fields(ask(srv.port, "connect 127.0.0.1 %d 300" % port))
    log("full backlog: %r" % r)
    check(int(r["rc"]) == ETIMEDOUT, "connect timeout: %r" % r)
    check(250 <= int(r["took"]) < 2000, "timed out after %s ms" % r["took"])
    for s in fillers + [lst]:
        s.close()


def receives(srv, up):
    port = up.server_address[1]
    r = fields(ask(srv.port, "rtimeout %d 300" % port))
    check(int(r["rc"]) == ETIMEDOUT and 250 <= int(r["took"]) < 2000,
          "recv timeout: %r" % r)
    r = ask(srv.port, "lines %d 16" % port)
    log(r)
    # 40 x's and \n past max 16: two -EMSGSIZE (16 bytes dropped each),
    # then the last 8 and the \n; what followed in the same read is kept
    check(r == "lines last=0 4:one 4:two 6:three %d: %d: 9:%s 5:four "
          "4:tail" % (EMSGSIZE, EMSGSIZE, "x" * 8), "lines: %r" % r)
    n = 200000
    r = fields(ask(srv.port, "exact %d %d" % (port, n)))
    # asked for n + 1: the upstream closes after n, so n comes back
    check(int(r["rc"]) == n and int(r["sum"]) == sum(i % 251
                                                     for i in range(n)),
          "exact: %r" % r)


def other_families(srv, path):
    up = upstream.unix(path)
    r = ask(srv.port, "echo unix:%s 0" % path)
    check(r == "echo rc=22 line=hello over the socket", "unix: %r" % r)
    r = ask(srv.port, "echo %s 0" % path)
    check(r == "echo rc=22 line=hello over the socket", "path: %r" % r)
    up.shutdown()
    up6 = upstream.tcp6()
    if up6 is None:
        log("no IPv6 loopback here: TCP6 not tried")
        return
    r = ask(srv.port, "echo [::1] %d" % up6.server_address[1])
    check(r == "echo rc=22 line=hello over the socket", "tcp6: %r" % r)
    up6.shutdown()


def reload_wakes(srv, up):
    before = up.count
    r = ask(srv.port, "park %d" % up.server_address[1])
    check(int(fields(r)["id"]) > 0, "park: %r" % r)
    h.wait_until(lambda: up.count > before, 5, what="the parked connect")
    time.sleep(0.1)  # its "silent" line sent, it waits in recv
    t0 = time.monotonic()
    os.kill(srv.pid, signal.SIGUSR1)
    # woken, and a second wait fails at once: the process is stopping
    srv.wait_log(r"cosock: parked recv woke rc=%d again=%d close=0"
                 % (ECANCELED, ECANCELED), timeout=10)
    srv.wait_log(r"reload done", timeout=30)
    took = time.monotonic() - t0
    check(took < 5, "the reload took %.1f s (max_wait_time 10)" % took)


def main():
    up = upstream.tcp()
    with server("co-sock", {"worker_num": 1, "max_wait_time": 10,
                            "log_level": "notice"}) as srv:
        srv.start()
        srv.wait_log(r"cosock: outside id=-1 connect=%d send=%d recv=%d "
                     r"until=%d close=-22" % ((EPERM,) * 4), timeout=10)
        connects(srv)
        receives(srv, up)
        other_families(srv, os.path.join(srv.dir, "up.sock"))
        reload_wakes(srv, up)
        check(ask(srv.port, "ping") == "pong", "no pong after the reload")
        srv.stop()
    up.shutdown()


h.main(main)
