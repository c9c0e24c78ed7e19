"""test_max_conn.py: max_conn 5. Five connections are served; a sixth is
accepted and closed at once by the master, which logs "max_conn (5)
reached"; the five keep being served; once one of them closes, a new
connection is served again. The admin endpoint's connection_num follows."""

import socket

from ops_helper import h
import ops_helper as o

MAX = 5


def closed_at_once(port, timeout):
    """True when the server closes a new connection without a word."""
    with h.connect(port, timeout=timeout) as s:
        try:
            s.sendall(b"anyone?\n")
        except (BrokenPipeError, ConnectionResetError):
            return True
        try:
            return s.recv(100) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def main():
    o.require(o.V1)
    with o.Server("max-conn", server={"worker_num": 2, "reactor_num": 2,
                                      "max_conn": MAX},
                  admin={"port": h.free_port()}) as srv:
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.write_config()
        srv.start()

        def connections(n):
            return lambda: o.stats(srv.admin)["connection_num"] == n
        # The harness's readiness probes must be closed first.
        h.wait_until(connections(0), 20, what="connection_num 0")
        conns = [h.connect(srv.port, timeout=20) for _ in range(MAX)]
        try:
            for i, s in enumerate(conns):
                msg = b"conn %d\n" % i
                o.check(h.request(s, msg) == b"v1:" + msg, "echo %d" % i)
            h.wait_until(connections(MAX), 20, what="connection_num %d" % MAX)

            o.check(closed_at_once(srv.port, 20), "connection %d was not "
                    "closed at once" % (MAX + 1))
            srv.wait_log(r"max_conn \(%d\) reached; connection on "
                         r"listeners\[0\] refused" % MAX)
            o.check(closed_at_once(srv.port, 20), "connection %d was not "
                    "closed at once" % (MAX + 2))
            for i, s in enumerate(conns):
                msg = b"still %d\n" % i
                o.check(h.request(s, msg) == b"v1:" + msg,
                        "connection %d not served after the refusals" % i)
            st = o.stats(srv.admin)
            o.check(st["connection_num"] == MAX, "connection_num %d"
                    % st["connection_num"])
            h.log("%d connections served, the next ones closed at once: %s"
                  % (MAX, st["connection_num"]))

            conns.pop().close()
            h.wait_until(connections(MAX - 1), 20,
                         what="connection_num %d" % (MAX - 1))
            with h.connect(srv.port, timeout=20) as s:
                o.check(h.request(s, b"room again\n") == b"v1:room again\n",
                        "a connection below the limit again was not served")
            h.log("after one closed, a new connection is served")
        finally:
            for s in conns:
                s.close()
        o.check(o.count_log(srv, r"max_conn \(%d\) reached" % MAX) == 2,
                "expected exactly 2 refusals in the log")
        srv.stop()


if __name__ == "__main__":
    h.main(main)
