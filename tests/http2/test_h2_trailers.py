"""test_h2_trailers.py: response trailers (swx_http_trailer) over HTTP/2,
frame by frame on python3-h2: after a streamed, whole (gzip-compressed),
empty and sendfile body the trailers come as a HEADERS frame with
END_STREAM, and no DATA frame before it ends the stream; a small window
still paces the body before them (flow control); HEAD and a 204 carry
none. curl and nghttp (when installed) show the same trailers. The
access log's $bytes_sent counts them."""

import gzip
import hashlib
import os
import shutil
import subprocess

import h2.events
import h2.settings

import h2_helper as hp

check = hp.check
TRAILER_PROBE = os.environ.get("SWX_TRAILER_PROBE_PLUGIN", "")


def parts_body(n):
    return b"".join(b"part %d\n" % i for i in range(1, n + 1)) + b"end\n"


def fetch(c, path, method="GET", headers=()):
    """(head, body, trailers): the stream's DATA must not end it, its
    trailing HEADERS must."""
    sid = c.request(path, method=method, headers=headers)
    head, body = c.response(sid)
    evs = [e for e in c.events if getattr(e, "stream_id", None) == sid]
    data = [e for e in evs if isinstance(e, h2.events.DataReceived)]
    tr = [e for e in evs if isinstance(e, h2.events.TrailersReceived)]
    if not tr:
        return head, body, None
    check(len(tr) == 1 and tr[0].stream_ended is not None,
          "%s: one trailing HEADERS with END_STREAM: %r" % (path, tr))
    check(all(d.stream_ended is None for d in data),
          "%s: a DATA frame ended the stream before the trailers" % path)
    check(evs.index(tr[0]) > max([evs.index(d) for d in data] + [-1]),
          "%s: the trailers come after the body" % path)
    return head, body, [(k, v) for k, v in tr[0].headers]


def test_frames(srv, file_bytes):
    c = hp.Client(srv.port)
    try:
        head, body, tr = fetch(c, "/stream?5")
        check(head.get(":status") == "200" and body == parts_body(5),
              "stream: %r %r" % (head, body[-40:]))
        check(head.get("trailer") == "X-Early", "announced: %r" % head)
        check(tr == [("x-early", "early"), ("x-sum", str(sum(body))),
                     ("x-parts", "5")], "stream: trailers %r" % tr)
        head, body, tr = fetch(c, "/whole?3000",
                               headers=[("accept-encoding", "gzip")])
        check(head.get("content-encoding") == "gzip" and
              len(gzip.decompress(body)) == 3000,
              "whole: gzip: %r, %d bytes" % (head, len(body)))
        check(tr == [("x-whole", "3000")], "whole: trailers %r" % tr)
        head, body, tr = fetch(c, "/empty")
        check(body == b"" and tr == [("x-empty", "yes")],
              "empty: %r %r" % (body, tr))
        head, body, tr = fetch(c, "/file")
        check(hashlib.sha256(body).digest() ==
              hashlib.sha256(file_bytes).digest() and
              tr == [("x-file", "sent")],
              "sendfile: %d bytes of %d, trailers %r"
              % (len(body), len(file_bytes), tr))
        head, body, tr = fetch(c, "/stream?3", method="HEAD")
        check(head.get(":status") == "200" and body == b"" and tr is None,
              "HEAD: no trailers: %r %r" % (head, tr))
        head, body, tr = fetch(c, "/nocontent")
        check(head.get(":status") == "204" and tr is None,
              "204: no trailers: %r %r" % (head, tr))
    finally:
        c.close()


def test_window(srv):
    """A 4 KiB window: the body waits for WINDOW_UPDATEs, then trailers."""
    win = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
    c = hp.Client(srv.port, settings={win: 4096})
    try:
        c.wait(lambda: any(isinstance(e, h2.events.SettingsAcknowledged)
                           for e in c.events), what="SETTINGS ack")
        head, body, tr = fetch(c, "/stream?3000")
        check(body == parts_body(3000), "paced body: %d bytes" % len(body))
        check(tr is not None and ("x-parts", "3000") in tr,
              "trailers after a paced body: %r" % tr)
    finally:
        c.close()


