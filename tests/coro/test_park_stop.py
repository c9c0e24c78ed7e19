"""test_park_stop.py: coroutines parked in swx_co_yield, a one-hour sleep
and a channel pop are woken with -ECANCELED (-125) when the worker is
replaced by a reload (SIGUSR1) and when the server stops (SIGTERM): each
cleans up (its swx_co_defer runs; a second wait fails at once with
-ECANCELED) before on_worker_stop, which sees none left, and neither the
reload nor the stop waits for max_wait_time."""

import os
import signal
import time

from coro_helper import h, ask, check, fields, log, server

WOKE = [r"parked yield woke rc=-125 again=-125", r"parked sleep woke rc=-125",
        r"parked chan woke rc=-125"]


def park(srv):
    r = ask(srv.port, "park")
    log(r)
    check(fields(r).get("live") == "3", "three parked expected: %r" % r)


def check_woken(srv, count):
    for regex in WOKE:
        srv.wait_log(regex, timeout=10, count=count)
    srv.wait_log(r"on_worker_stop 0 parked=0 live=0", timeout=10,
                 count=count)
    text = srv.log_text()
    last_stop = text.rfind("on_worker_stop 0")
    for what in ("yield", "sleep", "chan"):
        pos = text.rfind("parked %s cleaned up" % what)
        check(0 <= pos < last_stop, "%s cleaned up after on_worker_stop"
              % what)


def main():
    with server("co-park", {"worker_num": 1, "max_wait_time": 10,
                            "log_level": "notice"}) as srv:
        srv.start()
        before = srv.workers()
        park(srv)
        t0 = time.monotonic()
        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"reload done", timeout=30)
        took = time.monotonic() - t0
        check(took < 5, "the reload took %.1f s (max_wait_time 10)" % took)
        check_woken(srv, 1)
        srv.wait_workers(1, 30, exclude=before.values())
        park(srv)
        t0 = time.monotonic()
        srv.stop(timeout=30)
        took = time.monotonic() - t0
        check(took < 5, "the stop took %.1f s" % took)
        check_woken(srv, 2)


h.main(main)
