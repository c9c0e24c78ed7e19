"""test_overflow.py: a callback that recurses without end overflows its
coroutine's stack into the guard page: the log names the coroutine, the
stack size, the plugin and the callback; the worker dies of SIGSEGV, the
manager replaces it, and the new one serves."""

import re

from coro_helper import h, ask, check, log, server, SLOW

LINE = (r"coroutine \d+ overflowed its stack of 65536 bytes "
        r"\(coroutine_stack_size\): guard page hit in plugin \"coprobe\", "
        r"callback on_receive")


def main():
    with server("co-overflow", {"worker_num": 1,
                                "coroutine_stack_size": 65536}) as srv:
        srv.start()
        before = srv.workers()
        s = h.connect(srv.port, 30)
        s.sendall(b"deep\n")
        srv.wait_log(LINE, timeout=30)
        s.close()
        # ASan reports the overflow too and exits with status 1.
        srv.wait_log(r"worker 0 \(pid \d+\) (killed by signal 11|exited "
                     r"with status 1)", timeout=30)
        after = srv.wait_workers(1, 30, exclude=before.values())
        log("worker %s replaced by %s" % (before, after))
        check(ask(srv.port, "ping").startswith("pong"), "no pong after")
        text = srv.log_text()
        check(len(re.findall(LINE, text)) == 1, "reported more than once")
        srv.stop(expected=("SEGV", "overflowed", "signal 11", "SIGSEGV",
                           "Segmentation", "stack-overflow", "DEADLYSIGNAL",
                           "ABORTING"))


h.main(main)
