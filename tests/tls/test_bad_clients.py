"""test_bad_clients.py: clients that break the TLS handshake are closed,
each with a warning naming its peer and OpenSSL's reason, while another
client is served all along: plain HTTP sent to an HTTPS port and random
bytes are closed at once; a client that sends half a ClientHello, or
nothing, is closed when ssl_handshake_timeout passes; /metrics-style
counts come from the log and the server keeps serving. A connection that
never sends a byte is closed by the timeout too."""

import os
import socket
import threading
import time

import tls_helper as th

check = th.check
TIMEOUT = 2


def start(pki):
    srv = th.h.Server("tls-bad", server={"worker_num": 2, "reactor_num": 2},
                      plugins=[{"name": "probe", "path": th.TLS_PROBE}])
    srv.listeners = [dict(th.tls_opts(pki), type="tcp", host=th.HOST,
                          port=srv.port, plugin="probe",
                          ssl_handshake_timeout=TIMEOUT)]
    srv.write_config()
    return srv.start()


def closed_within(sock, seconds):
    """The server closed sock within seconds (EOF or a reset)."""
    sock.settimeout(seconds)
    t0 = time.monotonic()
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return None
    return time.monotonic() - t0


class Served(threading.Thread):
    """A TLS client that keeps echoing through the test: every round trip
    must come back within a second."""

    def __init__(self, port, pki):
        super().__init__(daemon=True)
        self.port, self.pki = port, pki
        self.stop, self.rounds, self.worst, self.error = False, 0, 0.0, None

    def run(self):
        try:
            with th.tls_connect(self.port, th.client_ctx(self.pki)) as s:
                th.read_line(s)
                while not self.stop:
                    t0 = time.monotonic()
                    s.sendall(b"ping\n")
                    check(th.read_line(s) == "ping\n", "echo")
                    self.worst = max(self.worst, time.monotonic() - t0)
                    self.rounds += 1
                    time.sleep(0.02)
        except Exception as e:  # noqa: BLE001 -- reported by the test
            self.error = e


def main():
    th.h.require(th.TLS_PROBE, th.OPENSSL)
    pki = th.Pki(th.h.Server("tls-pki").dir)
    with start(pki) as srv:
        served = Served(srv.port, pki)
        served.start()
        for data in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                     os.urandom(300)):
            s = socket.create_connection((th.HOST, srv.port))
            s.sendall(data)
            took = closed_within(s, 5)
            check(took is not None and took < 1, "garbage closed at once: "
                  "%s" % took)
            s.close()
        srv.wait_log(r"TLS handshake failed: (http request|wrong version)",
                     count=1)
        stalled = []
        for first in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                      b"\x16\x03", b""):
            s = socket.create_connection((th.HOST, srv.port))
            s.sendall(first)
            stalled.append(s)
        for s in stalled:
            took = closed_within(s, TIMEOUT + 5)
            check(took is not None, "a stalled handshake was not closed")
            s.close()
        srv.wait_log(r"peer 127\.0\.0\.1:\d+, listener 0\): TLS handshake "
                     r"failed: not done in 2 s \(ssl_handshake_timeout\)",
                     count=3)
        served.stop = True
        served.join(10)
        check(served.error is None, "the other client: %s" % served.error)
        check(served.rounds > 50 and served.worst < 1.0,
              "the other client: %d rounds, worst %.2f s"
              % (served.rounds, served.worst))
        with th.tls_connect(srv.port, th.client_ctx(pki)) as s:
            check(th.read_line(s).startswith("T v=TLSv1.3"), "still serves")
        srv.stop()


if __name__ == "__main__":
    th.h.main(main)
