"""test_shutdown_delay.py: server.shutdown_delay.

- After SIGTERM the server keeps accepting and serving new connections
  (and old ones) for shutdown_delay seconds while GET /health answers 503
  "draining"; on_before_shutdown has run at once; HTTP responses say
  "Connection: close" (keep-alive clients move on) and their connections
  close; then it stops gracefully (exit 0, no process left), not before
  the delay.
- A second SIGTERM during the delay stops it at once.
- SIGINT stops it at once, without the delay."""

import json
import os
import re
import signal
import time

from ops_helper import h
import ops_helper as o

DELAY = 3


def server(name, delay):
    srv = o.Server(name, server={"worker_num": 2, "reactor_num": 1,
                                 "shutdown_delay": delay},
                   admin={"host": "127.0.0.1", "port": h.free_port()})
    srv.events = os.path.join(srv.dir, "events")
    srv.http_port = h.free_port()
    srv.plugins = [{"name": "lc", "path": o.LIFECYCLE,
                    "config": {"events_file": srv.events}}]
    srv.listeners = [
        {"type": "tcp", "host": h.HOST, "port": srv.port, "plugin": "lc"},
        {"type": "tcp", "host": h.HOST, "port": srv.http_port, "plugin": "lc",
         "protocol": "http"}]
    srv.write_config()
    return srv


def http_get(sock):
    """One GET on a keep-alive connection (the plugin has no on_request:
    404 from the worker); the response head, lower-cased."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        o.check(chunk, "the connection closed before a response")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    head = head.decode("latin-1").lower()
    m = re.search(r"content-length: *(\d+)", head)
    o.check(m is not None, "no Content-Length in %r" % head)
    if len(body) < int(m.group(1)):
        h.recv_exact(sock, int(m.group(1)) - len(body))
    return head


def health(srv):
    status, _, body = o.admin_call(srv.admin, "GET", "/health")
    return status, json.loads(body)


def full_delay():
    with server("shutdown_delay", DELAY) as srv:
        srv.start()
        status, hl = health(srv)
        o.check(status == 200 and hl["status"] == "ok", "before: %d %s"
                % (status, hl))
        old = h.connect(srv.port)
        web = h.connect(srv.http_port)
        o.check("connection: close" not in http_get(web),
                "Connection: close before SIGTERM")
        procs = srv.tree()
        t0 = time.monotonic()
        os.kill(srv.pid, signal.SIGTERM)
        srv.wait_log(r"SIGTERM: still serving for %d s \(shutdown_delay\)"
                     % DELAY, 5)
        o.wait_file(srv.events, r"^before_shutdown ", 5)
        status, hl = health(srv)
        o.check(status == 503 and hl["status"] == "draining",
                "during the delay: %d %s" % (status, hl))
        o.check(0 < hl["draining_left_ms"] <= DELAY * 1000,
                "draining_left_ms %s" % hl.get("draining_left_ms"))
        head = http_get(web)
        o.check("connection: close" in head, "a keep-alive response during "
                "the delay lacks Connection: close: %r" % head)
        o.check(web.recv(1) == b"", "the connection stayed open after "
                "Connection: close")
        web.close()
        with h.connect(srv.http_port) as web2:
            o.check("connection: close" in http_get(web2),
                    "a new HTTP connection during the delay")
        served = 0
        while time.monotonic() - t0 < DELAY - 1:
            msg = b"n%d\n" % served
            o.check(o.ask(srv.port, msg, timeout=5) == msg,
                    "a new connection during the delay was not served")
            o.check(h.request(old, msg) == msg,
                    "an old connection during the delay was not served")
            served += 1
            time.sleep(0.1)
        h.log("%d new connections served during the delay; /health "
              "draining" % served)
        rc = srv.proc.wait(DELAY + 30)
        took = time.monotonic() - t0
        old.close()
        o.check(rc == 0, "exit status %d" % rc)
        o.check(took >= DELAY, "stopped %.2f s after SIGTERM, before "
                "shutdown_delay (%d s)" % (took, DELAY))
        srv.check_no_leftovers(procs)
        srv.check_log_clean()
        srv.wait_log(r"shutdown_delay passed: stopping", 1)
        h.log("stopped %.2f s after SIGTERM, exit 0" % took)


def cut_short(sigs):
    with server("shutdown_delay_cut", 60) as srv:
        srv.start()
        procs = srv.tree()
        t0 = time.monotonic()
        os.kill(srv.pid, sigs[0])
        if len(sigs) > 1:
            srv.wait_log(r"still serving for 60 s", 5)
            o.check(health(srv)[1]["status"] == "draining", "not draining")
            os.kill(srv.pid, sigs[1])
        rc = srv.proc.wait(20)
        took = time.monotonic() - t0
        o.check(rc == 0, "exit status %d" % rc)
        o.check(took < 15, "took %.1f s to stop" % took)
        srv.check_no_leftovers(procs)
        if len(sigs) > 1:
            srv.wait_log(r"SIGTERM during shutdown_delay: stopping now", 1)
        else:
            o.check(o.count_log(srv, r"still serving for") == 0,
                    "SIGINT waited for shutdown_delay")
        o.check(o.read_text(srv.events).count("before_shutdown ") == 1,
                "on_before_shutdown did not run exactly once")
        h.log("%s: stopped in %.2f s" % ("+".join(s.name for s in sigs),
                                         took))


def main():
    o.require(o.LIFECYCLE)
    full_delay()
    cut_short([signal.SIGTERM, signal.SIGTERM])
    cut_short([signal.SIGINT])


if __name__ == "__main__":
    h.main(main)
