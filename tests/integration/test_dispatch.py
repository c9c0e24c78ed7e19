"""test_dispatch.py: the three dispatch modes.

mode 2 (fixed): every message of a connection reaches the same worker, and
on_connect/on_close are delivered; mode 1 (round robin): the messages of one
connection reach more than one worker, and on_connect/on_close are not
delivered; mode 3 (preemptive): while one worker is busy, another
connection's messages are served by an idle worker at once."""

import re

import swx_harness as h

WORKERS = 2
ROUNDS = 20


def probe_server(mode, reactors=2):
    return h.Server("mode%d" % mode,
                    server={"worker_num": WORKERS, "reactor_num": reactors,
                            "dispatch_mode": mode, "log_level": "debug"},
                    plugins=[{"name": "probe", "path": h.PROBE}])


def conn_events(srv):
    text = srv.log_text()
    return (len(re.findall(r"probe: session \d+: connect from", text)),
            len(re.findall(r"probe: session \d+: close$", text, re.M)))


def mode_fixed():
    with probe_server(2) as srv:
        srv.start()
        socks, per_conn = [], []
        try:
            # Connections kept open have distinct fds, so (fd % workers)
            # soon covers every worker.
            while (len(socks) < 4 or set(per_conn) != set(
                    srv.workers().values())) and len(socks) < 20:
                s = h.connect(srv.port)
                socks.append(s)
                pids = {h.ask_pid(s)[1] for _ in range(ROUNDS)}
                h.check(len(pids) == 1, "mode 2: one connection reached "
                        "workers %s" % sorted(pids))
                per_conn.append(pids.pop())
            h.log("mode 2: connections served by %s" % per_conn)
            h.check(set(per_conn) == set(srv.workers().values()),
                    "mode 2: %d connections did not reach every worker: %s"
                    % (len(socks), per_conn))
        finally:
            for s in socks:
                s.close()
        # The readiness probe's connection and our 4: connect and close
        # events reach the plugin.
        srv.wait_log(r"probe: session \d+: close$", count=len(socks) + 1)
        connects, closes = conn_events(srv)
        h.check(connects >= 5, "mode 2: %d on_connect calls" % connects)
        srv.stop()


def mode_round_robin():
    with probe_server(1) as srv:
        srv.start()
        with h.connect(srv.port) as s:
            seq = [h.ask_pid(s)[1] for _ in range(ROUNDS)]
        h.log("mode 1: one connection served by %s" % seq)
        h.check(len(set(seq)) == WORKERS, "mode 1: one connection reached "
                "only %s" % sorted(set(seq)))
        h.check(all(a != b for a, b in zip(seq, seq[1:])),
                "mode 1: round robin should alternate between 2 workers: %s"
                % seq)
        srv.stop()
        h.check(conn_events(srv) == (0, 0), "mode 1: on_connect/on_close "
                "delivered: %s" % (conn_events(srv),))


def mode_preemptive():
    with probe_server(3) as srv:
        srv.start()
        workers = set(srv.workers().values())
        x = h.connect(srv.port, timeout=30)
        try:
            # Long enough for six connections to be served meanwhile,
            # even in a sanitizer build on a loaded machine.
            nap = 8000 if h.is_sanitized() else 3000
            x.sendall(b"sleep %d X-DONE\n" % nap)
            m = srv.wait_log(r"\] (\d+) worker \d+: probe: session \d+: "
                             r"sleeping %d ms" % nap)[0]
            busy = int(m.group(1))
            h.check(busy in workers, "the sleeping pid %d is not a worker"
                    % busy)
            # Several other connections, each from its own reactor in turn:
            # every message must go to the idle worker.
            served = []
            for _ in range(6):
                with h.connect(srv.port, timeout=10) as y:
                    served.append(h.ask_pid(y)[1])
            x.setblocking(False)
            try:
                early = x.recv(100)
            except BlockingIOError:
                early = None
            h.check(early is None, "X's reply came before the other "
                    "requests were done (%r): the test is not measuring "
                    "preemption" % early)
            h.log("mode 3: worker %d busy; others served by %s"
                  % (busy, served))
            h.check(busy not in served, "mode 3: a request went to the busy "
                    "worker %d: %s" % (busy, served))
            x.settimeout(30)
            h.check(h.recv_line(x) == b"X-DONE\n", "X's reply")
        finally:
            x.close()
        srv.stop()
        h.check(conn_events(srv) == (0, 0), "mode 3: on_connect/on_close "
                "delivered: %s" % (conn_events(srv),))


def main():
    h.process_mode_only(
        "dispatch_mode does not apply: every event of a connection goes to the worker that accepted it")
    mode_fixed()
    mode_round_robin()
    mode_preemptive()


if __name__ == "__main__":
    h.main(main)
