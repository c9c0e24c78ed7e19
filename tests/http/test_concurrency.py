"""test_concurrency.py: max_concurrency, the HTTP requests the server has at
its workers at once.

max_concurrency K = 6; http_probe's /slow?MS answers from a timer, so a
worker holds many requests at once and nothing but the limit refuses any.

- A wave of 30 requests on 30 connections at once: exactly K are answered
  200 after MS, the 24 others at once (well before MS) with 503 and
  Retry-After: 1, then closed; /stats counts the 24 in
  concurrency_rejected and shows concurrency K while the K wait, 0 after.
  A second wave of K after it: all 200.
- Slots are never leaked: K clients that send /hold (never answered) and
  leave; K requests whose worker crashes (/crash: 502); K requests whose
  response times out (http_response_timeout: 504); K /slow requests
  across a reload. After each, concurrency is back to 0, and K new
  requests at once are all served. K /slow requests in flight when the
  server stops are answered, and it exits 0.
- Chaos: 12 threads for 3 s mixing fast, slow, abandoned and crashing
  requests, each on its own connection: every answer is 200, 502 or a 503
  with Retry-After; concurrency ends at 0; concurrency_rejected counts at
  least the 503s seen.
- WebSocket messages and raw TCP messages do not count: with the K slots
  held, a WebSocket echo and a stream echo are still answered."""

import http.client
import json
import os
import random
import signal
import socket
import threading
import time

import http_helper as hh

check = hh.check
h = hh.h
K = 6
WAVE = 30
TOKEN = "concurrency-test-token-0123456789"
SLOW = h.is_sanitized()
SLOW_MS = 3000 if SLOW else 1500
AT_ONCE = 1.0 if SLOW else 0.5   # a refusal comes within this


class Server(hh.HttpServer):
    """http_probe on an HTTP listener with a WebSocket one and a raw
    stream one beside it, and an admin endpoint for /stats."""

    def __init__(self):
        self.admin_port = h.free_port()
        self.ws_port = h.free_port()
        self.raw_port = h.free_port()
        super().__init__(
            "concurrency",
            listener={"http_response_timeout": 5 if SLOW else 3},
            server={"worker_num": 2, "reactor_num": 2, "max_concurrency": K},
            plugins=[{"name": "probe", "path": hh.PROBE},
                     {"name": "echo", "path": h.ECHO}],
            more=[{"type": "tcp", "host": hh.HOST, "port": self.ws_port,
                   "plugin": "probe", "protocol": "websocket"},
                  {"type": "tcp", "host": hh.HOST, "port": self.raw_port,
                   "plugin": "echo"}])

    def config(self):
        cfg = super().config()
        cfg["admin"] = {"host": "127.0.0.1", "port": self.admin_port,
                        "token": TOKEN}
        return cfg

    def stats(self):
        conn = http.client.HTTPConnection(h.HOST, self.admin_port, timeout=20)
        try:
            conn.request("GET", "/stats",
                         headers={"Authorization": "Bearer " + TOKEN})
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        check(resp.status == 200, "/stats: %d" % resp.status)
        return json.loads(body)

    def wait_idle(self, what):
        h.wait_until(lambda: self.stats()["concurrency"] == 0, 20,
                     what="concurrency back to 0 after %s" % what)


class Request(threading.Thread):
    """One request on its own connection, sent when the barrier opens:
    status, Retry-After, seconds to the answer, whether it was closed."""

    def __init__(self, port, path, barrier):
        super().__init__(daemon=True)
        self.port, self.path, self.barrier = port, path, barrier
        self.status = self.retry = self.closed = None
        self.secs = 0.0
        self.error = None

    def run(self):
        try:
            with hh.connect(self.port, timeout=30) as s:
                self.barrier.wait(20)
                t0 = time.monotonic()
                s.sendall(hh.get(self.port, self.path))
                rd = hh.Reader(s)
                r = rd.response()
                self.secs = time.monotonic() - t0
                self.status, self.retry = r.status, r.header("retry-after")
                if r.status == 503:
                    self.closed = hh.closed_after(s, rd, 5)
        except Exception as e:  # noqa: B902 -- judged by the test
            self.error = repr(e)


