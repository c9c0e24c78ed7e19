"""test_backoff.py: a worker whose plugin refuses to start backs off,
and its clients do not wait for it.

Two workers, dispatch_mode 2, a websocket listener (HTTP too) and a raw
stream listener. http_probe refuses to start in worker 1 while a marker
file exists (after 300 ms, so that requests can queue meanwhile). The
test creates the marker and kills worker 1. Then:

- the manager backs off with growing delays (100, 200, 400, 800 ms ...),
  each logged with its cause and its next delay;
- worker 1's stream connection is closed and its WebSocket gets close
  code 1013, within 2 s, each with a log line naming session and peer;
- an HTTP request for worker 1 gets 503 with Retry-After and
  Connection: close within 2 s, whether it arrives while the slot waits
  or while a replacement is starting (queued, then its start fails);
- worker 0's clients (HTTP, stream, WebSocket) are served throughout;
- once the marker is gone, worker 1 serves again, and none of the
  requests answered 503 was ever run (each would have logged a note)."""

import os
import re
import signal
import socket
import time

import http_helper as hh

check = hh.check
h = hh.h
WORKERS = 2
START_DELAY_MS = 300
ANSWER_WITHIN = 2.0
FAILURE = (r"worker 1 failed (\d+) time\(s\) in a row soon after start; "
           r"next start in (\d+) ms \(exit status 3 before on_worker_start "
           r"finished: a plugin failed to start\)")
STARTING = r"http_probe: worker 1 \(pid \d+\) starting"


# ---------------------------------------------------------------- clients

def http_conn(port):
    """((socket, reader), worker id) of a new keep-alive connection."""
    s = hh.connect(port, timeout=10)
    s.sendall(hh.get(port, "/worker"))
    rd = hh.Reader(s)
    r = rd.response()
    check(r.status == 200, "/worker: %r" % r)
    return (s, rd), int(r.body)


def stream_conn(port):
    s = hh.connect(port, timeout=10)
    return s, h.ask_pid(s)[0]


def ws_conn(port):
    ws = hh.WsClient(port)
    check(ws.status == 101, "handshake: %d" % ws.status)
    ws.send(1, b"worker")
    _, op, payload = ws.recv()
    m = re.fullmatch(rb"worker (\d+)", payload)
    check(op == 1 and m is not None, "ws worker: %r" % payload)
    return ws, int(m.group(1))


def sort_by_worker(make, want):
    """Open connections with make() until want[w] of them are on worker w
    for each w; {w: [connection, ...]}. The others are closed."""
    got, extra = {w: [] for w in want}, []
    for _ in range(40):
        if all(len(got[w]) >= n for w, n in want.items()):
            break
        conn, w = make()
        (got[w] if len(got[w]) < want[w] else extra).append(conn)
    check(all(len(got[w]) >= n for w, n in want.items()),
          "could not get connections on every worker")
    for conn in extra:
        (conn[0] if isinstance(conn, tuple) else conn).close()
    return got


def ask(sock, reader, port, path):
    """One request on a kept connection: (response, seconds)."""
    t0 = time.monotonic()
    sock.sendall(hh.get(port, path))
    r = reader.response()
    return r, time.monotonic() - t0


def expect_503(sock, reader, port, path):
    r, took = ask(sock, reader, port, path)
    check(r.status == 503, "%s: %r" % (path, r))
    check(took < ANSWER_WITHIN, "%s: 503 after %.2f s" % (path, took))
    ra = r.header("retry-after")
    check(ra is not None and ra.isdigit() and 1 <= int(ra) <= 30,
          "%s: Retry-After %r" % (path, ra))
    check(r.header("connection") == "close", "%s: 503 without "
          "Connection: close" % path)
    hh.h.check_server_date(r.header, "%s: 503" % path)
    check(hh.closed_after(sock, reader), "%s: not closed after the 503"
          % path)
    sock.close()
    return took, int(ra)


