"""test_http.py: on_request waits in its coroutine: ten requests of 500 ms
each to one worker are answered together in about 500 ms, not 5 s, while
the worker answers a raw TCP client at once; a response ended by another
coroutine after its callback returned reaches the client."""

import threading
import time

from coro_helper import h, ask, check, http_get, log, server, SLOW


def main():
    with server("co-http", {"worker_num": 1}, http=True) as srv:
        srv.start()
        results = []

        def get():
            results.append(http_get(srv.http_port, "/sleep?ms=500"))

        threads = [threading.Thread(target=get) for _ in range(10)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(0.1)
        r = ask(srv.port, "ping", timeout=5)
        check(r.startswith("pong"), "no pong: %r" % r)
        check(time.monotonic() - t0 < 0.45, "ping waited for the requests")
        for t in threads:
            t.join(30)
        took = time.monotonic() - t0
        log("10 x 500 ms in %.3f s" % took)
        check(len(results) == 10, "%d answers of 10" % len(results))
        for status, body in results:
            check(status == 200 and body.startswith("slept 500 rc=0"),
                  "answer %d %r" % (status, body))
        check(took < (3.0 if SLOW else 1.5), "they did not wait at once")
        status, body = http_get(srv.http_port, "/late")
        check(status == 200 and body == "late\n", "late: %d %r"
              % (status, body))
        srv.stop()


h.main(main)
