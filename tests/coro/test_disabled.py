"""test_disabled.py: enable_coroutine false: callbacks are plain calls as
before (swx_co_id -1, waits fail with -EPERM at once, nothing created);
swx_go still works there (its coroutine sleeps and answers later); with it on, the same callback runs in a
coroutine and may sleep."""

import re

from coro_helper import h, ask, check, fields, log, server, EPERM


def main():
    with server("co-off", {"worker_num": 1,
                           "enable_coroutine": False}) as srv:
        srv.start()
        r = ask(srv.port, "info")
        log(r)
        f = fields(r)
        check(f["id"] == "-1", "a callback ran in a coroutine: %r" % r)
        check(f["sleep"] == str(EPERM) and f["yield"] == str(EPERM),
              "waits outside a coroutine must fail with -EPERM: %r" % r)
        check(f["created"] == "0", "coroutines were created: %r" % r)
        s = h.connect(srv.port, 10)
        r = h.request(s, b"go\n").decode().strip()
        check(re.fullmatch(r"go id=\d+ in=-1", r) is not None,
              "swx_go in a plain callback: %r" % r)
        r = h.recv_line(s).decode().strip()
        check(r == "go woke rc=0", "the coroutine's sleep: %r" % r)
        s.close()
        check(ask(srv.port, "ping").startswith("pong"), "no pong")
        srv.stop()
    with server("co-on", {"worker_num": 1}) as srv:
        srv.start()
        r = ask(srv.port, "info")
        log(r)
        f = fields(r)
        check(int(f["id"]) > 0 and f["sleep"] == "0",
              "the callback should run in a coroutine: %r" % r)
        check(f["stack"] == "262144" and f["max"] == "100000",
              "defaults: %r" % r)
        srv.stop()


h.main(main)
