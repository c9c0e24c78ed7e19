"""test_stats.py: swx_stats and swx_stats_json from a worker.

- the JSON names the master and the manager, and every process by id with
  its kind (worker, task, process), pid and state; worker_num and
  task_worker_num are the config's; start_time is now-ish;
- request_count counts every delivery to on_receive: K commands on one
  connection add exactly K to its worker's count and to the total, and
  nothing to the other worker's;
- tasking_num, task_queue_num and task_idle_worker_num follow tasks:
  three tasks for a blocked task worker are 3 tasking, 2 queued, 1 busy
  task worker; then all back to 0 once it is released; the task worker's
  own request_count grows by 3;
- swx_stats (the struct) agrees with the JSON.
"""

import time

from task_helper import (PROCESSES, Server, TABLES, check, conns_per_worker,
                         run, wait_value)

K = 25


def by_id(st):
    return {w["id"]: w for w in st["workers"]}


def main():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 3}
    with Server("stats", server=cfg, tables=TABLES,
                processes=PROCESSES) as srv:
        srv.start()
        roles = srv.wait_roles()
        conns = conns_per_worker(srv.port, 2)
        c = conns[0]
        st = c.stats()
        check(st["worker_num"] == 2 and st["task_worker_num"] == 3,
              "counts: %r" % {k: st[k] for k in ("worker_num",
                                                 "task_worker_num")})
        check(st["master_pid"] == srv.pid, "master_pid")
        check(st["manager_pid"] == srv.manager_pid(), "manager_pid")
        check(abs(st["start_time"] - time.time()) < 600, "start_time")
        ws = by_id(st)
        check(sorted(ws) == list(range(6)), "ids: %r" % sorted(ws))
        kinds = [ws[i]["kind"] for i in range(6)]
        check(kinds == ["worker"] * 2 + ["task"] * 3 + ["process"],
              "kinds: %r" % kinds)
        want = {0: roles[("worker", 0)], 1: roles[("worker", 1)],
                2: roles[("task", 0)], 3: roles[("task", 1)],
                4: roles[("task", 2)], 5: roles[("process", "ticker 0")]}
        check({i: ws[i]["pid"] for i in range(6)} == want, "pids")
        check(st["task_idle_worker_num"] == 3 and st["tasking_num"] == 0,
              "idle task workers at start")

        s1 = c.stats()
        for _ in range(K):
            c.pid()
        s2 = c.stats()
        d0 = by_id(s2)[0]["request_count"] - by_id(s1)[0]["request_count"]
        d1 = by_id(s2)[1]["request_count"] - by_id(s1)[1]["request_count"]
        check(d0 == K + 1, "worker 0 counted %d requests for %d" % (d0, K + 1))
        check(d1 == 0, "worker 1 counted %d requests for none" % d1)
        check(s2["request_count"] - s1["request_count"] == K + 1,
              "request_count total")

        c.expect("gate 0", "gate 0")
        t0 = by_id(c.stats())[2]["request_count"]
        for i in range(3):
            c.expect("task 0 block s%d" % i, "task ")
        wait_value(lambda: (lambda s: (s["tasking_num"], s["task_queue_num"],
                                       s["task_idle_worker_num"]))(c.st()),
                   (3, 2, 2), what="3 tasking, 2 queued, 2 idle")
        js = c.stats()
        check(js["tasking_num"] == 3 and js["task_queue_num"] == 2 and
              by_id(js)[2]["state"] == "busy", "JSON while blocked: %r"
              % {k: js[k] for k in ("tasking_num", "task_queue_num")})
        c.expect("gate 1", "gate 1")
        for _ in range(3):
            check(c.line().startswith("finish "), "block results")
        wait_value(lambda: c.st()["tasking_num"], 0, what="tasking_num 0")
        st = c.stats()
        check(by_id(st)[2]["request_count"] - t0 == 3,
              "task worker 0 counted %d tasks for 3"
              % (by_id(st)[2]["request_count"] - t0))
        check(st["task_idle_worker_num"] == 3 and st["task_queue_num"] == 0,
              "idle again")
        s = c.st()
        check(s["worker_num"] == 2 and s["task_worker_num"] == 3 and
              s["start_time"] == st["start_time"], "swx_stats: %r" % s)
        for x in conns.values():
            x.close()
        srv.stop()


if __name__ == "__main__":
    run(main)
