"""test_stuck.py: max_execution_time. A callback that loops forever is
found by the manager, logged with its process, plugin, callback and session
(and an HTTP request's method and path), its backtrace (naming the static
function that loops) goes into the log, and the process is killed and
replaced: in on_receive (its client is closed while another worker's
client is served meanwhile), on_request (504, or a closed connection when
the response had begun; a request to the other worker is served
meanwhile), on_packet, on_message (WebSocket close 1011), on_task (the
taskwait caller times out, the next task is served) and a user process's
on_pipe_message. The stats count each as a timeout, none as a crash, and
the clients it cost; no crash back-off follows.

In base mode a worker owns its connections: the killed worker's clients
lose their connections with it (no 504, no WebSocket close frame), while
the other worker's clients are served; the backtrace and the counts are
the same."""

import os
import re
import socket
import sys
import time

import ops_helper as oh

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "http"))
import http_helper as hh  # noqa: E402

h = oh.h
check = oh.check
STUCK = os.environ.get("SWX_OPS_STUCK_PLUGIN", "")
LIMIT = 2
# From the start of a stuck callback to its client's answer: the limit,
# the watchdog's 100 ms look, the backtrace, the replacement's start.
SLACK = 6.0 if oh.SLOW else 3.0


def make_server():
    port = h.free_port
    srv = oh.Server(
        "stuck", admin={"unix": None},
        server={"worker_num": 2, "reactor_num": 1, "task_worker_num": 1,
                "max_execution_time": LIMIT},
        plugins=[{"name": "stuck", "path": STUCK,
                  "config": {"proc_id": 3, "task_wait_ms": 1000}}])
    srv.admin_cfg = {"unix": os.path.join(srv.dir, "admin.sock")}
    srv.ports = {k: port() for k in ("udp", "http", "ws")}
    base = {"host": h.HOST, "plugin": "stuck"}
    srv.listeners = [
        dict(base, type="tcp", port=srv.port),
        dict(base, type="udp", port=srv.ports["udp"]),
        dict(base, type="tcp", port=srv.ports["http"], protocol="http"),
        dict(base, type="tcp", port=srv.ports["ws"], protocol="websocket")]
    cfg_processes = [{"name": "stuckproc", "plugin": "stuck", "count": 1}]
    orig = srv.config

    def config():
        cfg = orig()
        cfg["processes"] = cfg_processes
        return cfg
    srv.config = config
    srv.write_config()
    return srv


def ask(sock, line):
    sock.sendall(line)
    return h.recv_line(sock)


def worker_of(port):
    """A connection and the (worker id, pid) that serves it."""
    s = h.connect(port)
    m = re.fullmatch(rb"pid (\d+) (\d+)\n", ask(s, b"pid\n"))
    check(m is not None, "pid reply")
    return s, int(m.group(1)), int(m.group(2))


def pick_two_once(connect, worker):
    """Connections to two different workers, or None (dispatch_mode 2
    picks by fd: the ones on the same worker stay open until then, so
    that each new connection has another fd)."""
    a = connect()
    extra = [a]
    try:
        for _ in range(16):
            b = connect()
            extra.append(b)
            if worker(b) != worker(a):
                extra = extra[1:-1]
                return a, b
        return None
    finally:
        for b in extra:
            b[0].close()


def pick_two(connect, worker):
    """Connections to two different workers. In base mode a worker takes
    connections once it watches the listeners, a little after its title
    is set (which srv.start and wait_workers wait for): tried again until
    it does."""
    return h.wait_until(lambda: pick_two_once(connect, worker), 20,
                        interval=0.1, what="a connection to each of two "
                        "workers")


def two_workers(port):
    """Connections to two different workers: (sock, id, pid) each."""
    return pick_two(lambda: worker_of(port), lambda c: c[1])


