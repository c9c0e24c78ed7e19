"""test_sd_watchdog.py: systemd's watchdog against a fake NOTIFY_SOCKET,
here an abstract one ("@name").

- With WATCHDOG_USEC=400000 (and no WATCHDOG_PID), the master sends
  WATCHDOG=1 every 200 ms (half the period, as sd_watchdog_enabled(3)
  advises) from its event loop.
- With WATCHDOG_PID naming another process, it sends none: the watchdog
  is that process's.
"""

import os
import time

from ops_helper import h
import ops_helper as o
from sd_helper import Env, NotifySocket

WATCHDOG_USEC = 400000
WINDOW = 3.0


def run(name, pid_var):
    address = "@swx-test-%d-%s" % (os.getpid(), name)
    ns = NotifySocket(address)
    try:
        with o.Server(name, server={"worker_num": 1, "reactor_num": 1}) as srv:
            with Env(NOTIFY_SOCKET=address, WATCHDOG_USEC=str(WATCHDOG_USEC),
                     WATCHDOG_PID=pid_var):
                srv.start()
            ns.wait_for("READY", "1", timeout=30)
            t0 = time.monotonic()
            time.sleep(WINDOW)
            pings = [t for t, f, _ in ns.snapshot()
                     if f.get("WATCHDOG") == "1" and t >= t0]
            srv.stop()
            return pings
    finally:
        ns.close()


def main():
    pings = run("sd-wd", None)
    period = WATCHDOG_USEC / 2e6
    expect = WINDOW / period
    o.check(expect * 0.6 <= len(pings) <= expect * 1.4 + 1,
            "%d WATCHDOG=1 in %.1f s; expected about %.0f (every %.0f ms)"
            % (len(pings), WINDOW, expect, period * 1000))
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    # The count above holds the rate; a single gap only shows the timer
    # is not stuck: a loaded 2-CPU test machine can hold a process off
    # the CPU for most of a second.
    o.check(max(gaps) < period * 8,
            "a gap of %.0f ms between two WATCHDOG=1 (period %.0f ms)"
            % (max(gaps) * 1000, period * 1000))
    h.log("%d WATCHDOG=1 in %.1f s (every %.0f ms asked; gaps %.0f .. %.0f "
          "ms)" % (len(pings), WINDOW, period * 1000, min(gaps) * 1000,
                   max(gaps) * 1000))

    pings = run("sd-wd-other", "1")
    o.check(not pings, "%d WATCHDOG=1 although WATCHDOG_PID names pid 1"
            % len(pings))
    h.log("WATCHDOG_PID=1: no WATCHDOG=1")


if __name__ == "__main__":
    h.main(main)
