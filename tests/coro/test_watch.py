"""test_watch.py: max_execution_time counts a callback's running time, not
the time it waits in its coroutine. Callbacks that sleep in swx_co_sleep
for 2.5 times the limit (three at once) are answered by the same worker
and nothing is logged; one that sleeps, then runs briefly, too. One that
sleeps and then spins past the limit (its record comes back when it
resumes), and one that spins at once, are killed: logged past
max_execution_time, their clients closed, the worker replaced."""

import socket
import threading

from coro_helper import h, ask, check, fields, log, server, SLOW

LIMIT = 1


def work(port, nap, spin, timeout=30.0):
    """The reply to "work nap spin", or "" when the connection closed."""
    s = h.connect(port, timeout)
    try:
        s.sendall(b"work %d %d\n" % (nap, spin))
        data = b""
        while not data.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            data += b
        return data.decode().strip()
    except (ConnectionResetError, socket.timeout):
        return ""
    finally:
        s.close()


def pid_of(port):
    r = ask(port, "ping", timeout=10)
    check(r.startswith("pong "), "no pong: %r" % r)
    return int(r.split()[1])


def killed(srv, port, nap, spin, count, old_pid):
    r = work(port, nap, spin)
    check(r == "", "work %d %d answered %r: not killed" % (nap, spin, r))
    srv.wait_log(r"on_receive of plugin \"coprobe\".* has run for "
                 r"\d+ ms, past max_execution_time", 10, count)

    def replaced():
        try:
            p = pid_of(port)
        except (OSError, h.TestFailure):
            return None
        return p if p != old_pid else None
    pid = h.wait_until(replaced, 20, what="a new worker")
    log("work %d %d: killed; worker %d replaced by %d"
        % (nap, spin, old_pid, pid))
    return pid


def main():
    with server("co-watch", {"worker_num": 1,
                             "max_execution_time": LIMIT}) as srv:
        srv.start()
        port = srv.port
        pid = pid_of(port)
        replies = []

        def nap():
            replies.append(work(port, 2500, 0))

        threads = [threading.Thread(target=nap) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        check(len(replies) == 3, "%d of 3 sleepers answered" % len(replies))
        for r in replies:
            f = fields(r)
            check(f.get("rc") == "0" and f.get("pid") == str(pid),
                  "a sleeper: %r (worker %d)" % (r, pid))
        r = fields(work(port, 1500, 300 if not SLOW else 200))
        check(r.get("rc") == "0" and r.get("pid") == str(pid),
              "sleep then a short run: %r" % r)
        check("max_execution_time" not in srv.log_text(),
              "a waiting callback was taken for a stuck one")
        pid = killed(srv, port, 1500, 4000, 1, pid)
        killed(srv, port, 0, 4000, 2, pid)
        srv.stop()


h.main(main)