def check_killed(srv, callback, about, frames):
    """The watchdog's lines for one stuck callback: what, then the
    backtrace naming frames, then the kill. The stuck pid."""
    rx = (r"manager: (\S+(?: \S+)?(?: \d+)?) \(pid (\d+)\): %s of plugin "
          r"\"stuck\"%s has run for (\d+) ms, past max_execution_time "
          r"\(%d s\): taking its backtrace, then killing it"
          % (callback, about, LIMIT))
    m = srv.wait_log(rx, timeout=LIMIT + SLACK + 5)[0]
    check(int(m.group(3)) >= LIMIT * 1000, "killed after %s ms" % m.group(3))
    pid = int(m.group(2))
    tm = srv.wait_log(r"\(pid %d\): %s of plugin \"stuck\".*: backtrace:\n"
                      r"((?:    #\d+ .*\n)+)" % (pid, callback))
    trace = tm[0].group(1)
    for f in frames:
        check(re.search(r"libswx_ops_stuck\.so\(%s\+0x" % f, trace),
              "%s not in the backtrace:\n%s" % (f, trace))
    srv.wait_log(r"\(pid %d\) killed by signal 9" % pid)
    return pid


def test_tcp(srv):
    (a, _, _), (b, wid, pid) = two_workers(srv.port)
    b.sendall(b"spin\n")
    t0 = time.monotonic()
    # The other worker's client is served while that one is stuck.
    time.sleep(0.5)
    check(ask(a, b"during\n") == b"ok:during\n", "bystander during")
    b.settimeout(LIMIT + SLACK + 5)
    check(b.recv(100) == b"", "stuck client not closed")
    waited = time.monotonic() - t0
    check(LIMIT <= waited < LIMIT + SLACK, "closed after %.2f s" % waited)
    got = check_killed(srv, "on_receive", r" \(session \d+\)",
                       ["stuck_spin_forever", "stuck_receive"])
    check(got == pid, "killed pid %d, the stuck one was %d" % (got, pid))
    check(not h.alive(pid), "stuck worker still alive")
    srv.wait_workers(2, exclude=(pid,))
    check(ask(a, b"after\n") == b"ok:after\n", "bystander after")
    if h.base_mode():
        srv.wait_log(r"worker %d: its 1 connection\(s\) were lost with it"
                     % wid)
    else:
        srv.wait_log(r"session \d+ \(peer [^)]*\): worker %d was killed "
                     r"past max_execution_time; closing" % wid)
    a.close()
    b.close()


def http_worker(port):
    """A keep-alive connection, its reader and the worker serving it."""
    s = hh.connect(port)
    rd = hh.Reader(s)
    s.sendall(hh.get(port, "/"))
    r = rd.response()
    check(r.status == 200, "GET /: %r" % r)
    return s, rd, int(r.body.split()[1])


def http_two_workers(port):
    return pick_two(lambda: http_worker(port), lambda c: c[2])


def test_http(srv):
    port = srv.ports["http"]
    (spin, rd, _), (other, ord_, _) = http_two_workers(port)
    spin.sendall(hh.get(port, "/spin"))
    t0 = time.monotonic()
    time.sleep(0.3)
    # The other worker serves while that one is stuck.
    other.sendall(hh.get(port, "/"))
    r = ord_.response()
    check(r.status == 200, "bystander: %r" % r)
    check(time.monotonic() - t0 < LIMIT, "bystander waited for the kill")
    other.close()
    spin.settimeout(LIMIT + SLACK + 5)
    if h.base_mode():
        # The connection belongs to the killed worker: closed, no 504.
        check(hh.closed_after(spin, rd, LIMIT + SLACK + 5),
              "the stuck worker's connection is still open")
    else:
        r = rd.response()
        check(r.status == 504, "stuck request: %r" % r)
        check(hh.closed_after(spin, rd), "not closed after the 504")
    waited = time.monotonic() - t0
    check(LIMIT <= waited < LIMIT + SLACK, "answered after %.2f s" % waited)
    check_killed(srv, "on_request", r" \(session \d+, GET /spin\)",
                 ["stuck_spin_forever", "stuck_request"])
    if not h.base_mode():
        srv.wait_log(r"worker \d was killed past max_execution_time with "
                     r"the request; answering 504")
    spin.close()

    # The response had begun: the connection is closed, no 504 after it.
    # (In base mode what a callback writes reaches its connection when
    # the callback returns, which this one never does: closed, empty.)
    with hh.connect(port) as s:
        s.sendall(hh.get(port, "/begun"))
        rd = hh.Reader(s)
        s.settimeout(LIMIT + SLACK + 5)
        if h.base_mode():
            check(hh.closed_after(s, rd, LIMIT + SLACK + 5), "/begun open")
        else:
            _, status, _, _ = rd.head()
            check(status == 200, "/begun: %d" % status)
            rest = rd.rest()
            check(rest == b"8\r\npartial\n\r\n", "/begun: %r" % rest)
    check_killed(srv, "on_request", r" \(session \d+, GET /begun\)",
                 ["stuck_spin_forever", "stuck_request"])
    if not h.base_mode():
        srv.wait_log(r"killed past max_execution_time with the request "
                     r"half answered; closing")


