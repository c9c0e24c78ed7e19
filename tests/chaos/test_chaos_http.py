"""test_chaos_http.py: HTTP, WebSocket and raw clients that behave, served
while others do everything a hostile or broken client does, and while the
workers are reloaded, for a bounded time:

  flooders     pipelined requests, 2000 per write, one reading its
               responses and one never reading
  slowloris    connections that send a request head a byte at a time
  idle         connections that send nothing at all
  attackers    request smuggling (Content-Length with Transfer-Encoding,
               two lengths), heads and targets over the limits, bad chunk
               sizes, bare LF, NUL bytes, a bad version, random bytes, and
               WebSocket frames that are unmasked, reserved, oversized or
               fragmented wrongly, each on a new connection
  stalled      a download of a 20 MiB static file that stops reading
  reloads      SIGUSR1 every second

What must hold: every well-behaved client is served throughout (HTTP
keep-alive clients lose no request, WebSocket and TCP echoes come back
byte-exact), the master's memory stays bounded, the hostile connections
are closed (408, 4xx, send_timeout, WebSocket close codes) without taking
anything else with them, the log stays small, and the server stops
cleanly afterwards."""

import os
import random
import socket
import threading
import time

import http_helper as hh

check = hh.check
h = hh.h

SECONDS = 12.0
RELOADS = 8
SLOWLORIS = 100
IDLE = 500
# The master's growth allowed over the whole run. AddressSanitizer keeps
# up to 256 MiB of freed memory in quarantine: there, only growth without
# bound (gigabytes within seconds) is caught.
GROWTH_KIB = (64 + (320 if h.is_sanitized() else 0)) * 1024
# Every refusal is logged, within the rate limit: a few lines a second.
LOG_MAX = 256 << 10


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Chaos:
    """Threads that run until stop is set; failures of well-behaved
    clients are collected."""

    def __init__(self):
        self.stop = threading.Event()
        self.threads = []
        self.failures = []
        self.counts = {}
        self.lock = threading.Lock()

    def spawn(self, name, fn, *args):
        def run():
            try:
                fn(*args)
            except Exception as e:  # noqa: B902 -- reported below
                with self.lock:
                    self.failures.append("%s: %r" % (name, e))
        t = threading.Thread(target=run, daemon=True, name=name)
        self.threads.append(t)
        t.start()

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(40)
        hung = [t.name for t in self.threads if t.is_alive()]
        check(not hung, "threads hung: %s" % ", ".join(hung))


# ------------------------------------------------------- well-behaved

def ws_echo(chaos, port, idx):
    ws = hh.WsClient(port, timeout=20)
    check(ws.status == 101, "handshake %d" % ws.status)
    n = 0
    while not chaos.stop.is_set():
        msg = b"ws %d %d " % (idx, n) + os.urandom(random.randint(0, 3000))
        ws.send(2, msg)
        fin, op, payload = ws.recv()
        check(fin and op == 2 and payload == msg, "echo %d differs" % n)
        n += 1
        chaos.count("ws echoes")
    ws.close()


def tcp_echo(chaos, port, idx):
    with h.connect(port, timeout=20) as s:
        n = 0
        while not chaos.stop.is_set():
            msg = os.urandom(random.randint(1, 20000))
            s.sendall(msg)
            check(h.recv_exact(s, len(msg)) == msg, "echo %d differs" % n)
            n += 1
            chaos.count("tcp echoes")


# ---------------------------------------------------------- hostile

def flooder(chaos, port, read_back):
    s = hh.connect(port, timeout=0.5)
    batch = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
    if read_back:
        def drain():
            while not chaos.stop.is_set():
                try:
                    if not s.recv(1 << 16):
                        return
                except socket.timeout:
                    continue
                except OSError:
                    return
        threading.Thread(target=drain, daemon=True).start()
    try:
        while not chaos.stop.is_set():
            try:
                s.sendall(batch)
                chaos.count("flood requests", 2000)
            except socket.timeout:
                continue
    except OSError:
        pass  # closed by the server: fine
    s.close()


def slowloris(chaos, port):
    socks = []
    head = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    while not chaos.stop.is_set():
        while len(socks) < SLOWLORIS:
            try:
                socks.append([socket.create_connection((hh.HOST, port),
                                                       timeout=5), 0])
            except OSError:
                break
        for entry in list(socks):
            s, i = entry
            try:
                s.send(head[i % len(head):i % len(head) + 1])
                entry[1] = i + 1
            except OSError:
                s.close()
                socks.remove(entry)
                chaos.count("slowloris closed")
        time.sleep(0.3)
    for s, _ in socks:
        s.close()


def idle(chaos, port):
    socks = []
    for _ in range(IDLE):
        if chaos.stop.is_set():
            break
        try:
            socks.append(socket.create_connection((hh.HOST, port),
                                                  timeout=5))
        except OSError:
            break
    chaos.stop.wait()
    for s in socks:
        s.close()


