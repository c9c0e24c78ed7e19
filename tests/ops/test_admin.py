"""test_admin.py: the admin endpoint.

- GET /stats is JSON with the documented fields; master_pid, manager_pid
  and the workers' pids are the real ones; connection_num, accept_count,
  close_count, request_count (in all and per worker) move as connections
  come and go and requests are served.
- A worker killed with SIGKILL shows in worker_restarts and its starts.
- POST /reload reloads (reload_count, new pids, starts) with 202.
- Other paths are 404, other methods 405, a malformed request 400.
- Every reply carries Server: swx and the Date, and closes.
- A config asking for a public address without allow_public is refused.
- The same over a Unix socket, which is removed when the server stops."""

import os
import signal
import socket

from ops_helper import h
import ops_helper as o

WORKERS = 2
TOP_FIELDS = {"version": str, "master_pid": int, "manager_pid": int,
              "start_time": int, "uptime": int, "connection_num": int,
              "accept_count": int, "close_count": int, "request_count": int,
              "dispatch_count": int, "worker_num": int,
              "idle_worker_num": int, "task_worker_num": int,
              "reload_count": int, "worker_restarts": int, "workers": list,
              "restarts": dict, "concurrency": int,
              "concurrency_rejected": int}
WORKER_FIELDS = {"id": int, "pid": int, "state": str, "request_count": int,
                 "starts": int, "rss": int}


def check_shape(st):
    for k, t in TOP_FIELDS.items():
        o.check(isinstance(st.get(k), t), "/stats: %s is %r, expected %s"
                % (k, st.get(k), t.__name__))
    # workers[] lists every process id the manager keeps; the workers
    # (kind "worker") come first.
    workers = [w for w in st["workers"] if w.get("kind", "worker") == "worker"]
    o.check(len(workers) == st["worker_num"], "workers[]: %d of kind "
            "worker, worker_num %d" % (len(workers), st["worker_num"]))
    for w in st["workers"]:
        for k, t in WORKER_FIELDS.items():
            o.check(isinstance(w.get(k), t), "/stats: workers[].%s is %r"
                    % (k, w.get(k)))
        o.check(w["state"] in ("idle", "busy", "backoff", "down"), "state %r"
                % w["state"])


def worker_pids(st):
    return {w["id"]: w["pid"] for w in st["workers"]
            if w.get("kind", "worker") == "worker"}


def raw(admin_port, data):
    """Send raw bytes to the admin port; the status code of the reply."""
    with socket.create_connection((h.HOST, admin_port), timeout=20) as s:
        s.sendall(data)
        reply = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            reply += b
    return int(reply.split(b" ", 2)[1])


