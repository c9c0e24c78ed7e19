"""test_fanout.py: the shipped example plugins/fanout run from
conf/fanout.json (its ports made free, its paths the build's): an answer
per upstream (a plain and a chunked body of http_hello, a static file of
the second listener, a body read to EOF, refused, timed out), two slow
upstreams of 1 and 1.2 s fetched at once (the request takes about the
slowest, not the sum), and a request of another client answered
meanwhile by the same single worker."""

import json
import os
import threading
import time

import upstream
from coro_helper import h, check, http_get, log, SLOW

FANOUT = os.environ.get("SWX_FANOUT_PLUGIN", "")
HELLO = os.environ.get("SWX_HTTP_HELLO_PLUGIN", "")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def config(srv, up_port, quiet_port):
    """conf/fanout.json with our ports, plugins and upstreams."""
    with open(os.path.join(ROOT, "conf", "fanout.json")) as f:
        cfg = json.load(f)
    cfg["server"]["worker_num"] = 1
    srv.server_cfg = cfg["server"]  # what the harness waits for
    hello_port = h.free_port()
    fanout, hello = cfg["plugins"]
    fanout["path"], hello["path"] = FANOUT, HELLO
    ups = [u.replace(":8191/", ":%d/" % hello_port)
           for u in fanout["config"]["upstreams"]]
    ups += ["127.0.0.1:%d/delay/1000" % up_port,
            "127.0.0.1:%d/delay/1200" % up_port,
            "127.0.0.1:%d/eof/100000" % up_port,
            "127.0.0.1:%d/silent" % up_port,
            "127.0.0.1:%d/" % quiet_port]
    fanout["config"]["upstreams"] = ups
    fanout["config"]["timeout_ms"] = 1500
    cfg["listeners"][0]["port"] = srv.port
    cfg["listeners"][1]["port"] = hello_port
    cfg["listeners"][1]["document_root"] = os.path.join(ROOT, "docs")
    srv.write_config(json.dumps(cfg, indent=2) + "\n")
    srv.hello_port = hello_port


def expected():
    size = os.path.getsize(os.path.join(ROOT, "docs", "architecture.md"))
    return [(200, 14, None), (200, None, None), (200, 40, None),
            (200, size, None), (None, None, "Connection refused"),
            (200, 11, None), (200, 11, None), (200, 100000, None),
            (None, None, "Connection timed out"),
            (None, None, "Connection refused")]


def check_answer(body):
    got = json.loads(body)
    ups = got["upstreams"]
    check(len(ups) == 10, "10 upstreams: %r" % got)
    for u, (status, size, error) in zip(ups, expected()):
        check(u.get("status") == status and u.get("error") == error,
              "upstream %r" % u)
        if size is not None:
            check(u.get("bytes") == size, "bytes of %r" % u)
    # the timed out one waited its 1.5 s, the slow ones ran beside it
    check(1400 <= ups[8]["ms"] < 2500, "timeout after %r" % ups[8])
    return got["ms"]


def main():
    h.require(FANOUT, HELLO)
    up = upstream.tcp()
    quiet = h.free_port()
    with h.Server("co-fanout") as srv:
        config(srv, up.server_address[1], quiet)
        srv.start()
        got = []
        t = threading.Thread(target=lambda: got.append(
            http_get(srv.port, "/")))
        t0 = time.monotonic()
        t.start()
        h.wait_until(lambda: up.count >= 4, 5, what="the upstream calls")
        p0 = time.monotonic()
        status, body = http_get(srv.hello_port, "/", timeout=5)
        waited = time.monotonic() - p0
        check(status == 200 and waited < (0.8 if SLOW else 0.3),
              "the worker did not answer meanwhile (%.2f s)" % waited)
        t.join(20)
        took = time.monotonic() - t0
        check(len(got) == 1 and got[0][0] == 200, "answer: %r" % got)
        log(got[0][1])
        ms = check_answer(got[0][1])
        # the sum of the waits would be 1 + 1.2 + 1.5 s
        check(took < (3.0 if SLOW else 2.2), "took %.2f s (%d ms)"
              % (took, ms))
        srv.stop()
    up.shutdown()


h.main(main)
