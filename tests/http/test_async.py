"""test_async.py: responses ended later, from a timer; responses still open
when their client goes: in dispatch_mode 2 the plugin hears on_close (its
calls then return -ENOTCONN and the server frees the response after
on_close), in mode 1 (no on_close) the response is marked gone and freed
when the plugin ends it; many held responses, and held ones at a stop, leak
nothing (the ASan build checks)."""

import re
import time

import http_helper as hh

check = hh.check
ENOTCONN = -107


def held(port):
    r = hh.exchange(port, hh.get(port, "/held"))
    m = re.fullmatch(rb"held=(\d+) gone=(\d+) late=(-?\d+)\n", r.body)
    check(m is not None, "/held: %r" % r)
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def test_late_end(port):
    t0 = time.monotonic()
    r = hh.exchange(port, hh.get(port, "/slow?400"))
    check(r.body == b"slow 400\n", "/slow: %r" % r)
    check(time.monotonic() - t0 >= 0.35, "answered before the timer")
    _, _, late = held(port)
    check(late == 0, "swx_http_end from a timer returned %d" % late)


def test_gone_with_on_close(port):
    before = held(port)
    for path in ("/hold", "/hold-timer?300"):
        s = hh.connect(port)
        s.sendall(hh.get(port, path))
        time.sleep(0.2)
        s.close()
        hh.h.wait_until(lambda: held(port)[1] > before[1], 10,
                        what="on_close of a held response")
        n, gone, late = held(port)
        check(late == ENOTCONN, "%s: end after the close returned %d"
              % (path, late))
        before = (n, gone, late)
    time.sleep(0.5)  # the cleared timer must not fire on a freed response
    held(port)


def test_gone_without_on_close(port):
    s = hh.connect(port)
    s.sendall(hh.get(port, "/hold-timer?500"))
    time.sleep(0.2)
    s.close()
    time.sleep(1.0)
    _, gone, late = held(port)
    check(gone == 0, "on_close came in dispatch_mode 1")
    check(late == ENOTCONN, "mode 1: end after the client went returned %d"
          % late)


def test_many_held(port):
    socks = []
    for _ in range(40):
        s = hh.connect(port)
        s.sendall(hh.get(port, "/hold"))
        socks.append(s)
    time.sleep(0.3)
    for s in socks:
        s.close()
    hh.h.wait_until(lambda: held(port)[1] >= 40, 20, what="40 on_close")


def main():
    with hh.HttpServer("http-async", server={"worker_num": 1}) as srv:
        srv.start()
        test_late_end(srv.port)
        test_gone_with_on_close(srv.port)
        test_many_held(srv.port)
        # Held while the server stops: freed by the worker on exit.
        stuck = hh.connect(srv.port)
        stuck.sendall(hh.get(srv.port, "/hold"))
        time.sleep(0.2)
        srv.stop()
        stuck.close()
    if hh.h.base_mode():
        return  # on_close always comes: there is no dispatch_mode 1
    with hh.HttpServer("http-async-rr",
                       server={"worker_num": 1, "dispatch_mode": 1}) as srv:
        srv.start()
        test_gone_without_on_close(srv.port)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
