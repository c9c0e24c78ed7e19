"""test_response_timeout.py: http_response_timeout. A worker that sends no
response within it gets its client a 504 and a closed connection; one that
stops in the middle of a response gets the connection closed; a
response that ends in time, and a stream whose parts keep coming, are not
cut, and the timer is gone once a response ended; 0 turns the limit off.
With a long limit, a crashed worker's requests get 502 once its
replacement runs, and a request still queued for it is served.
The plugin's held responses are freed when their connections go. The
setting is refused on a raw listener and out of range."""

import json
import re
import socket
import time

import http_helper as hh

check = hh.check
TIMEOUT = 1


def held(port):
    r = hh.exchange(port, hh.get(port, "/held"))
    m = re.fullmatch(rb"held=(\d+) gone=(\d+) late=(-?\d+)\n", r.body)
    check(m is not None, "/held: %r" % r)
    return int(m.group(1)), int(m.group(2))


def expect_504(port, path):
    t0 = time.monotonic()
    with hh.connect(port) as s:
        s.sendall(hh.get(port, path))
        rd = hh.Reader(s)
        r = rd.response()
        waited = time.monotonic() - t0
        check(r.status == 504, "%s: %r" % (path, r))
        check(r.header("connection") == "close", "%s: 504 without "
              "Connection: close" % path)
        check(hh.closed_after(s, rd), "%s: not closed after the 504" % path)
    check(waited >= TIMEOUT * 0.9, "%s: 504 after only %.2f s"
          % (path, waited))
    return waited


def test_silent(srv):
    port = srv.port
    before = held(port)
    waited = expect_504(port, "/hold")
    hh.h.log("/hold: 504 after %.2f s" % waited)
    srv.wait_log(r"session \d+ \(peer 127\.0\.0\.1:\d+\): worker \d+ sent no "
                 r"response in %d s \(http_response_timeout\); answering 504"
                 % TIMEOUT)
    hh.h.wait_until(lambda: held(port)[1] > before[1], 10,
                    what="the held response freed")


def test_partial(srv):
    port = srv.port
    with hh.connect(port) as s:
        s.sendall(hh.get(port, "/partial"))
        rd = hh.Reader(s)
        _, status, _, headers = rd.head()
        check(status == 200, "/partial: status %d" % status)
        t0 = time.monotonic()
        s.settimeout(10)
        rest = rd.rest()
        waited = time.monotonic() - t0
        check(rest == b"7\r\npart 1\n\r\n", "/partial: %r" % rest)
        check(waited >= TIMEOUT * 0.5, "closed after %.2f s" % waited)
    srv.wait_log(r"sent no more of the response in %d s "
                 r"\(http_response_timeout\); closing" % TIMEOUT)


def test_in_time(port):
    with hh.connect(port) as s:
        rd = hh.Reader(s)
        # 0.6 s of silence, under the limit; then idle longer than the
        # limit between requests: the response timer must be gone.
        s.sendall(hh.get(port, "/slow?600"))
        check(rd.response().body == b"slow 600\n", "/slow")
        time.sleep(TIMEOUT * 1.5)
        s.sendall(hh.get(port, "/stream?20"))
        r = rd.response()
        check(r.status == 200 and r.body.endswith(b"part 20\nend\n"),
              "/stream after an idle time: %r" % r)
        s.sendall(hh.get(port, "/worker"))
        check(rd.response().status == 200, "keep-alive after all that")


def test_crash_502():
    """With a long http_response_timeout, a worker that dies answers its
    requests with 502 as soon as its replacement runs: the one it was in
    and one it held; a request still queued for it is served by the
    replacement."""
    with hh.HttpServer("resp-crash", listener={"http_response_timeout": 30},
                       server={"log_level": "info", "worker_num": 1}) as srv:
        srv.start()
        port = srv.port
        held = hh.connect(port)
        held.sendall(hh.get(port, "/hold"))
        hh.h.wait_until(lambda: "held=1" in hh.exchange(
            port, hh.get(port, "/held")).body.decode(), 10,
            what="the held request")
        t0 = time.monotonic()
        crash = hh.connect(port)
        crash.sendall(hh.get(port, "/crash?500"))
        time.sleep(0.2)
        queued = hh.connect(port)
        queued.sendall(hh.get(port, "/worker"))
        for name, s in (("crashed", crash), ("held", held)):
            r = hh.Reader(s).response()
            check(r.status == 502, "%s request: %r" % (name, r))
        waited = time.monotonic() - t0
        check(waited < 15, "502 only after %.1f s" % waited)
        r = hh.Reader(queued).response()
        check(r.status == 200 and r.body == b"0", "the queued request: %r"
              % r)
        for s in (held, crash, queued):
            s.close()
        hh.h.log("crash: 502 after %.2f s" % waited)
        srv.wait_log(r"worker 0 died with the request; answering 502",
                     count=2)
        srv.stop(expected=("AddressSanitizer: SEGV",))


def test_off():
    with hh.HttpServer("resp-off", listener={"http_response_timeout": 0},
                       server={"log_level": "info"}) as srv:
        srv.start()
        with hh.connect(srv.port) as s:
            s.sendall(hh.get(srv.port, "/hold"))
            s.settimeout(TIMEOUT * 2.5)
            try:
                got = s.recv(100)
            except socket.timeout:
                got = None
            check(got is None, "http_response_timeout 0: /hold got %r" % got)
        srv.stop()


def test_config():
    with hh.h.Server("resp-cfg") as srv:
        cfg = srv.config()
        cfg["listeners"][0]["http_response_timeout"] = 5
        srv.write_config(json.dumps(cfg))
        rc, out, err = srv.check_config()
        check(rc != 0 and "listeners[0].http_response_timeout: only for "
              "protocol" in err, "raw listener: %d %r" % (rc, err))
        cfg["listeners"][0]["protocol"] = "http"
        cfg["listeners"][0]["http_response_timeout"] = -1
        srv.write_config(json.dumps(cfg))
        rc, out, err = srv.check_config()
        check(rc != 0 and "listeners[0].http_response_timeout" in err,
              "-1: %d %r" % (rc, err))


def main():
    with hh.HttpServer("resp-timeout",
                       listener={"http_response_timeout": TIMEOUT},
                       server={"log_level": "info"}) as srv:
        srv.start()
        test_silent(srv)
        test_partial(srv)
        test_in_time(srv.port)
        srv.stop()
    if not hh.h.base_mode():  # a crash takes base mode's connections
        test_crash_502()
    test_off()
    test_config()


if __name__ == "__main__":
    hh.main(main)
