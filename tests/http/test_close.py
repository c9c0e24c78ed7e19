"""test_close.py: how the server closes an HTTP connection, seen from the
socket table (ss -tnp: which sockets a process still holds).

- A client that says its request is its last (Connection: close) and
  sends nothing after it: once the response is written the server closes
  its socket at once, though the client keeps its own open (no lingering
  close, as nginx), and the client reads the whole response, then EOF.
- The server closes for its own reason (a 400): it shuts down writing and
  keeps reading until the client's EOF (a lingering close), so that what
  the client sent meanwhile cannot reset the connection before the
  client read the response; then it lets go.
- A client that pipelined a request after its Connection: close one: the
  server answers the first, sends nothing for the second, and lingers.
- The plugin's Connection: close on a keep-alive request: the server
  lingers, as the client may have sent its next request already."""

import subprocess
import time

import http_helper as hh

check = hh.check
LAST = (("Connection", "close"),)


def held(srv, client_port):
    """Whether a process of the server holds the server side of the
    connection from client_port (an orphaned socket has no process)."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "all", "sport", "= :%d" % srv.port,
         "dport", "= :%d" % client_port],
        capture_output=True, text=True, timeout=10).stdout
    return "pid=" in out


def response_then_eof(s, what):
    rd = hh.Reader(s)
    r = rd.response()
    check(r.status in (200, 400), "%s: status %d" % (what, r.status))
    check(hh.closed_after(s, rd), "%s: no EOF after the response" % what)
    return r


def test_client_last(srv):
    with hh.connect(srv.port) as s:
        port = s.getsockname()[1]
        s.sendall(hh.get(srv.port, "/echo", headers=LAST))
        r = response_then_eof(s, "Connection: close")
        check(r.status == 200, "Connection: close: %d" % r.status)
        # The client's socket stays open: the server's side is let go
        # anyway, well before a lingering close's 2 s.
        hh.h.wait_until(lambda: not held(srv, port), 1.0, interval=0.05,
                        what="the server to let go of a connection whose "
                        "client said it was its last")


def test_server_reason(srv):
    with hh.connect(srv.port) as s:
        port = s.getsockname()[1]
        s.sendall(b"NOT A REQUEST\r\n\r\n")
        r = response_then_eof(s, "a malformed request")
        check(r.status == 400, "a malformed request: %d" % r.status)
        time.sleep(0.4)
        check(held(srv, port), "after a 400 the server did not linger")
        s.sendall(b"more bytes the server drops\r\n")
        time.sleep(0.1)
    hh.h.wait_until(lambda: not held(srv, port), 3.0, interval=0.05,
                    what="the lingering close to end at the client's EOF")


def test_pipelined_after_close(srv):
    with hh.connect(srv.port) as s:
        port = s.getsockname()[1]
        s.sendall(hh.get(srv.port, "/echo", headers=LAST) +
                  hh.get(srv.port, "/echo"))
        r = response_then_eof(s, "a request after Connection: close")
        check(r.status == 200, "the first request: %d" % r.status)
        time.sleep(0.4)
        check(held(srv, port), "with a request read after the last one, "
              "the server did not linger")


def test_plugin_close(srv):
    with hh.connect(srv.port) as s:
        port = s.getsockname()[1]
        s.sendall(hh.get(srv.port, "/close"))
        r = response_then_eof(s, "the plugin's Connection: close")
        check(r.status == 200, "/close: %d" % r.status)
        time.sleep(0.4)
        check(held(srv, port), "after the plugin's Connection: close the "
              "server did not linger")


def main():
    with hh.HttpServer("http-close") as srv:
        srv.start()
        test_client_last(srv)
        test_server_reason(srv)
        test_pipelined_after_close(srv)
        test_plugin_close(srv)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
