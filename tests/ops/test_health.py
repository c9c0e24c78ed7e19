"""test_health.py: the admin endpoint's GET /health.

- In normal running: 200, JSON with status "ok", uptime, the workers, task
  workers and user processes up and expected, no back-off, no failed
  plugin or start.
- Behind the token on TCP (401 without it); other methods 405.
- During a stop that waits for a busy worker: 503 "stopping".
- Over a Unix socket without a token, too."""

import json
import os
import signal
import threading
import time

from ops_helper import h
import ops_helper as o

FIELDS = {"status": str, "uptime": int, "workers": dict,
          "task_workers": dict, "processes": dict, "backing_off": int,
          "failed_plugins": list, "failed_starts": list}


def health(admin, token=o.TOKEN):
    status, headers, body = o.admin_call(admin, "GET", "/health",
                                         token=token)
    return status, headers, body


def check_ok(admin, workers, tasks):
    status, headers, body = health(admin)
    o.check(status == 200, "GET /health: %d %s" % (status, body))
    o.check(headers.get("Content-Type") == "application/json",
            "Content-Type %r" % headers.get("Content-Type"))
    hl = json.loads(body)
    for k, t in FIELDS.items():
        o.check(isinstance(hl.get(k), t), "/health: %s is %r" % (k, hl.get(k)))
    o.check(hl["status"] == "ok", "status %r" % hl["status"])
    o.check(hl["workers"] == {"up": workers, "expected": workers},
            "workers %s" % hl["workers"])
    o.check(hl["task_workers"] == {"up": tasks, "expected": tasks},
            "task_workers %s" % hl["task_workers"])
    o.check(hl["processes"] == {"up": 0, "expected": 0}, "processes")
    o.check(hl["backing_off"] == 0 and hl["failed_plugins"] == [] and
            hl["failed_starts"] == [], "failures in %s" % hl)
    return hl


def all_up(admin, workers, tasks):
    """/health answers 200 and counts every process up: on a loaded
    machine a task worker was once counted up only a moment after the
    master's ready line."""
    status, _, body = health(admin)
    if status != 200:
        return False
    hl = json.loads(body)
    return (hl.get("workers", {}).get("up") == workers and
            hl.get("task_workers", {}).get("up") == tasks)


def tcp():
    with o.Server("health", server={"worker_num": 2, "reactor_num": 1,
                                    "task_worker_num": 1},
                  admin={"host": "127.0.0.1", "port": h.free_port()}) as srv:
        srv.plugins = [{"name": "probe", "path": h.PROBE}]
        srv.write_config()
        srv.start()
        a = srv.admin
        h.wait_until(lambda: all_up(a, 2, 1), 20, what="/health: all up")
        hl = check_ok(a, 2, 1)
        h.log("/health: %s" % json.dumps(hl))
        status, _, _ = health(a, token=None)
        o.check(status == 401, "without the token: %d" % status)
        status, _, _ = health(a, token="wrong-token")
        o.check(status == 401, "with a wrong token: %d" % status)
        status, _ = o.admin_request(a, "POST", "/health")
        o.check(status == 405, "POST /health: %d" % status)

        # A request held by a worker keeps the stop waiting.
        s = h.connect(srv.port)
        s.sendall(b"sleep 1500 done\n")
        time.sleep(0.3)
        procs = srv.tree()
        os.kill(srv.pid, signal.SIGTERM)
        srv.wait_log(r"SIGTERM: stopping", 5)
        status, _, body = health(a)
        o.check(status == 503 and json.loads(body)["status"] == "stopping",
                "during the stop: %d %s" % (status, body))
        o.check(h.recv_line(s) == b"done\n", "the held request")
        s.close()
        rc = srv.proc.wait(30)
        o.check(rc == 0, "exit status %d" % rc)
        srv.check_no_leftovers(procs)
        h.log("during the stop: 503 stopping")


def unix():
    with o.Server("health_unix", server={"worker_num": 1}) as srv:
        path = os.path.join(srv.dir, "admin.sock")
        srv.admin_cfg = {"unix": path}
        srv.write_config()
        srv.start()
        h.wait_until(lambda: health(path, token=None)[0] == 200, 20,
                     what="/health ok on the Unix socket")
        srv.stop()


def main():
    tcp()
    unix()


if __name__ == "__main__":
    h.main(main)