def burst(port, paths, lost=False):
    """Send every path at once, each on its own connection; the finished
    Request threads. lost: a connection may also end without a response
    (base mode: it died with its worker)."""
    barrier = threading.Barrier(len(paths))
    reqs = [Request(port, p, barrier) for p in paths]
    for r in reqs:
        r.start()
    for r in reqs:
        r.join(60)
        check(not r.is_alive(), "a request hung")
        check(r.error is None or lost, "%s: %s" % (r.path, r.error))
    return reqs


def check_refused(r):
    check(r.status == 503 and r.retry == "1", "refusal: %d, Retry-After "
          "%r" % (r.status, r.retry))
    check(r.secs < AT_ONCE, "a refusal took %.2f s" % r.secs)
    check(r.closed, "the connection stayed open after the 503")


def wave(srv):
    before = srv.stats()["concurrency_rejected"]
    seen = {}

    def watch():
        # The gauge while the K are at the workers.
        time.sleep(SLOW_MS / 3000.0)
        seen["during"] = srv.stats()["concurrency"]
    holder = threading.Thread(target=watch, daemon=True)
    holder.start()
    reqs = burst(srv.port, ["/slow?%d" % SLOW_MS] * WAVE)
    holder.join(30)
    ok = [r for r in reqs if r.status == 200]
    refused = [r for r in reqs if r.status != 200]
    h.log("wave of %d: %d answered 200 in %.2f-%.2f s, %d refused in at most "
          "%.3f s" % (WAVE, len(ok), min(r.secs for r in ok),
                      max(r.secs for r in ok), len(refused),
                      max(r.secs for r in refused)))
    check(len(ok) == K, "%d requests served, expected %d" % (len(ok), K))
    for r in refused:
        check_refused(r)
    check(all(r.secs >= SLOW_MS / 1000.0 - 0.05 for r in ok),
          "a /slow answer came early")
    check(seen.get("during") == K, "concurrency %r while %d were at the "
          "workers" % (seen.get("during"), K))
    srv.wait_idle("the wave")
    st = srv.stats()
    check(st["concurrency_rejected"] - before == WAVE - K,
          "concurrency_rejected grew by %d, %d were refused"
          % (st["concurrency_rejected"] - before, WAVE - K))
    served(srv, "after the wave")


def served(srv, what):
    """K requests at once are all served: no slot was kept."""
    reqs = burst(srv.port, ["/slow?50"] * K)
    check(all(r.status == 200 for r in reqs), "%s: %s" % (
        what, [r.status for r in reqs]))


def hold_all(srv):
    """K connections each with a /hold request (never answered) at a
    worker: every slot taken."""
    socks = []
    for i in range(K):
        s = hh.connect(srv.port, timeout=10)
        s.sendall(hh.get(srv.port, "/hold"))
        socks.append(s)
    h.wait_until(lambda: srv.stats()["concurrency"] == K, 20,
                 what="K held requests counted")
    return socks


def abandoned(srv):
    """K /hold requests whose clients leave."""
    socks = hold_all(srv)
    check_refused(burst(srv.port, ["/slow?10"])[0])
    for s in socks:
        s.close()
    srv.wait_idle("clients left")
    served(srv, "after clients left")


def given_up(srv, path, statuses, what, lost=False):
    """K requests at once on path, each answered by the reactor with one
    of statuses (the worker will not answer), or with lost (base mode, a
    crash) closed with the worker that had it; then every slot is free
    again (the manager takes a dead base-mode worker's off)."""
    reqs = burst(srv.port, [path] * K, lost)
    check(all(r.status in statuses or (lost and r.error is not None)
              for r in reqs), "%s: %s" % (what, [r.status for r in reqs]))
    srv.wait_idle(what)
    srv.wait_workers(2)
    served(srv, "after " + what)