def closed_within(sock, seconds):
    """True when the peer closes sock within seconds (what it sent before
    is read and dropped)."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True


# ---------------------------------------------------------------- phases

def check_others(port, stream_port, a0, s0, w0):
    """Worker 0's connections are still served."""
    r, took = ask(a0[0], a0[1], port, "/worker")
    check(r.status == 200 and r.body == b"0" and took < ANSWER_WITHIN,
          "worker 0's HTTP client: %r after %.2f s" % (r, took))
    check(h.request(s0, b"still 0\n") == b"still 0\n", "worker 0's stream")
    w0.send(1, b"still 0")
    check(w0.recv()[2] == b"still 0", "worker 0's WebSocket")


def check_closed_clients(srv, s1, w1):
    """Worker 1's stream and WebSocket clients are closed, in time, with
    a log line each."""
    s1_port = s1.getsockname()[1]
    t0 = time.monotonic()
    check(closed_within(s1, ANSWER_WITHIN), "worker 1's stream connection "
          "still open %.1f s after the back-off began" % ANSWER_WITHIN)
    w1.sock.settimeout(ANSWER_WITHIN)
    code = w1.recv_close()
    check(code == 1013, "worker 1's WebSocket closed with %r" % code)
    check(w1.closed(ANSWER_WITHIN), "worker 1's WebSocket not closed")
    h.log("worker 1's stream and WebSocket clients closed %.2f s after the "
          "first back-off line" % (time.monotonic() - t0))
    srv.wait_log(r"session \d+ \(peer 127\.0\.0\.1:%d\): worker 1 is backing "
                 r"off after failures \(next start in \d+ s\); closing$"
                 % s1_port, timeout=5)
    srv.wait_log(r"session \d+ \(peer 127\.0\.0\.1:%d\): worker 1 is backing "
                 r"off after failures \(next start in \d+ s\); closing the "
                 r"WebSocket with 1013" % w1.sock.getsockname()[1], timeout=5)


def queued_during_start(srv, port, conns, refused):
    """A request sent while a replacement of worker 1 is starting waits in
    its channel; when the start fails it is answered 503."""
    waited = []
    for i, (s, rd) in enumerate(conns):
        n = len(re.findall(STARTING, srv.log_text()))
        srv.wait_log(STARTING, count=n + 1, timeout=30)
        tag = "queued-%d" % i
        took, ra = expect_503(s, rd, port, "/note?" + tag)
        refused.append(tag)
        waited.append(took)
    h.log("requests sent while a replacement was starting: 503 after %s s"
          % ["%.2f" % t for t in waited])
    check(max(waited) > 0.1, "no request waited for a failing start")


def new_connections(port, seconds, refused):
    """New connections for a while: worker 0 answers, worker 1's get 503
    in time."""
    deadline, served, kept, i = time.monotonic() + seconds, 0, [], 0
    while time.monotonic() < deadline:
        s = hh.connect(port, timeout=10)
        kept.append(s)   # kept open, so that the fds (and workers) differ
        rd, tag = hh.Reader(s), "new-%d" % i
        i += 1
        r, took = ask(s, rd, port, "/note?" + tag)
        check(took < ANSWER_WITHIN, "%s answered after %.2f s" % (tag, took))
        check(r.status in (200, 503), "%s: %r" % (tag, r))
        if r.status == 503:
            refused.append(tag)
            check(r.header("retry-after") is not None, "503 without "
                  "Retry-After")
        else:
            served += 1
        time.sleep(0.05)
    for s in kept:
        s.close()
    h.log("new connections: %d served by worker 0, %d answered 503"
          % (served, i - served))
    check(served > 0 and i - served > 0, "new connections did not reach "
          "both workers")


