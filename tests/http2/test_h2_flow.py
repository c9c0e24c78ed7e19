"""test_h2_flow.py: HTTP/2 flow control and limits through python3-h2: a
stream held by a small window that the client opens slowly while another
stream on the same connection completes; a stream past
http2_max_concurrent_streams refused with REFUSED_STREAM; a window that
never opens: the stream is reset after send_timeout, and others are
served; a crashed worker's stream (502 in process mode; in base mode the
connection dies with the worker); a graceful stop with a stream in flight;
max_request (base mode: GOAWAY from the leaving worker); a reload with
an idle connection (base mode: GOAWAY at once); max_concurrency
(503) and http_response_timeout (504) per stream."""

import os
import signal
import subprocess
import threading
import time

import h2.errors
import h2.settings

import h2_helper as hp

check = hp.check
SMALL = 16384


def pattern(n):
    return bytes(i % 251 for i in range(n))


def test_slow_stream(srv):
    """Stream A's window is not reopened; B completes meanwhile."""
    c = hp.Client(srv.port, settings={
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: SMALL})
    try:
        c.pump(1.0, ack=False)
        a = c.conn.get_next_available_stream_id()
        c.no_ack.add(a)
        c.request("/big?400000")
        c.wait(lambda: len(c.bodies.get(a, b"")) >= SMALL, 10,
               "stream A's first window")
        b = c.request("/echo", method="POST", body=b"neighbour")
        c.wait(lambda: b in c.ended, 10, "stream B")
        check(c.bodies[b] == b"neighbour", "B's body: %r" % c.bodies[b])
        check(len(c.bodies[a]) == SMALL and a not in c.ended,
              "A is held at its window: %d bytes" % len(c.bodies[a]))
        got = SMALL
        c.conn.increment_flow_control_window(SMALL, a)
        c.conn.increment_flow_control_window(SMALL)
        c.flush()
        while a not in c.ended:  # a slow reader: one window at a time
            check(c.pump(5.0), "connection lost during A")
            now = len(c.bodies.get(a, b""))
            if now > got and a not in c.ended:
                c.conn.increment_flow_control_window(now - got, a)
                c.conn.increment_flow_control_window(now - got)
                c.flush()
                got = now
            time.sleep(0.005)
        check(c.bodies[a] == pattern(400000), "A's 400000 bytes, in order")
    finally:
        c.close()


def test_max_streams(srv):
    c = hp.Client(srv.port)
    try:
        # Before the server's SETTINGS are read, so that the client's
        # library does not hold the third stream back itself.
        held = [c.request("/slow?1500") for _ in range(2)]
        extra = c.request("/echo")
        c.wait(lambda: extra in c.resets or extra in c.ended, 5,
               "the third stream's fate")
        check(c.resets.get(extra) == h2.errors.ErrorCodes.REFUSED_STREAM,
              "stream 3 of 2 refused: %r" % c.resets.get(extra))
        for sid in held:
            head, body = c.response(sid, 10)
            check(head.get(":status") == "200", "held stream %d" % sid)
        again = c.request("/echo")
        head, _ = c.response(again)
        check(head.get(":status") == "200", "room again after they ended")
    finally:
        c.close()