def across(srv, act, what):
    """K slow requests at the workers while act() runs: all answered."""
    reqs = []

    def run():
        reqs.extend(burst(srv.port, ["/slow?%d" % (SLOW_MS // 2)] * K))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    h.wait_until(lambda: srv.stats()["concurrency"] == K, 20,
                 what="K slow requests counted")
    act()
    t.join(60)
    check(len(reqs) == K and all(r.status == 200 for r in reqs),
          "across %s: %s" % (what, [r.status for r in reqs]))


def reloaded(srv):
    """K slow requests across a reload: answered, slots freed."""
    across(srv, lambda: os.kill(srv.pid, signal.SIGUSR1), "a reload")
    srv.wait_idle("a reload")
    served(srv, "after a reload")


def stopped(srv):
    """K slow requests across a stop: answered, and the stop completes."""
    across(srv, lambda: srv.stop(expected=("AddressSanitizer: SEGV",)),
           "a stop")


def streams_not_counted(srv):
    """With every slot held, WebSocket and raw stream messages flow."""
    socks = hold_all(srv)
    ws = hh.WsClient(srv.ws_port)
    check(ws.status == 101, "WebSocket handshake: %d" % ws.status)
    ws.send(1, b"hello")
    _, op, payload = ws.recv()
    check(payload.endswith(b"hello"), "WebSocket echo: %r" % payload)
    ws.close()
    with h.connect(srv.raw_port) as s:
        check(h.request(s, b"ping\n") == b"ping\n", "stream echo")
    for s in socks:
        s.close()
    srv.wait_idle("held requests and streams")


class Chaos(threading.Thread):
    def __init__(self, port, n, stop):
        super().__init__(daemon=True)
        self.port, self.n, self.stop = port, n, stop
        self.counts = {}
        self.error = None
        self.rng = random.Random(n)

    def one(self):
        path = self.rng.choice(["/slow?20", "/slow?200", "/echo", "/echo",
                                "/hold", "/crash"])
        with hh.connect(self.port, timeout=20) as s:
            s.sendall(hh.get(self.port, path))
            if path == "/hold":
                time.sleep(self.rng.random() * 0.1)
                return   # gone before any answer, or its 503 unread
            try:
                r = hh.Reader(s).response()
            except (EOFError, ConnectionError):
                # Base mode: a connection dies with its worker.
                if not h.base_mode():
                    raise
                self.counts["lost"] = self.counts.get("lost", 0) + 1
                return
        # Any request may share a worker with a /crash: 502 then.
        want = {200, 502} if path != "/crash" else {502}
        check(r.status in want or (r.status == 503 and
                                   r.header("retry-after") == "1"),
              "%s: %r" % (path, r))
        self.counts[r.status] = self.counts.get(r.status, 0) + 1

    def run(self):
        try:
            while not self.stop.is_set():
                self.one()
        except Exception as e:  # noqa: B902 -- judged by the test
            self.error = e


def chaos(srv):
    before = srv.stats()["concurrency_rejected"]
    stop = threading.Event()
    clients = [Chaos(srv.port, n, stop) for n in range(12)]
    for c in clients:
        c.start()
    time.sleep(3)
    stop.set()
    for c in clients:
        c.join(60)
        check(not c.is_alive(), "a chaos client hung")
        if c.error is not None:
            raise c.error
    total = {}
    for c in clients:
        for k, v in c.counts.items():
            total[k] = total.get(k, 0) + v
    srv.wait_idle("chaos")
    rejected = srv.stats()["concurrency_rejected"] - before
    h.log("chaos: answers %s; concurrency_rejected +%d" % (total, rejected))
    check(rejected >= total.get(503, 0), "%d 503s seen, %d counted"
          % (total.get(503, 0), rejected))
    srv.wait_workers(2)
    served(srv, "after chaos")


def main():
    h.require(hh.PROBE, h.ECHO)
    with Server() as srv:
        srv.start()
        wave(srv)
        abandoned(srv)
        # A worker that dies under its requests: 502; a request queued
        # behind it crashes the replacement in turn, and under a
        # sanitizer that chain may outlast http_response_timeout: 504.
        # In base mode the connections die with the worker: no 502.
        given_up(srv, "/crash?100", (502, 504), "crashes", h.base_mode())
        given_up(srv, "/hold", (504,), "504s")
        streams_not_counted(srv)
        reloaded(srv)
        chaos(srv)
        stopped(srv)


if __name__ == "__main__":
    hh.main(main)
