"""test_taskwait.py: two coroutines of one worker in swx_taskwait at once,
to two task workers that each take 2 s: both results arrive, in about
2 s, not 4 s (only the calling coroutines waited), and the worker
answers another client meanwhile. Tasks of 2 s leave room for a loaded
machine's delays without blurring the difference."""

import threading
import time

from coro_helper import h, ask, check, fields, log, server


def main():
    with server("co-taskwait", {"worker_num": 1,
                                "task_worker_num": 2}) as srv:
        srv.start()
        out = {}
        t = threading.Thread(target=lambda: out.update(
            r=ask(srv.port, "taskwait2")))
        t.start()
        time.sleep(0.15)
        t0 = time.monotonic()
        r = ask(srv.port, "ping", timeout=5)
        took = time.monotonic() - t0
        check(r.startswith("pong "), "no pong: %r" % r)
        check(took < 0.3, "ping took %.3f s: swx_taskwait blocked the "
              "worker" % took)
        t.join(30)
        r = out.get("r", "")
        log(r)
        f = fields(r)
        check(f.get("rc") == "0", "the wait group: %r" % r)
        check(f["a"].startswith("0:done-by-") and
              f["b"].startswith("0:done-by-"), "a result is missing: %r" % r)
        check(f["a"] != f["b"], "both ran in one task worker: %r" % r)
        took = int(f["took"])
        check(1980 <= took < 3600,
              "two 2000 ms tasks took %d ms: they did not wait at once"
              % took)
        srv.stop()


h.main(main)
