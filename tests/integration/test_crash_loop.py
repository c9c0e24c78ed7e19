"""test_crash_loop.py: a plugin whose on_worker_start crashes (SIGSEGV) or
fails (returns non-zero) does not make the manager fork as fast as it can:
one log line per failure with a growing delay and its cause, master and
manager stay up, few starts in 3 s, a client of the failing worker is not
kept waiting (its connection is closed at once, with a log line), and
SIGTERM still stops everything with exit 0."""

import re
import time

import swx_harness as h

WINDOW = 3.0
FAILURE = (r"worker 0 failed (\d+) time\(s\) in a row soon after start; "
           r"next start in (\d+) ms \((.*) before on_worker_start "
           r"finished(.*)\)")
START = r"probe: worker 0 \(pid (\d+)\) starting"


def run(mode):
    probe = {"name": "probe", "path": h.PROBE, "config": {mode: True}}
    with h.Server(mode, server={"worker_num": 1, "reactor_num": 1},
                  plugins=[probe]) as srv:
        t0 = time.monotonic()
        srv.start(workers=False)
        # Several failures, whatever the speed of this build.
        srv.wait_log(FAILURE, timeout=30, count=4)
        left = WINDOW - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)  # the window itself is what is measured
        elapsed = time.monotonic() - t0
        text = srv.log_text()
        found = re.findall(FAILURE, text)
        failures = [(int(a), int(b)) for a, b, _, _ in found]
        starts = re.findall(START, text)
        h.log("%s: %d starts and %d failure lines in %.1f s; delays %s"
              % (mode, len(starts), len(failures), elapsed,
                 [d for _, d in failures]))
        h.check(h.alive(srv.pid), "the master died")
        mgr = srv.manager_pid()
        h.check(mgr is not None and h.alive(mgr), "the manager died")
        h.check([n for n, _ in failures] == list(range(1, len(failures) + 1)),
                "failure counts are not 1, 2, 3...: %s" % failures)
        delays = [d for _, d in failures]
        h.check(delays[0] == 100, "first delay %d ms, expected 100"
                % delays[0])
        h.check(all(b == min(2 * a, 30000) for a, b in zip(delays,
                                                          delays[1:])),
                "delays do not double: %s" % delays)
        # 100+200+400+800+1600 ms: about 5 starts fit in 3 s; a tight loop
        # would make hundreds.
        h.check(len(starts) < 15, "%d worker starts in %.1f s: no back-off"
                % (len(starts), elapsed))
        if mode == "crash_start":
            h.check(re.search(r"worker 0 \(pid \d+\) (killed by signal|exited"
                              r" with status)", text),
                    "no line about how the worker died")
            h.check(all(re.fullmatch(r"signal 11 \(.*\)", how)
                        or how.startswith("exit status ")
                        for _, _, how, _ in found),
                    "causes: %s" % [f[2] for f in found])
        else:
            h.check("worker 0 (pid" in text and "exited with status 3" in text,
                    "no 'exited with status 3' line")
            h.check(all(how == "exit status 3" and
                        why == ": a plugin failed to start"
                        for _, _, how, why in found),
                    "causes: %s" % [f[2:] for f in found])
        # The listener still accepts, but the only worker is backing off:
        # the connection is closed at once, not kept for its next start.
        # In base mode no process accepts while it is down: a connection
        # waits in the listen queue for its next start.
        if h.base_mode():
            srv.stop(timeout=30, expected=("AddressSanitizer: SEGV",))
            return
        with h.connect(srv.port) as s:
            port = s.getsockname()[1]
            s.settimeout(2)
            t0 = time.monotonic()
            try:
                eof = s.recv(1) == b""
            except ConnectionResetError:
                eof = True
            except OSError:
                eof = False
            h.check(eof, "a client of the failing worker was kept waiting")
            h.log("%s: a new connection closed after %.2f s"
                  % (mode, time.monotonic() - t0))
        srv.wait_log(r"\(peer 127\.0\.0\.1:%d\): worker 0 is backing off "
                     r"after failures \(next start in \d+ s\); closing"
                     % port, timeout=5)
        # An ASan build reports the SEGV the plugin raised on purpose.
        srv.stop(timeout=30, expected=("AddressSanitizer: SEGV",))


def main():
    run("crash_start")
    run("fail_start")


if __name__ == "__main__":
    h.main(main)
