"""test_late_reply.py: a reply to a connection that has closed is dropped,
never delivered to the next client that got the same fd.

One reactor, one worker. Client A asks for a reply in 700 ms and closes at
once; client B connects as soon as A's fd is closed (the kernel hands out
the lowest free fd, so B gets A's number) and must receive only its own
echo."""

import re
import socket
import time

import swx_harness as h

ACCEPT = r"accept fd=(\d+) session=(\d+) peer=127\.0\.0\.1:%d listener=0"


def local_port(sock):
    return sock.getsockname()[1]


def main():
    h.process_mode_only(
        "a worker runs one callback at a time: the late reply is written before the next connection is accepted, so no fd can be reused in between")
    probe = {"name": "probe", "path": h.PROBE}
    with h.Server("late", server={"worker_num": 1, "reactor_num": 1,
                                  "log_level": "debug"},
                  plugins=[probe]) as srv:
        srv.start()
        # The readiness check's connections must be closed by the server
        # first, or A does not get the lowest fd and B cannot reuse it.
        h.wait_until(lambda: len(re.findall(r"accept fd=", srv.log_text()))
                     == len(re.findall(r"close fd=", srv.log_text())), 10,
                     what="the readiness connections closed")
        a = h.connect(srv.port)
        a_port = local_port(a)
        m = srv.wait_log(ACCEPT % a_port)[0]
        a_fd, a_session = int(m.group(1)), int(m.group(2))
        a.sendall(b"sleep 700 SECRET-A\n")
        a.close()
        # B must connect after the reactor closed A's fd, or it cannot get
        # the same number.
        srv.wait_log(r"close fd=%d session=%d$" % (a_fd, a_session))

        b = h.connect(srv.port)
        t0 = time.monotonic()
        try:
            b.sendall(b"hello\n")
            got = bytearray()
            b.settimeout(0.1)
            # Listen well past A's 700 ms: a misrouted reply would show up.
            while time.monotonic() - t0 < 1.5:
                try:
                    data = b.recv(4096)
                except socket.timeout:
                    continue
                h.check(data, "B's connection was closed by the server "
                        "(got %r)" % bytes(got))
                got += data
            b_port = local_port(b)
        finally:
            b.close()
        h.check(b"SECRET-A" not in got, "A's late reply reached B: %r"
                % bytes(got))
        h.check(bytes(got) == b"hello\n", "B expected exactly b'hello\\n', "
                "got %r" % bytes(got))

        # A's request did reach the worker (so a reply was really made).
        srv.wait_log(r"probe: session %d: sleeping 700 ms" % a_session)
        m = srv.wait_log(ACCEPT % b_port)[0]
        b_fd, b_session = int(m.group(1)), int(m.group(2))
        h.log("A: fd %d session %d; B: fd %d session %d"
              % (a_fd, a_session, b_fd, b_session))
        h.check(b_fd == a_fd, "B got fd %d, not A's fd %d: the test did not "
                "set up fd reuse" % (b_fd, a_fd))
        h.check(b_session != a_session, "B reused A's session id %d"
                % a_session)
        srv.wait_log(r"reply for closed session %d dropped \(%d bytes\)"
                     % (a_session, len(b"SECRET-A\n")))
        srv.stop()


if __name__ == "__main__":
    h.main(main)
