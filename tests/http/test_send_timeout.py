"""test_send_timeout.py: send_timeout closes a connection whose client has
stopped taking its output, whatever that output is: a static file and a
plugin's swx_http_sendfile (sent from disk by sendfile), a large buffered
response, and the replies of a raw TCP echo. Each is closed within a
little more than send_timeout, before the whole output was sent, with a
log line naming its peer; a client that reads slowly but steadily is never
closed, however long its download takes; everyone else is served as
before."""

import os
import re
import socket
import threading
import time

import http_helper as hh

check = hh.check
h = hh.h

TIMEOUT = 2
FILE = 20 << 20
BIG = 6 << 20
ECHO = 8 << 20


def stalled(sock, what, total):
    """After the server gave up: what is left arrives, then EOF or a
    reset, and it is less than the whole."""
    sock.settimeout(5)
    got = 0
    try:
        while True:
            b = sock.recv(1 << 20)
            if not b:
                break
            got += len(b)
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise h.TestFailure("%s: still open after send_timeout" % what)
    check(got < total, "%s: all %d bytes arrived" % (what, total))


def open_stalled(port, path):
    s = hh.connect(port, timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(hh.get(port, path))
    s.recv(1024)  # the response has begun
    return s


def open_echo_stalled(port):
    """Sends 8 MiB to the echo listener without reading the echo: more
    than the sockets' buffers hold, so the rest waits in the server."""
    s = socket.create_connection((hh.HOST, port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    block = b"x" * 65536
    s.settimeout(0.5)
    sent = 0
    try:
        while sent < ECHO:
            sent += s.send(block)
    except socket.timeout:
        pass  # the server's output is full too
    return s, sent


class SlowReader(threading.Thread):
    """Downloads the file 64 KiB at a time, one read every half second."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = open_stalled(port, "/file")
        self.port = self.sock.getsockname()[1]
        self.got = 0
        self.closed = False
        self.stop = threading.Event()

    def run(self):
        self.sock.settimeout(10)
        while not self.stop.is_set():
            try:
                b = self.sock.recv(65536)
            except OSError:
                b = b""
            if not b:
                self.closed = True
                return
            self.got += len(b)
            time.sleep(0.5)


def peers_closed(srv):
    found = re.findall(r"\(peer 127\.0\.0\.1:(\d+)\): the client took none "
                       r"of its output for \d+ s \(send_timeout %d"
                       % TIMEOUT, srv.log_text())
    return set(int(p) for p in found)


def main():
    echo_port = h.free_port()
    plugins = [{"name": "probe", "path": hh.PROBE, "config": {}},
               {"name": "echo", "path": h.ECHO}]
    more = [{"type": "tcp", "host": hh.HOST, "port": echo_port,
             "plugin": "echo"}]
    with hh.HttpServer("send-timeout", plugins=plugins, more=more,
                       server={"send_timeout": TIMEOUT,
                               "buffer_output_size": 16 << 20}) as srv:
        www = os.path.join(srv.dir, "www")
        os.makedirs(www)
        big = os.path.join(www, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(FILE))
        srv.plugins[0]["config"] = {"file": big}
        srv.listener_opts["document_root"] = www
        srv.write_config()
        srv.start()

        slow = SlowReader(srv.port)
        slow.start()
        t0 = time.monotonic()
        stuck = {
            "static file": (open_stalled(srv.port, "/big.bin"), FILE),
            "swx_http_sendfile": (open_stalled(srv.port, "/file"), FILE),
            "buffered response": (open_stalled(srv.port, "/big?%d" % BIG),
                                  BIG),
        }
        echo, echo_sent = open_echo_stalled(echo_port)
        stuck["raw echo"] = (echo, echo_sent)
        ports = {name: s.getsockname()[1] for name, (s, _) in stuck.items()}

        h.wait_until(lambda: set(ports.values()) <= peers_closed(srv),
                     TIMEOUT + 8, what="send_timeout closing every stalled "
                     "client")
        took = time.monotonic() - t0
        h.log("stalled clients closed after %.1f s" % took)
        check(took >= TIMEOUT - 0.5, "closed after %.1f s, before "
              "send_timeout" % took)
        for name, (s, total) in stuck.items():
            stalled(s, name, total)
            s.close()

        r = hh.exchange(srv.port, hh.get(srv.port, "/echo", body=b"ok"))
        check(r.body == b"ok", "server hurt by stalled clients")
        time.sleep(2 * TIMEOUT)
        slow.stop.set()
        slow.join(15)
        check(not slow.closed, "the slow but steady reader was closed")
        check(slow.port not in peers_closed(srv),
              "the slow reader was logged as stalled")
        check(slow.got > 0, "the slow reader got nothing")
        slow.sock.close()
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
