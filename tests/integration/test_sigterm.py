"""test_sigterm.py: SIGTERM (and SIGINT) stop the server gracefully under
load: the master exits 0 within a few seconds, every worker ran
on_worker_stop, no process of the tree is left, and the port can be bound
again at once."""

import os
import signal
import socket
import threading
import time

import swx_harness as h

WORKERS = 3


def load(port, stop, counts):
    try:
        with h.connect(port, timeout=20) as s:
            while not stop.is_set():
                h.request(s, b"ping\n")
                counts.append(1)
    except (OSError, h.TestFailure):
        pass  # the server closes connections as it stops


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((h.HOST, port))
            s.listen(1)
        except OSError as e:
            raise h.TestFailure("port %d cannot be bound again right after "
                                "the stop: %s" % (port, e))


def stop_lines(path):
    try:
        with open(path) as f:
            return [tuple(int(x) for x in line.split()[1:])
                    for line in f if line.startswith("stop ")]
    except FileNotFoundError:
        return []


def run(sig):
    with h.Server("stop-%s" % sig.name, server={"worker_num": WORKERS,
                                                "reactor_num": 2}) as srv:
        stop_file = os.path.join(srv.dir, "stopped")
        srv.plugins = [{"name": "probe", "path": h.PROBE,
                        "config": {"stop_file": stop_file}}]
        srv.write_config()
        srv.start()
        workers = srv.workers()
        stop = threading.Event()
        counts = []
        threads = [threading.Thread(target=load, args=(srv.port, stop, counts),
                                    daemon=True) for _ in range(6)]
        for t in threads:
            t.start()
        h.wait_until(lambda: len(counts) >= 300, 60, what="some load")
        tree = srv.tree()
        h.check(len(tree) == WORKERS + 1, "expected a manager and %d workers"
                " under the master, found %s" % (WORKERS, tree))
        t0 = time.monotonic()
        srv.stop(timeout=20, sig=sig)   # exit 0, no leftovers, clean log
        h.log("%s: master exited 0 in %.2f s after %d requests"
              % (sig.name, time.monotonic() - t0, len(counts)))
        stop.set()
        for t in threads:
            t.join(20)
        port_free(srv.port)
        got = sorted(stop_lines(stop_file))
        want = sorted(workers.items())
        h.check(got == want, "on_worker_stop lines %s, expected one per "
                "worker %s" % (got, want))


def in_flight():
    """A request inside a worker when SIGTERM arrives still gets its reply
    (the worker finishes the callback and flushes before it exits), then
    the connection is closed; an idle connection is just closed."""
    probe = {"name": "probe", "path": h.PROBE}
    with h.Server("stop-inflight", server={"worker_num": 2, "reactor_num": 2},
                  plugins=[probe]) as srv:
        srv.start()
        busy = h.connect(srv.port, timeout=30)
        idle = h.connect(srv.port, timeout=30)
        try:
            h.check(h.request(idle, b"hi\n") == b"hi\n", "idle echo")
            busy.sendall(b"sleep 1000 DRAINED\n")
            srv.wait_log(r"probe: session \d+: sleeping 1000 ms")
            srv.stop(timeout=30)
            got = bytearray()
            while True:
                b = busy.recv(4096)
                if not b:
                    break
                got += b
            h.check(bytes(got) == b"DRAINED\n", "the in-flight request's "
                    "reply: %r, expected b'DRAINED\\n' then EOF" % bytes(got))
            h.check(idle.recv(100) == b"", "the idle connection was not "
                    "closed")
        finally:
            busy.close()
            idle.close()


def master_killed():
    """Even a master killed with SIGKILL leaves nothing behind: the manager
    and the workers get SIGTERM from PR_SET_PDEATHSIG and stop."""
    with h.Server("stop-kill9", server={"worker_num": 2,
                                        "reactor_num": 2}) as srv:
        srv.start()
        tree = srv.tree()
        os.kill(srv.pid, signal.SIGKILL)
        srv.proc.wait(10)

        wait_gone(tree, "the manager and workers to exit after the master "
                  "was killed")
        h.log("master SIGKILLed: %d children gone" % len(tree))
        port_free(srv.port)


def wait_gone(pids, what, timeout=20):
    """Wait until none of pids exists, reaping those re-parented to this
    process (a subreaper) as they exit."""
    def gone():
        for p in pids:
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
        return not any(h.proc_stat(p) for p in pids)
    h.wait_until(gone, timeout, what="%s (pids %s)" % (what, pids))


def manager_killed():
    """A manager killed with SIGKILL is an error: the master logs it and
    stops with status 1; the workers stop too (PR_SET_PDEATHSIG)."""
    with h.Server("stop-mgr", server={"worker_num": 2,
                                      "reactor_num": 2}) as srv:
        srv.start()
        mgr = srv.manager_pid()
        workers = list(srv.workers().values())
        with h.connect(srv.port, timeout=20) as s:
            os.kill(mgr, signal.SIGKILL)
            try:
                rc = srv.proc.wait(20)
            except Exception:
                raise h.TestFailure("the master did not stop after its "
                                    "manager was killed")
            h.check(rc == 1, "master exited %d after its manager was "
                    "killed, expected 1" % rc)
            s.settimeout(10)
            try:
                h.check(s.recv(10) == b"", "open connection not closed")
            except ConnectionResetError:
                pass
        srv.wait_log(r"manager \(pid %d\) killed by signal 9" % mgr)
        wait_gone(workers, "the workers to exit after the manager was "
                  "killed")
        srv.check_no_leftovers([mgr] + workers)
        srv.check_log_clean()
        port_free(srv.port)
        h.log("manager SIGKILLed: master exited 1, workers gone")


def stuck_worker():
    """A worker stuck in a callback longer than max_wait_time is killed, and
    the stop still completes with exit 0 and nothing left behind."""
    probe = {"name": "probe", "path": h.PROBE}
    with h.Server("stop-stuck", server={"worker_num": 2, "reactor_num": 1,
                                        "max_wait_time": 1},
                  plugins=[probe]) as srv:
        srv.start()
        with h.connect(srv.port, timeout=30) as s:
            s.sendall(b"sleep 30000 NEVER\n")
            srv.wait_log(r"probe: session \d+: sleeping 30000 ms")
            t0 = time.monotonic()
            srv.stop(timeout=20)
            took = time.monotonic() - t0
        srv.wait_log(r"max_wait_time \(1 s\) passed; killing")
        h.log("a worker stuck in a callback: stopped in %.1f s with "
              "max_wait_time 1" % took)
        h.check(took < 15, "the stop took %.1f s with a stuck worker and "
                "max_wait_time 1" % took)


def main():
    stuck_worker()
    manager_killed()
    master_killed()
    run(signal.SIGTERM)
    run(signal.SIGINT)
    in_flight()


if __name__ == "__main__":
    h.main(main)