def tcp_endpoint():
    with o.Server("admin", server={"worker_num": WORKERS, "reactor_num": 2},
                  admin={"host": "127.0.0.1", "port": h.free_port()}) as srv:
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.write_config()
        srv.start()
        a = srv.admin
        h.wait_until(lambda: o.stats(a)["connection_num"] == 0, 20,
                     what="connection_num 0")
        st0 = o.stats(a)
        check_shape(st0)
        o.check(st0["master_pid"] == srv.pid, "master_pid %d, expected %d"
                % (st0["master_pid"], srv.pid))
        o.check(st0["manager_pid"] == srv.manager_pid(), "manager_pid")
        o.check(worker_pids(st0) == srv.workers(), "workers' pids %s, "
                "expected %s" % (worker_pids(st0), srv.workers()))
        o.check(st0["worker_num"] == WORKERS and st0["reload_count"] == 0
                and st0["worker_restarts"] == 0 and
                st0["request_count"] == 0, "initial figures: %s" % st0)
        o.check(all(w["starts"] == 1 for w in st0["workers"]), "starts")
        o.check(0 <= st0["uptime"] < 3600, "uptime %s" % st0["uptime"])

        # Three connections, 10 requests each.
        conns = [h.connect(srv.port) for _ in range(3)]
        for i, s in enumerate(conns):
            for k in range(10):
                msg = b"c%d r%d\n" % (i, k)
                o.check(h.request(s, msg) == b"v1:" + msg, "reply")
        h.wait_until(lambda: o.stats(a)["connection_num"] == 3, 20,
                     what="connection_num 3")
        st1 = o.stats(a)
        o.check(st1["request_count"] == 30, "request_count %d after 30 "
                "requests" % st1["request_count"])
        o.check(sum(w["request_count"] for w in st1["workers"]) == 30,
                "per-worker request_count does not add up")
        o.check(st1["dispatch_count"] - st0["dispatch_count"] == 30,
                "dispatch_count moved by %d"
                % (st1["dispatch_count"] - st0["dispatch_count"]))
        o.check(st1["accept_count"] - st0["accept_count"] == 3,
                "accept_count moved by %d"
                % (st1["accept_count"] - st0["accept_count"]))
        for s in conns:
            s.close()
        h.wait_until(lambda: o.stats(a)["connection_num"] == 0, 20,
                     what="connection_num back to 0")
        st2 = o.stats(a)
        o.check(st2["close_count"] - st1["close_count"] == 3,
                "close_count moved by %d"
                % (st2["close_count"] - st1["close_count"]))
        h.log("3 connections, 30 requests: connection_num 3 -> 0, "
              "request_count %d, accept +3, close +3" % st2["request_count"])

        # A worker killed: restarts and starts move.
        victim_id, victim = 0, worker_pids(st2)[0]
        os.kill(victim, signal.SIGKILL)
        h.wait_until(lambda: o.stats(a)["workers"][victim_id]["pid"]
                     not in (0, victim), 30, what="a new worker 0")
        st3 = o.stats(a)
        o.check(st3["worker_restarts"] == 1, "worker_restarts %d"
                % st3["worker_restarts"])
        o.check(st3["workers"][victim_id]["starts"] == 2, "starts %d"
                % st3["workers"][victim_id]["starts"])
        o.check(st3["workers"][victim_id]["request_count"] ==
                st2["workers"][victim_id]["request_count"],
                "a worker's request_count is lost when it is replaced")

        # POST /reload.
        before = worker_pids(st3)
        o.post_reload(a)
        srv.wait_log(r"admin: reload requested")
        h.wait_until(lambda: o.stats(a)["reload_count"] == 1, 60,
                     what="reload_count 1")
        srv.wait_log(r"reload done")
        st4 = o.stats(a)
        o.check(not set(worker_pids(st4).values()) & set(before.values()),
                "the reload kept worker pids: %s -> %s"
                % (before, worker_pids(st4)))
        o.check([w["starts"] for w in st4["workers"]] == [3, 2],
                "starts after the reload: %s"
                % [w["starts"] for w in st4["workers"]])
        o.check(st4["worker_restarts"] == 1, "a reload counted as restarts")
        h.log("POST /reload: reload_count 1, workers %s -> %s"
              % (before, worker_pids(st4)))

        for method, path, want in (("GET", "/", 404), ("GET", "/nope", 404),
                                   ("POST", "/stats", 405),
                                   ("GET", "/reload", 405),
                                   ("DELETE", "/stats", 405),
                                   ("GET", "/stats?x=1", 200)):
            status, hdrs, body = o.admin_call(a, method, path)
            o.check(status == want, "%s %s: %d, expected %d (%s)"
                    % (method, path, status, want, body))
            h.check_server_date(hdrs.get, "%s %s" % (method, path))
            o.check(hdrs.get("Connection") == "close" and
                    hdrs.get("Content-Type") == "application/json" and
                    hdrs.get("Content-Length") == str(len(body)),
                    "%s %s: %s" % (method, path, dict(hdrs)))
        o.check(raw(a, b"nonsense\r\n\r\n") == 400, "a malformed request "
                "is not answered 400")
        o.check(o.stats(a)["reload_count"] == 1, "GET /reload reloaded")
        h.log("404, 405 and 400 as documented")
        srv.stop()


def public_refused():
    with o.Server("admin-public", admin={"host": "0.0.0.0",
                                         "port": h.free_port()}) as srv:
        rc, out, err = srv.check_config()
        o.check(rc != 0 and "admin.host" in err and "allow_public" in err,
                "a public admin address without allow_public: exit %d, %r"
                % (rc, err))
        h.log("public address refused: %s" % err.strip())


def unix_endpoint():
    with o.Server("admin-unix", server={"worker_num": 1, "reactor_num": 1},
                  admin={"unix": "placeholder"}) as srv:
        path = os.path.join(srv.dir, "admin.sock")
        srv.admin_cfg = {"unix": path}
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.write_config()
        srv.start()
        st = o.stats(path)
        check_shape(st)
        o.check(st["master_pid"] == srv.pid, "master_pid over the socket")
        o.post_reload(path)
        h.wait_until(lambda: o.stats(path)["reload_count"] == 1, 60,
                     what="reload_count 1 over the Unix socket")
        status, _ = o.admin_request(path, "GET", "/missing")
        o.check(status == 404, "404 over the Unix socket")
        srv.stop()
        o.check(not os.path.exists(path), "the admin socket file was left "
                "behind")
        h.log("Unix socket: GET /stats, POST /reload, 404; socket removed "
              "on stop")


def main():
    o.require(o.V1)
    tcp_endpoint()
    public_refused()
    unix_endpoint()


if __name__ == "__main__":
    h.main(main)
