"""test_socket_options.py: Swoole's socket and CPU settings as the kernel
shows them. open_tcp_keepalive with tcp_keepidle: the server's end of a
connection has a keepalive timer of that length (/proc/net/tcp), and none
without the setting; tcp_defer_accept: a client that connects and sends
nothing is not accepted, one that sends is; open_cpu_affinity: every
reactor thread and worker may run on one CPU only, and on all of them
without it; sched_policy "batch": every reactor thread, worker and task
worker is SCHED_BATCH while the master's main thread and the manager stay
SCHED_OTHER, and everything is SCHED_OTHER without it."""

import os
import re
import socket
import time

import swx_harness as h

WORKERS = 2


def tcp_timer(server_port, client_port):
    """(timer kind, remaining jiffies) of the server's socket of the
    connection from client_port, from /proc/net/tcp."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            local, remote = cols[1], cols[2]
            if (int(local.split(":")[1], 16) == server_port and
                    int(remote.split(":")[1], 16) == client_port):
                kind, when = cols[5].split(":")
                return int(kind, 16), int(when, 16)
    return None


def keepalive(on):
    server = {"worker_num": 1}
    if on:
        server.update(open_tcp_keepalive=True, tcp_keepidle=7,
                      tcp_keepinterval=3, tcp_keepcount=2)
    with h.Server("keepalive", server=server) as srv:
        srv.start()
        with h.connect(srv.port) as s:
            h.check(h.request(s, b"ping\n") == b"ping\n", "echo")
            port = s.getsockname()[1]
            kind, when = h.wait_until(
                lambda: tcp_timer(srv.port, port), 10,
                what="the connection in /proc/net/tcp")
            ticks = os.sysconf("SC_CLK_TCK")
            h.log("keepalive %s: timer %d, %d ticks" % (on, kind, when))
            if on:
                # 2: the keepalive timer, due within tcp_keepidle.
                h.check(kind == 2 and 0 < when <= 7 * ticks,
                        "no 7 s keepalive timer: kind %d, %d ticks"
                        % (kind, when))
            else:
                h.check(kind == 0, "a timer without open_tcp_keepalive: "
                        "kind %d" % kind)
        srv.stop()


def defer_accept():
    with h.Server("defer", server={"worker_num": 1, "tcp_defer_accept": 5,
                                   "log_level": "debug"}) as srv:
        srv.start()
        silent = h.connect(srv.port)
        talker = h.connect(srv.port)
        try:
            talker.sendall(b"hello\n")
            h.check(h.recv_line(talker) == b"hello\n", "echo")
            time.sleep(0.5)
            accepted = r"accept fd=\d+ session=\d+ peer=127\.0\.0\.1:%d "
            h.check(not re.search(accepted % silent.getsockname()[1],
                                  srv.log_text()),
                    "a connection that sent nothing was accepted")
            silent.sendall(b"late\n")
            h.check(h.recv_line(silent) == b"late\n", "echo after data")
            srv.wait_log(accepted % silent.getsockname()[1])
        finally:
            silent.close()
            talker.close()
        srv.stop()


def cpus(path):
    with open(path) as f:
        m = re.search(r"^Cpus_allowed_list:\s*(\S+)", f.read(), re.M)
    spec, n = m.group(1), 0
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def affinity(on):
    with h.Server("affinity", server={"worker_num": WORKERS, "reactor_num": 2,
                                      "open_cpu_affinity": on}) as srv:
        srv.start()
        total = os.cpu_count()
        workers = srv.workers()
        per_worker = [cpus("/proc/%d/status" % p) for p in workers.values()]
        tasks = os.listdir("/proc/%d/task" % srv.pid)
        per_thread = [cpus("/proc/%d/task/%s/status" % (srv.pid, t))
                      for t in tasks if int(t) != srv.pid]
        h.log("open_cpu_affinity %s: workers %s, threads %s (of %d CPUs)"
              % (on, per_worker, per_thread, total))
        if on:
            h.check(per_worker == [1] * WORKERS, "workers not pinned: %s"
                    % per_worker)
            h.check(per_thread.count(1) >= 2 or h.base_mode(),
                    "reactor threads not pinned: %s" % per_thread)
        elif total > 1:
            h.check(all(n == total for n in per_worker + per_thread),
                    "pinned without open_cpu_affinity: %s %s"
                    % (per_worker, per_thread))
        with h.connect(srv.port) as s:
            h.check(h.request(s, b"ping\n") == b"ping\n", "echo")
        srv.stop()


def policy_of(path):
    """The policy number of /proc/.../sched (0 SCHED_OTHER, 3 SCHED_BATCH)."""
    with open(path) as f:
        return int(re.search(r"^policy\s*:\s*(\d+)", f.read(), re.M).group(1))


def sched(batch):
    server = {"worker_num": WORKERS, "reactor_num": 2, "task_worker_num": 1}
    if batch is not None:
        server["sched_policy"] = "batch" if batch else "other"
    with h.Server("sched", server=server) as srv:
        srv.start()
        mgr = srv.manager_pid()
        kids = {p: h.proc_cmdline(p) for p in h.children_of(mgr)}
        tasks = [p for p, c in kids.items() if c == "swx-server: task worker 0"]
        workers = list(srv.workers().values())
        threads = {int(t): policy_of("/proc/%d/task/%s/sched" % (srv.pid, t))
                   for t in os.listdir("/proc/%d/task" % srv.pid)}
        h.log("sched_policy %s: workers %s, task workers %s, master threads "
              "%s, manager %d" % (batch, [os.sched_getscheduler(p) for p in
                                          workers],
                                  [os.sched_getscheduler(p) for p in tasks],
                                  threads, os.sched_getscheduler(mgr)))
        want = os.SCHED_BATCH if batch else os.SCHED_OTHER
        h.check(len(workers) == WORKERS and len(tasks) == 1,
                "workers %s, task workers %s" % (workers, tasks))
        h.check(all(os.sched_getscheduler(p) == want for p in workers + tasks),
                "workers and task workers not all policy %d" % want)
        h.check(threads.pop(srv.pid) == os.SCHED_OTHER,
                "the master's main thread changed policy")
        h.check(os.sched_getscheduler(mgr) == os.SCHED_OTHER,
                "the manager changed policy")
        if not h.base_mode():
            reactors = [t for t, pol in threads.items() if pol == want]
            h.check(len(reactors) >= 2, "reactor threads not policy %d: %s"
                    % (want, threads))
        with h.connect(srv.port) as s:
            h.check(h.request(s, b"ping\n") == b"ping\n", "echo")
        srv.stop()


def main():
    keepalive(True)
    keepalive(False)
    defer_accept()
    affinity(True)
    affinity(False)
    sched(True)
    sched(False)
    sched(None)


if __name__ == "__main__":
    h.main(main)