def test_clients(srv):
    rc, out, err = hp.curl(["--http2-prior-knowledge", "-D", "-", "-o",
                            os.devnull, hp.url(srv, "/stream?2")])
    check(rc == 0 and b"x-sum: " in out and b"x-parts: 2" in out,
          "curl shows the trailers: %d %r %s" % (rc, out, err))
    nghttp = shutil.which("nghttp")
    if nghttp is None:
        hp.h.log("nghttp is not installed: its check skipped")
        return
    p = subprocess.run([nghttp, "-v", hp.url(srv, "/stream?2")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    last = out.rfind("recv HEADERS frame")
    check(p.returncode == 0 and last > 0 and
          "END_STREAM" in out[last:last + 200] and "x-parts: 2" in out,
          "nghttp -v: a HEADERS frame with END_STREAM and the trailers:\n%s"
          % out[-1500:])


def test_access_log(srv):
    """$bytes_sent counts the trailers (as HTTP/1.1 lines, as the head);
    $body_bytes_sent does not: /empty and /bare differ by the head's
    Trailer line and the trailer's own line, nothing else."""
    c = hp.Client(srv.port)
    try:
        e_head, body, tr = fetch(c, "/empty")
        check(tr == [("x-empty", "yes")], "empty: trailers %r" % tr)
        b_head, body, tr = fetch(c, "/bare")
        check(body == b"" and tr is None, "bare: %r %r" % (body, tr))
    finally:
        c.close()
    log = os.path.join(srv.dir, "access.log")

    def lines():
        try:
            text = open(log).read()
        except FileNotFoundError:
            return None
        got = dict((ln.split()[0], ln.split()[1:]) for ln in
                   text.splitlines() if ln.split()[0] in ("/empty", "/bare"))
        return got if len(got) == 2 else None
    got = hp.h.wait_until(lines, 10, interval=0.05, what="access log lines")
    extra = len("Trailer: %s\r\n" % e_head.get("trailer")) + \
        len("X-Empty: yes\r\n")
    (e_bytes, e_body), (b_bytes, b_body) = (
        [int(x) for x in got[k]] for k in ("/empty", "/bare"))
    check(e_body == 0 and b_body == 0,
          "no DATA, no body bytes: %r" % got)
    check(e_bytes - b_bytes == extra,
          "the trailer counted in $bytes_sent: %d - %d, expected %d more"
          % (e_bytes, b_bytes, extra))


def main():
    check(TRAILER_PROBE and os.path.exists(TRAILER_PROBE),
          "SWX_TRAILER_PROBE_PLUGIN: %r" % TRAILER_PROBE)
    tmp = os.environ.get("SWX_TEST_TMPDIR") or None
    if tmp is not None:
        os.makedirs(tmp, exist_ok=True)
    file_bytes = os.urandom(300 * 1024)
    srv = hp.server("h2trailers", plugins=[
        {"name": "trailers", "path": TRAILER_PROBE, "config": {}}])
    path = os.path.join(srv.dir, "f.bin")
    with open(path, "wb") as f:
        f.write(file_bytes)
    srv.plugins[0]["config"]["file"] = path
    srv.listener_opts["access_log"] = os.path.join(srv.dir, "access.log")
    srv.listener_opts["access_log_format"] = \
        "$uri $bytes_sent $body_bytes_sent"
    srv.write_config()
    with srv:
        srv.start()
        test_frames(srv, file_bytes)
        test_window(srv)
        test_clients(srv)
        test_access_log(srv)
        srv.stop()
    hp.h.log("ok")


if __name__ == "__main__":
    hp.hh.main(main)
