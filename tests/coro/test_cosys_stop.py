"""test_cosys_stop.py: a reload (SIGUSR1), then a stop (SIGTERM), each
while one coroutine waits for a file read (a loop of reads of a 50 MB
file) and another for a program (a sleep): both are woken with -ECANCELED
(-125), the program is killed and reaped, the pool's threads end (the read
in flight gives up at its next chunk) and are joined, and neither the
reload nor the stop takes anything near max_wait_time (10 s); nothing is
left, and the ASan run's LeakSanitizer finds no leak (the abandoned job is
released). In base mode a reloaded worker first serves its connections to
their end, so the test closes its clients after the reload; the old
worker's waits are then cancelled at once."""

import os
import signal
import time

from cofile_helper import h, check, log, procs_with, server, threads
from cofile_helper import worker_pid


def busy(srv, big, sleep):
    """A read loop and a program waiting in the worker; their sockets."""
    pid = worker_pid(srv)
    a = h.connect(srv.port, 60)
    a.sendall(("readloop %s 100000\n" % big).encode())
    b = h.connect(srv.port, 60)
    b.sendall(("exec -1 4096 0 exec sleep %s\n" % sleep).encode())
    h.wait_until(lambda: procs_with("sleep " + sleep), 10, what="the sleep")
    h.wait_until(lambda: any(c == "swx-aio" for c, _ in
                             threads(pid).values()), 10,
                 what="a pool thread")
    time.sleep(0.3)
    return a, b


def check_cancelled(srv, count, sleep):
    srv.wait_log(r"cofile: readloop ended rc=-125", timeout=10, count=count)
    srv.wait_log(r"cofile: exec ended rc=-125 signal=9", timeout=10,
                 count=count)
    text = srv.log_text()
    check("still in a blocking call" not in text,
          "a pool thread was not joined")
    check(not procs_with("sleep " + sleep), "the program survived")


def main():
    with server("cosys-stop", {"worker_num": 1, "max_wait_time": 10}) as srv:
        srv.start()
        big = os.path.join(srv.dir, "big")
        with open(big, "wb") as f:
            f.write(h.pattern(50 << 20))
        before = srv.workers()
        socks = busy(srv, big, "33.25")
        t0 = time.monotonic()
        os.kill(srv.pid, signal.SIGUSR1)
        srv.wait_log(r"reload done", timeout=30)
        took = time.monotonic() - t0
        log("reloaded in %.2f s" % took)
        check(took < 5, "the reload took %.1f s (max_wait_time 10)" % took)
        # Base mode: the old worker serves its connections to their end
        # (their waiting callbacks with them), then stops.
        for s in socks:
            s.close()
        t0 = time.monotonic()
        check_cancelled(srv, 1, "33.25")
        took = time.monotonic() - t0
        log("the old worker's waits were cancelled %.2f s later" % took)
        check(took < 5, "cancelled only %.1f s after the reload" % took)
        srv.wait_workers(1, 30, exclude=before.values())
        socks = busy(srv, big, "33.5")
        t0 = time.monotonic()
        srv.stop(timeout=30)
        took = time.monotonic() - t0
        log("stopped in %.2f s" % took)
        check(took < 5, "the stop took %.1f s (max_wait_time 10)" % took)
        check_cancelled(srv, 2, "33.5")
        for s in socks:
            s.close()


h.main(main)
