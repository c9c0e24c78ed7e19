"""test_aio_pool.py: the worker's file threads grow and shrink
(aio_worker_num, aio_core_worker_num, aio_max_idle_time). Four coroutines
read a 16 MB file over and over for a while: the pool grows to
aio_worker_num (4) and never past it; once they are done, the threads
above aio_core_worker_num end after aio_max_idle_time (0.3 s) and the
count falls back to the core count (1), the core thread still runs the
next read, and the stop joins what is left (no "still in a blocking call",
nothing for LeakSanitizer in the ASan run). A second server whose core
count is 4 keeps all four threads through many idle times: with the old
pool (threads never ended) the first part fails, with a pool that ignored
the core count the second."""

import os
import threading
import time

from cofile_helper import h, check, cmd, log, server, threads, worker_pid

BIG = 16 << 20
BURST_MS = 2500


def pool_size(pid):
    return sum(1 for c, _ in threads(pid).values() if c == "swx-aio")


def burst(srv, big):
    """Four readers at once; the most pool threads seen while they read."""
    pid = worker_pid(srv)
    replies = []

    def reader():
        replies.append(cmd(srv, "readfor %s %d" % (big, BURST_MS), 120))
    ts = [threading.Thread(target=reader) for _ in range(4)]
    for t in ts:
        t.start()
    most = 0
    while any(t.is_alive() for t in ts):
        most = max(most, pool_size(pid))
        time.sleep(0.01)
    for t in ts:
        t.join()
    for f in replies:
        check(f["rc"] == "0" and int(f["reads"]) > 0, "readfor: %r" % f)
    log("readers: %s; most pool threads %d"
        % ([f["reads"] for f in replies], most))
    check(len(replies) == 4, "%d readers answered" % len(replies))
    return most


def grown(srv):
    """Start srv, check it has no pool thread, run a burst that must grow
    the pool to aio_worker_num (4); (the worker's pid, the file)."""
    srv.start()
    big = os.path.join(srv.dir, "big")
    with open(big, "wb") as f:
        f.write(h.pattern(BIG))
    pid = worker_pid(srv)
    check(pool_size(pid) == 0, "pool threads before the first read")
    most = burst(srv, big)
    check(most == 4, "the pool grew to %d threads, aio_worker_num 4" % most)
    return pid, big


def shrinks_to_core():
    cfg = {"worker_num": 1, "aio_worker_num": 4, "aio_core_worker_num": 1,
           "aio_max_idle_time": 0.3}
    with server("aio-pool", cfg) as srv:
        pid, big = grown(srv)
        t0 = time.monotonic()
        h.wait_until(lambda: pool_size(pid) == 1, 30,
                     what="the pool back at its core count (1)")
        log("back to 1 thread %.2f s after the readers" %
            (time.monotonic() - t0))
        f = cmd(srv, "readfile %s 0 -1" % big)
        check(f["rc"] == str(BIG), "a read after the shrink: %r"
              % {k: v for k, v in f.items() if k not in ("hex", "data")})
        check(pool_size(pid) == 1, "%d threads after one more read"
              % pool_size(pid))
        check(worker_pid(srv) == pid, "the worker was replaced")
        srv.stop()
        check("still in a blocking call" not in srv.log_text(),
              "a pool thread was not joined")


def core_threads_stay():
    cfg = {"worker_num": 1, "aio_worker_num": 4, "aio_core_worker_num": 4,
           "aio_max_idle_time": 0.1}
    with server("aio-core", cfg) as srv:
        pid, _ = grown(srv)
        # Ten idle times and more: a core thread never ends.
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            n = pool_size(pid)
            check(n == 4, "%d pool threads with aio_core_worker_num 4" % n)
            time.sleep(0.05)
        srv.stop()


def main():
    shrinks_to_core()
    core_threads_stay()


h.main(main)
