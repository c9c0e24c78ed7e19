"""test_stop_drain.py: what HTTP keep-alive clients see when the server
stops or reloads.

  at SIGTERM     a request in flight is answered 200 with Connection:
                 close, then the connection closes; a pipelined request
                 behind it is not half-read and dropped: the first
                 response says Connection: close and the connection ends
                 there; idle keep-alive connections get their FIN at
                 once, long before the server exits
  under load     keep-alive clients that honour Connection: close (and,
                 as HTTP allows, retry a request whose connection closed
                 before any byte of a response) lose nothing
                 across 10 reloads and 10 stops and restarts: every
                 request is answered exactly once, no response is cut"""

import signal
import socket
import threading
import time

import http_helper as hh

check = hh.check
h = hh.h

SLOW_MS = 1500


def keepalive(port, path):
    """A connection with one request answered on it (kept alive)."""
    s = hh.connect(port, timeout=15)
    s.sendall(hh.get(port, path))
    rd = hh.Reader(s)
    r = rd.response()
    check(r.status == 200 and r.header("connection") != "close",
          "warm-up request: %r" % r)
    return s, rd


def closed_within(sock, reader, seconds):
    sock.settimeout(seconds)
    try:
        return reader.rest() == b""
    except (ConnectionResetError, socket.timeout):
        return False


def stop_checks(srv):
    slow, piped, idle = [], [], []
    for _ in range(4):
        slow.append(keepalive(srv.port, "/echo"))
    for _ in range(2):
        piped.append(keepalive(srv.port, "/echo"))
    for _ in range(4):
        idle.append(keepalive(srv.port, "/echo"))
    for s, _ in slow:
        s.sendall(hh.get(srv.port, "/slow?%d" % SLOW_MS))
    for s, _ in piped:
        s.sendall(hh.get(srv.port, "/slow?%d" % SLOW_MS) +
                  hh.get(srv.port, "/echo?second"))
    time.sleep(0.3)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)

    for s, rd in idle:
        check(closed_within(s, rd, 1.0), "an idle keep-alive connection "
              "was not closed within 1 s of SIGTERM")
    took = time.monotonic() - t0
    check(srv.proc.poll() is None, "the server exited before the slow "
          "requests were answered")
    h.log("idle keep-alive connections closed %.2f s after SIGTERM" % took)
    for s, rd in slow + piped:
        s.settimeout(15)
        r = rd.response()
        check(r.status == 200 and r.body == b"slow %d\n" % SLOW_MS,
              "in-flight request: %r" % r)
        check(r.header("connection") == "close", "a response during the "
              "stop did not say Connection: close: %r" % r)
        check(closed_within(s, rd, 5.0), "connection not closed after its "
              "Connection: close response")
    rc = srv.proc.wait(30)
    check(rc == 0, "master exited with %d" % rc)
    for s, _ in slow + piped + idle:
        s.close()


def under_load(srv, rounds):
    stop = threading.Event()
    clients = [hh.KeepAliveClient(srv.port, i, stop) for i in range(6)]
    for c in clients:
        c.start()

    def progress(after):
        total = sum(c.answered for c in clients)
        h.wait_until(lambda: sum(c.answered for c in clients) >= total + after
                     or any(c.error for c in clients), 30,
                     what="requests answered")
        errs = [c.error for c in clients if c.error]
        check(not errs, "; ".join(errs))

    progress(100)
    for _ in range(rounds):
        srv.proc.send_signal(signal.SIGUSR1)
        progress(100)
    reload_retries = sum(c.retries + c.fresh for c in clients)
    check(reload_retries == 0, "%d requests failed before any byte of a "
          "response during reloads, which close no client connection"
          % reload_retries)
    for _ in range(rounds):
        srv.stop(timeout=30)
        srv.start()
        progress(100)
    stop.set()
    for c in clients:
        c.join(30)
    errs = [c.error for c in clients if c.error]
    check(not errs, "; ".join(errs))
    total = sum(c.answered for c in clients)
    retries = sum(c.retries for c in clients)
    fresh = sum(c.fresh for c in clients)
    h.log("%d requests answered across %d reloads and %d stops; retried: "
          "%d as an idle connection closed, %d on a connection reset as "
          "the listener closed" % (total, rounds, rounds, retries, fresh))
    # Per client and stop: at most the request sent as its idle connection
    # was closed, and one on a connection the kernel had queued but the
    # stopping server never accepted.
    check(retries <= len(clients) * rounds, "%d retries" % retries)
    check(fresh <= len(clients) * rounds, "%d fresh retries" % fresh)


def main():
    port = h.free_port()
    with hh.HttpServer("stop-drain", server={"max_wait_time": 10}) as srv:
        srv.port = port
        srv.fixed_port = True
        srv.write_config()
        srv.start()
        stop_checks(srv)
        srv.check_no_leftovers()
        srv.start()
        under_load(srv, 10)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
