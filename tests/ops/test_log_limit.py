"""test_log_limit.py: floods cannot flood the log. A UDP listener whose
worker sleeps on every datagram gets 3 s of datagrams: the reactor drops
thousands ("worker 0 is not keeping up; datagram ... dropped"), yet the log
holds a burst of such lines, then about one a second, and summary lines
("N similar lines suppressed, the first: ...") whose counts, with the lines
written, add up to the drops the stats admit. Those summaries are all
written within 2.5 s of the flood's end, though nothing else is
logged meanwhile. Then 200 connections past max_conn are refused: a bounded
number of "refused" lines, and the summaries count the rest, exactly, by
the time the server has stopped. The start-up and stop lines are there, once each."""

import os
import re
import socket
import time

from ops_helper import h
import ops_helper as o

FRAME_PROBE = os.environ.get("SWX_FRAME_PROBE_PLUGIN", "")

BURST = 10          # LOG_LIMIT_BURST in server/log_limit.h
FLOOD_S = 3.0
SLEEP_MS = 2        # per datagram in the worker
DGRAM = 8000        # bytes: the reactor's 4 MiB queue holds ~500
MAX_CONN = 3
REFUSED = 200

DROP_LINE = re.compile(r"^\S+ \S+ \[warning\] \d+ reactor \d+: worker 0 is "
                       r"not keeping up; datagram from \S+ dropped$", re.M)
DROP_NOTE = re.compile(r"^\S+ \S+ \[warning\] \d+ reactor \d+: (\d+) similar "
                       r"lines? suppressed, the first: worker 0 is not "
                       r"keeping up; datagram from \S+ dropped$", re.M)
# The master accepts in process mode, the (one) worker in base mode.
ACCEPTOR = r"worker 0" if h.base_mode() else r"master"
REFUSE_LINE = re.compile(r"^\S+ \S+ \[warning\] \d+ " + ACCEPTOR + r": max_conn \(%d\) "
                         r"reached; connection on listeners\[0\] refused$"
                         % MAX_CONN, re.M)
REFUSE_NOTE = re.compile(r"^\S+ \S+ \[warning\] \d+ " + ACCEPTOR +
                         r": (\d+) similar "
                         r"lines? suppressed, the first: max_conn \(%d\) "
                         r"reached; connection on listeners\[0\] refused$"
                         % MAX_CONN, re.M)


def tally(text, line_rx, note_rx):
    """(lines written, summary lines, lines they count)."""
    notes = [int(n) for n in note_rx.findall(text)]
    return len(line_rx.findall(text)), len(notes), sum(notes)


def flood(port, seconds):
    """Datagrams as fast as the socket takes them; (sent, seconds)."""
    payload = b"f" * DGRAM
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            try:
                s.sendto(payload, (h.HOST, port))
                sent += 1
            except BlockingIOError:
                time.sleep(0.0005)
            try:
                while s.recv(65536):   # answers of the datagrams handled
                    pass
            except BlockingIOError:
                pass
        return sent, time.monotonic() - t0


free_udp_port = h.free_udp_port


def refuse(srv, n):
    """n connections past max_conn; seconds it took the master to take
    them all."""
    base = o.stats(srv.admin)["accept_count"]
    t0 = time.monotonic()
    for _ in range(n):
        h.connect(srv.port, timeout=20).close()
    h.wait_until(lambda: o.stats(srv.admin)["accept_count"] >= base + n, 20,
                 what="%d refusals" % n)
    return time.monotonic() - t0


def check_udp_flood(srv, udp_port):
    t0 = time.monotonic()
    sent, took = flood(udp_port, FLOOD_S)
    # The summary of the last drops is due at most a second after them,
    # and written then, though the server logs nothing else meanwhile.
    time.sleep(2.5)
    dispatched = o.stats(srv.admin)["dispatch_count"]
    elapsed = time.monotonic() - t0
    text = srv.log_text()
    lines, notes, held = tally(text, DROP_LINE, DROP_NOTE)
    h.log("UDP flood: %d datagrams in %.1f s, %d dispatched; %d drop lines, "
          "%d summaries of %d more; log %d bytes"
          % (sent, took, dispatched, lines, notes, held, len(text)))
    o.check(lines > 0, "the flood did not make the reactor drop datagrams")
    o.check(lines <= BURST + elapsed + 2, "%d drop lines in %.1f s"
            % (lines, elapsed))
    o.check(held > 0, "no summary of the drops held back")
    o.check(notes <= elapsed + 2, "%d summary lines in %.1f s"
            % (notes, elapsed))
    # Every datagram dispatched was dropped, or queued for the worker, who
    # takes SLEEP_MS for each; the queue holds 4 MiB.
    queued_max = elapsed * 1000 / SLEEP_MS + (4 << 20) // DGRAM + 200
    o.check(dispatched - queued_max <= lines + held <= dispatched,
            "%d drops logged or counted, %d datagrams dispatched"
            % (lines + held, dispatched))
    o.check(len(text) < 16 * 1024, "log of %d bytes" % len(text))
    return lines, held


def main():
    h.require(FRAME_PROBE)
    udp_port = free_udp_port()
    fp = {"name": "fp", "path": FRAME_PROBE,
          "config": {"packet_sleep_ms": SLEEP_MS}}
    port = h.free_port()
    with o.Server("log-limit", admin={"port": h.free_port()},
                  server={"worker_num": 1, "reactor_num": 2,
                          "max_conn": MAX_CONN, "log_level": "info"},
                  plugins=[fp], port=port,
                  listeners=[{"type": "tcp", "host": h.HOST, "port": port,
                              "plugin": "fp"},
                             {"type": "udp", "host": h.HOST,
                              "port": udp_port, "plugin": "fp"}]) as srv:
        srv.start()
        h.wait_until(lambda: o.stats(srv.admin)["connection_num"] == 0, 20,
                     what="connection_num 0")
        kept = [h.connect(srv.port, timeout=20) for _ in range(MAX_CONN)]
        for i, s in enumerate(kept):
            s.sendall(b"k%d" % i)
            o.check(s.recv(100).startswith(b"M "), "connection %d not "
                    "served" % i)
        # Only a reactor drops datagrams for a worker that lags; in base
        # mode the worker reads the socket itself and the kernel drops.
        drop_lines, drop_held = ((0, 0) if h.base_mode()
                                 else check_udp_flood(srv, udp_port))
        took = refuse(srv, REFUSED)
        for s in kept:
            s.close()
        srv.stop()
        text = srv.log_text()

    o.check(tally(text, DROP_LINE, DROP_NOTE)[::2] == (drop_lines, drop_held),
            "drops were logged or counted after the flood's summaries: "
            "they were held back until the stop")
    lines, notes, held = tally(text, REFUSE_LINE, REFUSE_NOTE)
    h.log("%d refusals in %.1f s: %d lines, %d summaries of %d more"
          % (REFUSED, took, lines, notes, held))
    o.check(lines <= BURST + took + 2, "%d refusal lines for %d refusals "
            "in %.1f s" % (lines, REFUSED, took))
    o.check(lines + held == REFUSED, "%d refusals written and %d counted, "
            "expected %d in all" % (lines, held, REFUSED))
    for line in (r"master: swx-server \S+ started", r"master: SIGTERM: stopping",
                 r"master: stopped"):
        o.check(len(re.findall(line, text)) == 1, "not one /%s/ in the log"
                % line)


if __name__ == "__main__":
    h.main(main)