def udp_ask(port, data, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(timeout)
        u.sendto(data, (h.HOST, port))
        try:
            return u.recv(100)
        except socket.timeout:
            return None


def test_udp(srv):
    port = srv.ports["udp"]
    check(udp_ask(port, b"spin", 0.3) is None, "a stuck datagram answered")
    check_killed(srv, "on_packet", r" \(from 127\.0\.0\.1:\d+\)",
                 ["stuck_spin_forever", "stuck_packet"])
    h.wait_until(lambda: udp_ask(port, b"hi", 0.5) == b"ok:hi", 20,
                 what="datagrams answered after the kill")


def test_ws(srv):
    ws = hh.WsClient(srv.ports["ws"], "/ws")
    check(ws.status == 101, "handshake %d" % ws.status)
    ws.send(1, b"hello")
    check(ws.recv()[2] == b"ok:hello", "echo")
    ws.send(1, b"spin")
    ws.sock.settimeout(LIMIT + SLACK + 5)
    if h.base_mode():  # the connection dies with its worker
        check(ws.closed(LIMIT + SLACK + 5), "WebSocket still open")
    else:
        check(ws.recv_close() == 1011, "close code")
    ws.close()
    check_killed(srv, "on_message", r" \(session \d+\)",
                 ["stuck_spin_forever", "stuck_message"])


def test_task(srv):
    with h.connect(srv.port, timeout=LIMIT + SLACK + 10) as s:
        check(ask(s, b"task ping\n") == b"task pong\n", "task before")
        # The caller's swx_taskwait gives up after its 1 s; the task
        # worker is killed at the limit; the next task is served.
        check(ask(s, b"task spin\n") == b"task rc=-110\n", "stuck task")
        check_killed(srv, "on_task", r" \(task \d+ from worker \d\)",
                     ["stuck_spin_forever", "stuck_on_task"])
        h.wait_until(lambda: ask(s, b"task ping\n") == b"task pong\n", 20,
                     what="a task served after the kill")


def test_process(srv):
    with h.connect(srv.port) as s:
        check(ask(s, b"proc spin\n") == b"sent\n", "message sent")
    check_killed(srv, "on_pipe_message", r" \(from process \d\)",
                 ["stuck_spin_forever", "stuck_pipe"])
    srv.wait_log(r"stuck: process stuckproc 0 is process id 3", count=2)


def test():
    oh.require(STUCK)
    with make_server() as srv:
        srv.start()
        test_tcp(srv)
        test_http(srv)
        test_udp(srv)
        test_ws(srv)
        test_task(srv)
        test_process(srv)
        st = oh.stats(srv.admin)
        h.log("restarts %s, stuck_clients %s" % (st["restarts"],
                                                  st["stuck_clients"]))
        check(st["restarts"]["timeout"] == 7, "timeouts %r" % st["restarts"])
        check(st["restarts"]["crash"] == 0 and st["worker_restarts"] == 0,
              "counted as crashes: %r" % st)
        # The TCP client, two HTTP requests, the WebSocket.
        check(st["stuck_clients"] >= 4, "stuck_clients %d"
              % st["stuck_clients"])
        check("backing off" not in srv.log_text(), "a back-off followed")
        srv.stop()


if __name__ == "__main__":
    h.main(test)
