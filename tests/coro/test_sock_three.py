"""test_sock_three.py: an HTTP handler asks a slow upstream (upstream.py,
answering after 1, 1.5 and 2 s) three times at once with swx_co_sock_*: the
answer comes in about 2 s, not 4.5, while the same single worker answers a
TCP client at once."""

import os
import threading
import time

import upstream
from coro_helper import h, ask, check, http_get, log, SLOW

COSOCK = os.environ.get("SWX_COSOCK_PLUGIN", "")


def main():
    h.require(COSOCK)
    up = upstream.tcp()
    srv = h.Server("co-three", server={"worker_num": 1},
                   plugins=[{"name": "cosock", "path": COSOCK}])
    srv.http_port = h.free_port()
    srv.listeners = [
        {"type": "tcp", "host": h.HOST, "port": srv.port, "plugin": "cosock"},
        {"type": "tcp", "host": h.HOST, "port": srv.http_port,
         "plugin": "cosock", "protocol": "http"}]
    srv.write_config()
    with srv:
        srv.start()
        got = []
        t = threading.Thread(target=lambda: got.append(
            http_get(srv.http_port, "/three?port=%d" % up.server_address[1])))
        t0 = time.monotonic()
        t.start()
        h.wait_until(lambda: up.count >= 3, 5, what="three upstream calls")
        p0 = time.monotonic()
        check(ask(srv.port, "ping", timeout=5) == "pong", "no pong")
        check(time.monotonic() - p0 < (0.8 if SLOW else 0.3),
              "the ping waited")
        t.join(20)
        took = time.monotonic() - t0
        check(len(got) == 1, "no answer")
        status, body = got[0]
        log("%d %s (%.2f s)" % (status, body.strip(), took))
        check(status == 200 and body.startswith("three rc=0 ") and
              "a=11:slept 1000 b=11:slept 1500 c=11:slept 2000" in body,
              "answer: %r" % body)
        check(1.9 < took < (3.5 if SLOW else 2.8),
              "took %.2f s: not at once (the sum is 4.5)" % took)
        srv.stop()
    up.shutdown()


h.main(main)