def test_zero_window(srv):
    c = hp.Client(srv.port, settings={
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    try:
        c.pump(1.0)
        t0 = time.time()
        sid = c.request("/big?1000")
        c.wait(lambda: sid in c.resets or c.closed or c.goaway is not None,
               12, "the stalled stream's reset")
        took = time.time() - t0
        check(c.resets.get(sid) == h2.errors.ErrorCodes.CANCEL or c.closed,
              "a window that never opens: reset %r" % c.resets.get(sid))
        check(1.5 <= took <= 6, "reset after send_timeout (2 s): %.1f s"
              % took)
        hp.served(srv)
    finally:
        c.close()


def test_crash(srv):
    """A worker that dies with a stream's request: 502 on that stream; the
    connection and its other streams go on."""
    if hp.h.base_mode():
        test_crash_base(srv)
        return
    c = hp.Client(srv.port)
    try:
        crash = c.request("/crash?300")
        other = c.request("/slow?800")
        head, _ = c.response(crash, 15)
        check(head.get(":status") == "502", "the crashed stream: %r" % head)
        head, _ = c.response(other, 15)
        check(head.get(":status") in ("200", "502"),
              "its neighbour: %r" % head)
        head, _ = c.response(c.request("/echo"), 10)
        check(head.get(":status") == "200", "the connection goes on")
    finally:
        c.close()


def test_crash_base(srv):
    """Base mode: the connection belongs to the worker that runs its
    requests, so a crash takes the connection with it (no 502 on a
    surviving connection: that is process mode's, where the reactor holds
    it). What base mode promises: the others go on, and the replacement
    worker serves new connections."""
    hp.h.log("SKIP in base mode: the crashed stream's 502 on a surviving "
             "connection (process mode only: in base mode the connection "
             "dies with its worker); checking that it closes and the "
             "server serves on instead")
    bystander = hp.Client(srv.port)
    c = hp.Client(srv.port)
    try:
        c.request("/crash?300")
        c.wait(lambda: c.closed, 15, "the crashed worker's connection to "
               "close")
        # On the other worker it is served; on the crashed one it closed.
        try:
            sid = bystander.request("/echo")
            bystander.wait(lambda: sid in bystander.ended or
                           bystander.closed, 10, "the bystander")
        except OSError:
            bystander.closed = True
        check(bystander.closed or
              bystander.heads.get(sid, {}).get(":status") == "200",
              "a connection of the other worker: %r"
              % bystander.heads.get(sid))
    finally:
        c.close()
        bystander.close()
    hp.h.wait_until(lambda: served_anew(srv), 15,
                    what="a new connection served after the crash")


def served_anew(srv):
    c = hp.Client(srv.port)
    try:
        head, _ = c.response(c.request("/echo"), 5)
        return head.get(":status") == "200"
    except Exception:
        return False
    finally:
        c.close()


def test_timeouts(srv):
    """A request never whole gets 408 after http_request_timeout (3 s); a
    connection without streams is sent GOAWAY(NO_ERROR) after it."""
    c = hp.Client(srv.port)
    try:
        sid = c.request("/echo", method="POST", body=b"part", end=False)
        t0 = time.time()
        head, _ = c.response(sid, 8)
        check(head.get(":status") == "408" and time.time() - t0 >= 2,
              "an unfinished request: %r" % head)
        c.wait(lambda: c.goaway is not None or c.closed, 8, "GOAWAY")
        check(c.goaway in (None, h2.errors.ErrorCodes.NO_ERROR),
              "an idle connection's GOAWAY: %r" % c.goaway)
    finally:
        c.close()


def stop_with_stream(srv):
    """A graceful stop with a stream in a worker: GOAWAY, and the stream
    still answered (curl: python3-h2 drops frames after a GOAWAY)."""
    p = subprocess.Popen([hp.hh.CURL, "-sv", "--http2-prior-knowledge",
                          hp.url(srv, "/slow?1000")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The stop comes once the request is sent (-v: "> GET"), not after a
    # guess at how long curl takes to start on a busy machine.
    sent, errs = threading.Event(), []

    def read_err():
        for line in p.stderr:
            errs.append(line)
            if line.startswith(b"> GET"):
                sent.set()
    reader = threading.Thread(target=read_err)
    reader.start()
    check(sent.wait(10), "curl did not send its request: %r" % errs)
    time.sleep(0.2)
    # The stop runs beside, so that curl is reaped the moment it exits.
    # What is left of the server's tree is checked once curl is done: the
    # check counts any child of ours, and curl may still be reading the
    # last frames when the master exits (at once in base mode, where the
    # worker that wrote them is the last to go).
    procs = srv.tree()
    rcs = []

    def stop():
        os.kill(srv.pid, signal.SIGTERM)
        try:
            rcs.append(srv.proc.wait(30))
        except subprocess.TimeoutExpired:
            rcs.append("no exit within 30 s")
    stopper = threading.Thread(target=stop)
    stopper.start()
    out = p.stdout.read()
    p.wait(20)
    reader.join(5)
    err = b"".join(errs)[-300:]
    stopper.join(40)
    check(not stopper.is_alive() and rcs == [0],
          "the graceful stop: master exit %r" % rcs)
    srv.check_no_leftovers(procs)
    srv.check_log_clean(("AddressSanitizer: SEGV",))
    check(p.returncode == 0 and out == b"slow 1000\n",
          "the stream in flight at the stop: rc %d %r %r"
          % (p.returncode, out, err))


def test_max_request():
    """max_request recycles a worker while an HTTP/2 connection is open. In
    process mode the connection is the reactor's and goes on. In base mode
    it belongs to the leaving worker: its next request brings
    GOAWAY(NO_ERROR), the streams it names are all answered, and a new
    connection is served by the replacement."""
    with hp.server("h2maxreq", server={"max_request": 5,
                                       "max_request_grace": 0}) as srv:
        srv.start()
        c = hp.Client(srv.port)
        try:
            sent = []
            for _ in range(30):
                if c.goaway is not None or c.closed:
                    break
                sid = c.request("/echo")
                sent.append(sid)
                c.wait(lambda: sid in c.ended or sid in c.resets or
                       c.goaway is not None, 10, "stream %d" % sid)
            if hp.h.base_mode():
                c.wait_end(10)
                check(c.goaway == h2.errors.ErrorCodes.NO_ERROR,
                      "a leaving worker's GOAWAY: %r" % c.goaway)
            else:
                check(c.goaway is None and not c.closed,
                      "the connection outlives its workers: %r" % c.goaway)
            last = max(e.last_stream_id for e in c.events
                       if hasattr(e, "last_stream_id")) \
                if c.goaway is not None else sent[-1]
            for sid in sent:
                if sid <= last:
                    head, _ = c.response(sid, 10)
                    check(head.get(":status") == "200", "stream %d: %r"
                          % (sid, head))
        finally:
            c.close()
        hp.h.wait_until(lambda: served_anew(srv), 10,
                        what="a new connection served")
        srv.stop()


def test_reload_idle():
    """A reload with an idle HTTP/2 connection open. In base mode the
    connection is the leaving worker's: GOAWAY(NO_ERROR) comes at once,
    not at max_wait_time, and the server closes the connection, so the
    client's next streams go to the new worker. In process mode the
    connection is the reactor's: no GOAWAY, and it is served on."""
    with hp.server("h2reload", server={"worker_num": 1,
                                       "max_wait_time": 20}) as srv:
        srv.start()
        c = hp.Client(srv.port)
        try:
            head, _ = c.response(c.request("/echo"), 5)
            check(head.get(":status") == "200", "before: %r" % head)
            t0 = time.time()
            srv.proc.send_signal(signal.SIGUSR1)
            if hp.h.base_mode():
                check(c.wait_end(6), "an idle connection of a leaving "
                      "worker: no GOAWAY or close in 6 s")
                check(c.goaway == h2.errors.ErrorCodes.NO_ERROR,
                      "a leaving worker's GOAWAY: %r" % c.goaway)
                c.wait(lambda: c.closed, 5, "the close after GOAWAY")
                hp.h.log("GOAWAY and close %.2f s after the reload"
                         % (time.time() - t0))
            else:
                c.wait(lambda: False if time.time() - t0 < 1.5 else True,
                       5, "a while after the reload")
                check(c.goaway is None and not c.closed,
                      "the reactor's connection after a reload: %r"
                      % c.goaway)
                head, _ = c.response(c.request("/echo"), 10)
                check(head.get(":status") == "200", "after: %r" % head)
        finally:
            c.close()
        hp.h.wait_until(lambda: served_anew(srv), 10,
                        what="a new connection served")
        srv.stop()


def test_limits():
    """max_concurrency and http_response_timeout per stream: a stream held
    by the plugin takes the only slot, so its neighbour is answered 503 at
    once; the held one gets 504 after the timeout, the connection goes on,
    and the slot is free again."""
    with hp.server("h2limits", listener={"http_response_timeout": 2},
                   server={"max_concurrency": 1}) as srv:
        srv.start()
        c = hp.Client(srv.port)
        try:
            held = c.request("/hold")
            time.sleep(0.3)  # the held stream takes the slot first
            t0 = time.time()
            head, _ = c.response(c.request("/echo"), 5)
            check(head.get(":status") == "503" and time.time() - t0 < 1.5,
                  "a stream past max_concurrency: %r" % head)
            head, _ = c.response(held, 8)
            check(head.get(":status") == "504" and time.time() - t0 >= 1.2,
                  "a stream the plugin never answers: %r" % head)
            head, _ = c.response(c.request("/echo"), 5)
            check(head.get(":status") == "200",
                  "the slot is free again: %r" % head)
        finally:
            c.close()
        srv.stop()


def main():
    with hp.server("h2flow", listener={"http2_max_concurrent_streams": 2,
                                       "http_request_timeout": 3},
                   server={"send_timeout": 2}) as srv:
        srv.start()
        test_slow_stream(srv)
        test_max_streams(srv)
        test_zero_window(srv)
        test_timeouts(srv)
        test_crash(srv)
        stop_with_stream(srv)
    test_max_request()
    test_reload_idle()
    test_limits()
    hp.h.log("ok")


if __name__ == "__main__":
    main()
