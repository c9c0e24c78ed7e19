"""test_many_connections.py: 1000 connections open at the same time, each
sending its own message and getting exactly that message back."""

import selectors
import time

import swx_harness as h

N = 1000


def open_all(port):
    socks = []
    for i in range(N):
        s = h.connect(port, timeout=30)
        s.setblocking(False)
        socks.append(s)
    return socks


def exchange(socks, deadline):
    """Send every message, then read every reply, all non-blocking."""
    sel = selectors.DefaultSelector()
    want = {}
    for i, s in enumerate(socks):
        msg = ("connection %d of %d says hello\n" % (i, N)).encode()
        s.sendall(msg)  # small: fits the empty socket buffer at once
        want[s] = (i, msg, bytearray())
        sel.register(s, selectors.EVENT_READ)
    pending = len(socks)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            i, msg, got = want[s]
            try:
                b = s.recv(4096)
            except BlockingIOError:
                continue
            h.check(b, "connection %d closed by the server after %r"
                    % (i, bytes(got)))
            got += b
            h.check(msg.startswith(bytes(got)), "connection %d got %r, "
                    "expected %r" % (i, bytes(got), msg))
            if len(got) == len(msg):
                sel.unregister(s)
                pending -= 1
    sel.close()
    missing = [want[s][0] for s in socks if len(want[s][2]) != len(want[s][1])]
    h.check(not missing, "%d connection(s) got no full reply, e.g. %s"
            % (len(missing), missing[:10]))


def max_conn():
    """Past max_conn a new connection is closed at once; the ones already
    open keep working, and a slot freed by a close is usable again."""
    with h.Server("maxconn", server={"worker_num": 1, "reactor_num": 2,
                                     "max_conn": 5}) as srv:
        srv.start()
        socks = []
        try:
            for i in range(5):
                s = h.connect(srv.port)
                socks.append(s)
                msg = b"slot %d\n" % i
                s.sendall(msg)
                h.check(h.recv_exact(s, len(msg)) == msg, "slot %d" % i)
            extra = h.connect(srv.port)
            try:
                try:
                    extra.sendall(b"one too many\n")
                    got = extra.recv(100)
                except ConnectionResetError:
                    got = b""
                h.check(got == b"", "connection past max_conn got %r" % got)
            finally:
                extra.close()
            srv.wait_log(r"max_conn \(5\) reached")
            socks.pop().close()

            def reusable():
                # The close is counted once the reactor handled it.
                with h.connect(srv.port) as s:
                    try:
                        s.sendall(b"again\n")
                        return s.recv(100) == b"again\n"
                    except ConnectionResetError:
                        return False
            h.wait_until(reusable, 20, interval=0.05,
                         what="a freed slot to be usable")
            for i, s in enumerate(socks):
                h.check(h.request(s, b"still %d\n" % i) == b"still %d\n" % i,
                        "an open connection stopped working")
        finally:
            for s in socks:
                s.close()
        srv.stop()


def main():
    max_conn()
    limit = h.raise_nofile()
    h.check(limit >= N + 200, "RLIMIT_NOFILE is %d; %d connections need "
            "more" % (limit, N))
    with h.Server("many", server={"worker_num": 2, "reactor_num": 2,
                                  "backlog": 1024}) as srv:
        srv.start()
        socks = open_all(srv.port)
        try:
            exchange(socks, time.monotonic() + 60)
            # All of them are still open and served: a second round.
            exchange(socks, time.monotonic() + 60)
        finally:
            for s in socks:
                s.close()
        # And a fresh connection after they are gone.
        with h.connect(srv.port) as s:
            s.sendall(b"after\n")
            h.check(h.recv_exact(s, 6) == b"after\n", "echo after the load")
        srv.stop()


if __name__ == "__main__":
    h.main(main)
