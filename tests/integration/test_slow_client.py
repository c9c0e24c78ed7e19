"""test_slow_client.py: a client that asks for a lot and never reads does
not stall anyone else on its reactor and worker. The plugin's sends run in
coroutines that wait while the client's output is over
buffer_high_watermark (send_yield, both modes): the server closes it when
its output has not moved for send_timeout, and keeps serving the others.
With enable_coroutine off (process mode), nothing waits: once its output
would pass buffer_output_size the server closes it."""

import socket
import time

import swx_harness as h

REPLY = 1000000
ASKS = 60            # 60 MB asked for: far past the socket buffers + 2 MiB


def main():
    run(True)
    if not h.base_mode():
        run(False)


def run(coroutines):
    probe = {"name": "probe", "path": h.PROBE}
    server = {"worker_num": 1, "reactor_num": 1, "send_timeout": 3,
              "enable_coroutine": coroutines}
    with h.Server("slow", server=server, plugins=[probe]) as srv:
        srv.start()
        slow = h.connect(srv.port, timeout=30)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        fast = h.connect(srv.port, timeout=15)
        try:
            for _ in range(ASKS):
                slow.sendall(b"big %d\n" % REPLY)
            # Meanwhile, the other connection on the same reactor and the
            # same worker is served as usual.
            done = 0
            t0 = time.monotonic()
            while done < 200 or time.monotonic() - t0 < 1.0:
                msg = b"fast %d\n" % done
                h.check(h.request(fast, msg) == msg, "fast client reply")
                done += 1
            # With coroutines the sends wait (send_yield) and send_timeout
            # closes the client; a callback that sends 1 MB at a time on
            # a loaded machine can still outrun the reactor's "full"
            # notice past its slack, and then the output limit closes it,
            # as without coroutines. Either way it is closed and the
            # others were served.
            srv.wait_log(r"output buffer would exceed buffer_output_size"
                         if not coroutines else
                         r"took none of its output for \d+ s \(send_timeout"
                         r"|output buffer would exceed buffer_output_size",
                         timeout=60)
            h.log("slow client closed by the server; fast client did %d "
                  "requests meanwhile" % done)
            # What the slow client finally reads ends with EOF or a reset,
            # never more than it asked for.
            slow.settimeout(30)
            got = 0
            try:
                while True:
                    b = slow.recv(1 << 20)
                    if not b:
                        break
                    got += len(b)
            except ConnectionResetError:
                pass
            h.check(got < ASKS * REPLY, "the slow client got everything "
                    "(%d bytes): it was never cut off" % got)
            h.check(h.request(fast, b"still\n") == b"still\n",
                    "fast client after the slow one was closed")
        finally:
            slow.close()
            fast.close()
        srv.stop()


if __name__ == "__main__":
    h.main(main)
