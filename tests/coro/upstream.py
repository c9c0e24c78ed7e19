"""upstream.py: the servers the client socket tests connect to, in threads of
the test: a TCP (or Unix, or IPv6) server that reads one command line and
answers it, and a listener whose backlog is full (connects to it time out).

Commands (the first line a client sends):
  GET /delay/MS HTTP/1.1 ...  an HTTP/1.1 answer after MS ms, "slept MS\\n"
  lines       lines in awkward pieces, one too long, a last without \\n
  exact N     N bytes (i % 251) in pieces of 1000 with short pauses
  silent      nothing until the client closes
  echo        every following line sent back
"""

import os
import socket
import socketserver
import threading
import time

LINES = [b"one\ntw", b"o\n", b"thr", b"ee\n" + b"x" * 40 + b"\nfour\n",
         b"tail"]


def _read_line(f):
    return f.readline(4096).decode("latin-1").strip()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.server.count += 1
        cmd = _read_line(self.rfile)
        try:
            if cmd.startswith("GET /delay/"):
                self.http_delay(int(cmd.split()[1].rsplit("/", 1)[1]))
            elif cmd.startswith("GET /eof/"):
                self.http_eof(int(cmd.split()[1].rsplit("/", 1)[1]))
            elif cmd in ("silent", "GET /silent HTTP/1.1"):
                while self.rfile.read(1):
                    pass
            elif cmd == "lines":
                for piece in LINES:
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(0.05)
            elif cmd.startswith("exact "):
                self.exact(int(cmd.split()[1]))
            elif cmd == "echo":
                for line in self.rfile:
                    self.wfile.write(line)
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def http_delay(self, ms):
        while _read_line(self.rfile):  # the request's header lines
            pass
        time.sleep(ms / 1000.0)
        body = b"slept %d\n" % ms
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(body), body))

    def http_eof(self, n):
        while _read_line(self.rfile):
            pass
        self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        self.wfile.write(b"e" * n)

    def exact(self, n):
        data = bytes(i % 251 for i in range(n))
        for i in range(0, n, 1000):
            self.wfile.write(data[i:i + 1000])
            self.wfile.flush()
            time.sleep(0.002)


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    count = 0


class _TCP6(_TCP):
    address_family = socket.AF_INET6


class _Unix(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    count = 0


def _serve(srv):
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def tcp():
    """A server on 127.0.0.1; its port is srv.server_address[1]."""
    return _serve(_TCP(("127.0.0.1", 0), Handler))


def tcp6():
    """A server on ::1, or None when this machine has no IPv6 loopback."""
    try:
        return _serve(_TCP6(("::1", 0), Handler))
    except OSError:
        return None


def unix(path):
    if os.path.exists(path):
        os.unlink(path)
    return _serve(_Unix(path, Handler))


def full_backlog():
    """(listener, port, fillers): a listener that never accepts, its
    backlog of 0 taken by a connection of ours, so that Linux drops the
    SYNs of any further connect, which then times out."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    for _ in range(2):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.1)
    return lst, port, fillers