def attacks(port, ws_port):
    chunk = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    http = [
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Content-Length: 5\r\n\r\nabcde",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        chunk + b"fffffffffffffffff\r\n",
        chunk + b"5\r\nabcdefgh\r\n",
        b"GET /echo HTTP/1.1\nHost: x\n\n",
        b"GET /ec\x00ho HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /echo HTTP/9.9\r\nHost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        os.urandom(3000),
    ]
    for data in http:
        with hh.connect(port, timeout=10) as s:
            try:
                s.sendall(data)
                s.settimeout(10)
                while s.recv(1 << 16):
                    pass
            except OSError:
                pass
    ws_bad = [hh.ws_frame(1, b"x", mask=False), hh.ws_frame(1, b"x", rsv=4),
              hh.ws_frame(0, b"x"), hh.ws_frame(9, b"x" * 200),
              b"\x82\xff" + b"\xff" * 8 + b"\0" * 4, os.urandom(500)]
    for frame in ws_bad:
        ws = hh.WsClient(ws_port, timeout=10)
        try:
            ws.sock.sendall(frame)
            ws.closed(10)
        except OSError:
            pass
        ws.close()


def attacker(chaos, port, ws_port):
    while not chaos.stop.is_set():
        attacks(port, ws_port)
        chaos.count("attack rounds")


def stalled(chaos, port):
    while not chaos.stop.is_set():
        s = hh.connect(port, timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(hh.get(port, "/big.bin"))
        s.recv(1024)
        chaos.stop.wait(5)
        s.close()
        chaos.count("stalled downloads")


# ------------------------------------------------------------ the run

def main():
    hh.h.process_mode_only(
        "connections survive killed workers only in process mode")
    ws_port, echo_port = h.free_port(), h.free_port()
    plugins = [{"name": "probe", "path": hh.PROBE, "config": {}},
               {"name": "echo", "path": h.ECHO}]
    more = [{"type": "tcp", "host": hh.HOST, "port": ws_port,
             "plugin": "probe", "protocol": "websocket"},
            {"type": "tcp", "host": hh.HOST, "port": echo_port,
             "plugin": "echo"}]
    server = {"worker_num": 2, "reactor_num": 2, "send_timeout": 3,
              "max_wait_time": 5}
    h.raise_nofile()
    with hh.HttpServer("chaos-http", plugins=plugins, more=more,
                       server=server,
                       listener={"http_request_timeout": 3}) as srv:
        www = os.path.join(srv.dir, "www")
        os.makedirs(www)
        with open(os.path.join(www, "big.bin"), "wb") as f:
            f.write(os.urandom(20 << 20))
        srv.listener_opts["document_root"] = www
        srv.write_config()
        srv.start()
        base = rss_kib(srv.pid)

        chaos = Chaos()
        careful = [hh.KeepAliveClient(srv.port, i, chaos.stop)
                   for i in range(4)]
        for c in careful:
            c.start()
        for i in range(2):
            chaos.spawn("ws echo %d" % i, ws_echo, chaos, ws_port, i)
            chaos.spawn("tcp echo %d" % i, tcp_echo, chaos, echo_port, i)
        hostile = Chaos()
        hostile.stop = chaos.stop
        hostile.spawn("flood reading", flooder, chaos, srv.port, True)
        hostile.spawn("flood not reading", flooder, chaos, srv.port, False)
        hostile.spawn("slowloris", slowloris, chaos, srv.port)
        hostile.spawn("idle", idle, chaos, srv.port)
        hostile.spawn("attacker", attacker, chaos, srv.port, ws_port)
        hostile.spawn("stalled", stalled, chaos, srv.port)

        peak = base
        t0 = time.monotonic()
        next_reload = t0 + 1.0
        reloads = 0
        while time.monotonic() - t0 < SECONDS:
            peak = max(peak, rss_kib(srv.pid))
            if reloads < RELOADS and time.monotonic() >= next_reload:
                srv.proc.send_signal(__import__("signal").SIGUSR1)
                reloads += 1
                next_reload += 1.0
            check(srv.proc.poll() is None, "the server died")
            time.sleep(0.1)
        served_before = sum(c.answered for c in careful)
        time.sleep(1.0)
        check(sum(c.answered for c in careful) > served_before,
              "keep-alive clients no longer served at the end")
        chaos.join()
        for c in careful:
            c.join(30)
        hostile.join()

        h.log("master RSS %d -> peak %d KiB; %d reloads; %s; %d keep-alive "
              "requests" % (base, peak, reloads, chaos.counts,
                            sum(c.answered for c in careful)))
        errors = chaos.failures + [c.error for c in careful if c.error]
        errors += ["client %d: %d retries" % (c.cid, c.retries + c.fresh)
                   for c in careful if c.retries + c.fresh]
        check(not errors, "well-behaved clients failed: %s"
              % "; ".join(errors[:10]))
        check(peak - base <= GROWTH_KIB, "the master grew by %d KiB"
              % (peak - base))
        check(chaos.counts.get("slowloris closed", 0) >= SLOWLORIS,
              "slowloris connections were not closed by "
              "http_request_timeout")
        r = hh.exchange(srv.port, hh.get(srv.port, "/echo", body=b"after"))
        check(r.body == b"after", "not served after the chaos: %r" % r)
        size = os.path.getsize(srv.log_path)
        h.log("log: %d bytes" % size)
        check(size <= LOG_MAX, "the log grew to %d bytes" % size)
        srv.stop(timeout=30)


if __name__ == "__main__":
    hh.main(main)
