"""test_cosys_stop.py: a stop while one coroutine waits for a file read
(a loop of reads of a 50 MB file) and another for a program (a sleep): both
are woken with -ECANCELED (-125), the program's group is killed and
reaped, the pool's threads end (the read in flight gives up at its next
chunk) and are joined, and the stop takes far less than max_wait_time
(10 s); nothing is left, and the ASan run's LeakSanitizer finds no leak
(the abandoned job is released)."""

import os
import time

from cofile_helper import h, check, log, procs_with, server, threads
from cofile_helper import worker_pid


def main():
    with server("cosys-stop", {"worker_num": 1, "max_wait_time": 10}) as srv:
        srv.start()
        pid = worker_pid(srv)
        big = os.path.join(srv.dir, "big")
        with open(big, "wb") as f:
            f.write(h.pattern(50 << 20))
        a = h.connect(srv.port, 60)
        a.sendall(("readloop %s 100000\n" % big).encode())
        b = h.connect(srv.port, 60)
        b.sendall(b"exec -1 4096 0 exec sleep 33.5\n")
        h.wait_until(lambda: procs_with("sleep 33.5"), 10, what="the sleep")
        h.wait_until(lambda: any(c == "swx-aio" for c, _ in
                                 threads(pid).values()), 10,
                     what="a pool thread")
        time.sleep(0.3)
        t0 = time.monotonic()
        srv.stop(timeout=30)
        took = time.monotonic() - t0
        log("stopped in %.2f s" % took)
        check(took < 5, "the stop took %.1f s (max_wait_time 10)" % took)
        text = srv.log_text()
        check("cofile: readloop ended rc=-125" in text,
              "the read was not cancelled")
        check("cofile: exec ended rc=-125 signal=9" in text,
              "the program was not cancelled and killed")
        check("still in a blocking call" not in text,
              "a pool thread was not joined")
        check(not procs_with("sleep 33.5"), "the program survived the stop")
        a.close()
        b.close()


h.main(main)