def check_delays(srv):
    text = srv.log_text()
    fails = [(int(a), int(b)) for a, b in re.findall(FAILURE, text)]
    h.log("back-off lines: %s" % fails)
    check([n for n, _ in fails] == list(range(1, len(fails) + 1)),
          "failure counts are not 1, 2, 3...: %s" % fails)
    delays = [d for _, d in fails]
    check(delays[0] == 100 and all(b == min(2 * a, 30000) for a, b in
                                   zip(delays, delays[1:])),
          "delays do not grow from 100 ms: %s" % delays)
    check(re.search(r"reactor \d+: worker 1 is backing off after failures; "
                    r"its replacement starts in \d+ ms", text),
          "no reactor line about the back-off")


def recover(srv, port, marker):
    os.unlink(marker)
    t0 = time.monotonic()
    kept = []

    def worker1_serves():
        s = hh.connect(port, timeout=10)
        kept.append(s)
        rd = hh.Reader(s)
        r, _ = ask(s, rd, port, "/worker")
        if r.status != 200 or r.body != b"1":
            return False
        r, _ = ask(s, rd, port, "/note?after")
        check(r.status == 200, "worker 1 after the recovery: %r" % r)
        return True
    try:
        h.wait_until(worker1_serves, 40, interval=0.1,
                     what="worker 1 to serve again")
    finally:
        for s in kept:
            s.close()
    h.log("worker 1 serves again %.1f s after the marker was removed"
          % (time.monotonic() - t0))


def main():
    hh.h.process_mode_only(
        "503 for a backing-off worker's connections exists only in process mode; in base mode the other workers accept")
    with hh.HttpServer("backoff", server={"worker_num": WORKERS},
                       listener={"protocol": "websocket",
                                 "http_response_timeout": 60}) as srv:
        marker = os.path.join(srv.dir, "broken")
        srv.plugins = [{"name": "http_probe", "path": hh.PROBE,
                        "config": {"fail_file": marker, "fail_worker": 1,
                                   "start_delay_ms": START_DELAY_MS}},
                       {"name": "probe", "path": h.PROBE}]
        stream_port = h.free_port()
        srv.more = [{"type": "tcp", "host": h.HOST, "port": stream_port,
                     "plugin": "probe"}]
        srv.write_config()
        srv.start()
        port = srv.port
        https = sort_by_worker(lambda: http_conn(port), {0: 1, 1: 4})
        streams = sort_by_worker(lambda: stream_conn(stream_port),
                                 {0: 1, 1: 1})
        wss = sort_by_worker(lambda: ws_conn(port), {0: 1, 1: 1})
        a0, s0, w0 = https[0][0], streams[0][0], wss[0][0]
        a1, queued = https[1][0], https[1][1:]
        s1, w1 = streams[1][0], wss[1][0]

        with open(marker, "w"):
            pass
        victim = srv.workers()[1]
        srv.note([victim])
        os.kill(victim, signal.SIGKILL)
        srv.wait_log(FAILURE, timeout=20)
        check_closed_clients(srv, s1, w1)
        refused = []
        took, ra = expect_503(a1[0], a1[1], port, "/note?idle")
        refused.append("idle")
        h.log("an idle keep-alive client of worker 1: 503 after %.2f s, "
              "Retry-After %d" % (took, ra))
        check_others(port, stream_port, a0, s0, w0)
        queued_during_start(srv, port, queued, refused)
        new_connections(port, 2.0, refused)
        check_others(port, stream_port, a0, s0, w0)
        srv.wait_log(FAILURE, count=5, timeout=30)
        check_delays(srv)

        recover(srv, port, marker)
        check_others(port, stream_port, a0, s0, w0)
        srv.wait_log(r"worker 1: \d+ message\(s\) sent to it while it was "
                     r"backing off were dropped")
        time.sleep(1.0)  # what the replacement would run, it runs by now
        text = srv.log_text()
        ran = [t for t in refused if "http_probe: note %s\n" % t in text]
        check(not ran, "requests answered 503 were run later: %s" % ran)
        check("http_probe: note after\n" in text, "notes are not logged")
        h.log("%d requests answered 503, none of them run" % len(refused))
        for c in (a0[0], s0, w0.sock):
            c.close()
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
