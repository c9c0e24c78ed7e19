"""test_big_message.py: 16 MiB through the server both ways, byte for byte:
a request the probe collects and sends back in one swx_send, and a reply
the probe makes in one swx_send ("big N"). Over buffer_output_size, a send
fails with -E2BIG instead of being truncated."""

import hashlib
import os
import threading

import swx_harness as h

SIZE = 16 * 1024 * 1024


def digest(b):
    return hashlib.sha256(b).hexdigest()[:16]


def first_difference(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def send_in_background(sock, data):
    errors = []

    def run():
        try:
            sock.sendall(data)
        except OSError as e:
            errors.append(e)
    t = threading.Thread(target=run)
    t.start()
    return t, errors


def collect_round_trip(port):
    payload = os.urandom(SIZE)
    with h.connect(port, timeout=60) as s:
        t, errors = send_in_background(
            s, b"collect %d\n" % SIZE + payload)
        got = h.recv_exact(s, SIZE)
        t.join(60)
        h.check(not errors, "sending 16 MiB failed: %s" % errors)
        h.check(got == payload, "16 MiB collect came back different "
                "(first difference at byte %d; sha256 %s vs %s)"
                % (first_difference(got, payload), digest(got),
                   digest(payload)))
        # The connection is still usable afterwards.
        h.check(h.request(s, b"after collect\n") == b"after collect\n",
                "echo after collect")


def big_reply(port, size):
    with h.connect(port, timeout=60) as s:
        s.sendall(b"big %d\n" % size)
        got = h.recv_exact(s, size)
        want = h.pattern(size)
        h.check(got == want, "big %d differs at byte %d"
                % (size, first_difference(got, want)))
        h.check(h.request(s, b"after big\n") == b"after big\n",
                "echo after big")


def main():
    probe = {"name": "probe", "path": h.PROBE}
    with h.Server("big", server={"worker_num": 2, "reactor_num": 2,
                                 "buffer_output_size": 64 * 1024 * 1024},
                  plugins=[probe]) as srv:
        srv.start()
        collect_round_trip(srv.port)
        big_reply(srv.port, SIZE)
        big_reply(srv.port, SIZE - 1)
        srv.stop()

    # With the default cap (2 MiB) a bigger swx_send fails with -E2BIG;
    # the connection stays up and nothing partial is delivered.
    with h.Server("big-cap", server={"worker_num": 1},
                  plugins=[probe]) as srv:
        srv.start()
        with h.connect(srv.port) as s:
            s.sendall(b"big %d\n" % (2 * 1024 * 1024 + 1))
            reply = h.recv_line(s)
            h.check(reply == b"ERR -7\n", "swx_send over buffer_output_size:"
                    " expected ERR -7 (-E2BIG), got %r" % reply[:100])
            big_reply(srv.port, 2 * 1024 * 1024)
        srv.stop()


if __name__ == "__main__":
    h.main(main)
