"""test_max_request_grace.py: max_request_grace spreads the workers'
recycling points, with Swoole's rule: each process draws its own
max_request in [max_request + 1, max_request + max_request_grace].

- max_request 20, grace 10, one worker, one client asking "pid" over and
  over: every complete life of the worker served between 21 and 30
  requests (counted by the client), the lives do not all serve the same
  number, each matches what its process logged it drew, and /stats counts
  every recycle in restarts.max_request.
- max_request 12 without a grace: Swoole's default grace, half of it (6),
  so four workers draw in [13, 18]; task_max_request 40 the same (20).
- max_request 10 (not above 10): no default grace; a grace of 0 keeps
  max_request exact."""

from ops_helper import h
import ops_helper as o

N, GRACE = 20, 10
REQUESTS = 330     # about 13 lives


def server(name, **cfg):
    admin = {"host": "127.0.0.1", "port": h.free_port()}
    return o.Server(name, admin=admin, plugins=[{"name": "probe",
                                                 "path": h.PROBE}],
                    server=dict({"reactor_num": 1, "log_level": "debug"},
                                **cfg))


def drawn(srv, role, count):
    """{pid: max_request drawn} from the debug lines of count processes."""
    rx = (r"\] (\d+) %s: %s for this process: (\d+)$"
          % (role, "task_max_request" if role.startswith("task")
             else "max_request"))
    return {int(m.group(1)): int(m.group(2))
            for m in srv.wait_log(rx, count=count)}


def ask(srv, s):
    """The pid that served one request; in base mode on a connection of
    its own, since a connection stays with the worker that accepted it
    (one that left at max_request serves it to the end)."""
    if not h.base_mode():
        return h.ask_pid(s)[1]
    with h.connect(srv.port, timeout=20) as c:
        return h.ask_pid(c)[1]


def lives(srv):
    """The client's count of requests served by each worker pid, in
    order."""
    seen = []
    with h.connect(srv.port, timeout=20) as s:
        for _ in range(REQUESTS):
            pid = ask(srv, s)
            if seen and seen[-1][0] == pid:
                seen[-1][1] += 1
            else:
                seen.append([pid, 1])
    return seen


def spread():
    with server("grace", worker_num=1, max_request=N,
                max_request_grace=GRACE) as srv:
        srv.start()
        seen = lives(srv)
        done = seen[:-1]   # the last life is still going
        o.check(len(done) >= 8, "only %d lives in %d requests"
                % (len(done), REQUESTS))
        picks = drawn(srv, "worker 0", len(seen))
        h.log("requests per life: %s" % [n for _, n in done])
        for pid, n in done:
            o.check(N + 1 <= n <= N + GRACE, "pid %d served %d requests, "
                    "not in [%d, %d]" % (pid, n, N + 1, N + GRACE))
            o.check(picks.get(pid) == n, "pid %d served %d, drew %r"
                    % (pid, n, picks.get(pid)))
            srv.wait_log(r"\] %d worker 0: max_request \(%d: %d \+ %d within "
                         r"its grace\) reached; exiting"
                         % (pid, n, N, n - N))
        o.check(len({n for _, n in done}) > 1, "every life served %d "
                "requests: no spread" % done[0][1])
        # The last life may have ended too, with the client's last answer.
        h.wait_until(lambda: o.stats(srv.admin)["restarts"]["max_request"]
                     >= len(done), 20, what="restarts.max_request %d"
                     % len(done))
        count = o.stats(srv.admin)["restarts"]["max_request"]
        o.check(count <= len(done) + 1, "restarts.max_request %d after %d "
                "lives" % (count, len(done)))
        srv.stop()


def default_grace():
    with server("grace-default", worker_num=4, task_worker_num=2,
                max_request=12, task_max_request=40) as srv:
        srv.start()
        for pid, n in drawn(srv, r"worker \d", 4).items():
            o.check(13 <= n <= 18, "worker pid %d drew %d" % (pid, n))
        for pid, n in drawn(srv, r"task \d", 2).items():
            o.check(41 <= n <= 60, "task worker pid %d drew %d" % (pid, n))
        srv.stop()


def no_grace():
    with server("grace-none", worker_num=2, max_request=10,
                task_worker_num=1, task_max_request=30,
                task_max_request_grace=0) as srv:
        srv.start()
        picks = drawn(srv, r"worker \d", 2)
        o.check(set(picks.values()) == {10}, "max_request 10 drew %s" % picks)
        o.check(set(drawn(srv, r"task \d", 1).values()) == {30},
                "task_max_request with grace 0 is not exact")
        srv.stop()


def main():
    spread()
    default_grace()
    no_grace()


if __name__ == "__main__":
    h.main(main)
