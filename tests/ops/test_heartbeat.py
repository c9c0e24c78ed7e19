"""test_heartbeat.py: heartbeat_check_interval 1, heartbeat_idle_time 2.
A client that sends nothing, and one that stops sending after a request,
see the server close the connection 2 to 3 seconds after the last bytes it
sent (never sooner), and the plugin's on_close runs for each; a client
that sends every half second stays connected and served throughout."""

import re
import socket
import threading
import time

from ops_helper import h
import ops_helper as o

IDLE = 2


def wait_eof(sock, timeout):
    """Seconds until the server closed sock (EOF or reset)."""
    t0 = time.monotonic()
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise h.TestFailure("an idle connection was not closed within %.0f s"
                            % timeout)
    return time.monotonic() - t0


class Active(threading.Thread):
    def __init__(self, port, seconds):
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.ok = 0
        self.error = None

    def run(self):
        try:
            with h.connect(self.port, timeout=30) as s:
                end = time.monotonic() + self.seconds
                while time.monotonic() < end:
                    msg = b"active %d\n" % self.ok
                    got = h.request(s, msg)
                    h.check(got == msg, "got %r for %r" % (got, msg))
                    self.ok += 1
                    time.sleep(0.5)
        except Exception as e:  # noqa: BLE001 -- judged by the main thread
            self.error = e


def main():
    probe = {"name": "probe", "path": h.PROBE}
    limit = 15 if o.SLOW else 8
    with o.Server("heartbeat", server={"worker_num": 2, "reactor_num": 2,
                                       "heartbeat_check_interval": 1,
                                       "heartbeat_idle_time": IDLE,
                                       "log_level": "debug"},
                  plugins=[probe]) as srv:
        srv.start()
        active = Active(srv.port, 3 * IDLE + 1)
        active.start()
        silent = h.connect(srv.port)
        t_silent = time.monotonic()
        once = h.connect(srv.port)
        o.check(h.request(once, b"just once\n") == b"just once\n", "echo")
        t_once = time.monotonic()

        wait_eof(silent, limit)
        silent_after = time.monotonic() - t_silent
        wait_eof(once, limit)
        once_after = time.monotonic() - t_once
        silent.close()
        once.close()
        h.log("silent connection closed %.2f s after connect; the other %.2f"
              " s after its last request" % (silent_after, once_after))
        for what, t in (("silent", silent_after), ("once", once_after)):
            o.check(t >= IDLE - 0.1, "the %s connection was closed after "
                    "%.2f s, before heartbeat_idle_time (%d s)"
                    % (what, t, IDLE))
            o.check(t <= limit, "the %s connection was closed after %.2f s"
                    % (what, t))

        ms = srv.wait_log(r"session (\d+): nothing received for \d+ s "
                          r"\(heartbeat_idle_time %d\); closing" % IDLE,
                          count=2)
        for m in ms[:2]:
            srv.wait_log(r"probe: session %s: close$" % m.group(1))
        active.join(60)
        o.check(not active.is_alive(), "the active client hung")
        o.check(active.error is None, "the active client failed after %d "
                "requests: %r" % (active.ok, active.error))
        closed = set(m.group(1) for m in re.finditer(
            r"session (\d+): nothing received", srv.log_text()))
        o.check(len(closed) == 2, "heartbeat closed %d connections, "
                "expected the 2 idle ones: %s" % (len(closed), closed))
        h.log("active client: %d requests over %d s, never closed; on_close "
              "ran for both idle sessions" % (active.ok, 3 * IDLE + 1))
        srv.stop()


if __name__ == "__main__":
    h.main(main)
