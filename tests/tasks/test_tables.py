"""test_tables.py: a shared table and named counters under concurrent
writers, and a full table.

- every worker and every task worker adds 1 to one row 50 000 times, all
  at once: the row ends at exactly 50 000 x (workers + task workers);
- the same with swx_atomic_add, and with swx_atomic_cmpset loops;
- a table of 8 rows takes 8 keys; the 9th is -ENOSPC (-28), and neither
  it nor a swx_table_incr of a new key changes any of the 8; after a
  delete a new key fits; swx_table_count and swx_table_next agree;
- keys of 64 bytes (-ENAMETOOLONG), unknown columns and columns of another
  type (-EINVAL), strings longer than their column (-E2BIG), a buffer too
  small for swx_table_get_string (-ENOBUFS), a missing row (-ENOENT);
- swx_atomic_wait in a task worker returns once a worker calls
  swx_atomic_wakeup, and -ETIMEDOUT without one.
"""

import re
import threading

from task_helper import (Conn, E2BIG, EINVAL, ENAMETOOLONG, ENOBUFS, ENOENT,
                         ENOSPC, ETIMEDOUT, Server, TABLES, check,
                         conns_per_worker, log, parse_result, run,
                         wait_value)

WORKERS, TASKERS, N = 3, 2, 50000


def concurrently(port, conns, line):
    """Every worker's connection runs line and every task worker gets it
    as a task (sent on another connection), all at the same time. The
    outputs: {("w", worker id) | ("t", task worker): text}."""
    out, errors = {}, []
    go = threading.Barrier(len(conns) + 1)

    def worker(wid, c):
        try:
            go.wait(30)
            out[("w", wid)] = c.cmd(line)
        except Exception as e:  # noqa: BLE001 -- judged below
            errors.append(repr(e))

    def tasks():
        try:
            with Conn(port) as tc:
                go.wait(30)
                for tw in range(TASKERS):
                    tc.send("task %d %s" % (tw, line))
                for x in [tc.line() for _ in range(2 * TASKERS)]:
                    m = re.fullmatch(r"finish (\d+) (.*)", x)
                    if m:
                        text, f = parse_result(m.group(2))
                        out[("t", f["tw"])] = text
        except Exception as e:  # noqa: BLE001 -- judged below
            errors.append(repr(e))
    threads = [threading.Thread(target=worker, args=(w, c))
               for w, c in conns.items()]
    threads.append(threading.Thread(target=tasks))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not errors, "clients failed: %s" % errors)
    check(len(out) == WORKERS + TASKERS, "outputs: %r" % out)
    return out


def hammer(port, conns):
    out = concurrently(port, conns, "tincr counters hammer n %d" % N)
    check(all(v.startswith("tincr 0 ") for v in out.values()),
          "swx_table_incr failed: %r" % out)
    total = N * (WORKERS + TASKERS)
    check(conns[1].cmd("tget counters hammer n") == "tget 0 %d" % total,
          "row after concurrent incr")
    check(max(int(v.split()[2]) for v in out.values()) == total,
          "the last incr should see the total")
    out = concurrently(port, conns, "aadd hammer %d" % N)
    check(conns[2].cmd("aget hammer") == "aget %d" % total,
          "swx_atomic_add total")
    out = concurrently(port, conns, "acas hammer-cas %d" % N)
    lost = sum(int(v.split()[2]) for v in out.values())
    check(conns[2].cmd("aget hammer-cas") == "aget %d" % total,
          "swx_atomic_cmpset total")
    log("  %d increments each way; %d cmpsets lost a race" % (total, lost))


def full_table(c):
    check(c.cmd("tfill small k 8 n") == "tfill 8 0", "8 rows fit")
    check(c.cmd("tfill small k 9 n") == "tfill 8 %d" % ENOSPC,
          "the 9th key: -ENOSPC")
    check(c.cmd("tincr small other n 1") == "tincr %d 0" % ENOSPC,
          "incr of a new key in a full table")
    check(c.cmd("tset small k8 n 5") == "tset %d" % ENOSPC, "set")
    for i in range(8):
        check(c.cmd("tget small k%d n" % i) == "tget 0 %d" % (1000 + i),
              "row k%d changed" % i)
    check(c.cmd("tget small k8 n") == "tget %d 0" % ENOENT, "k8 exists")
    check(c.cmd("tcount small") == "tcount 8", "count")
    check(c.cmd("tdel small k3") == "tdel 0", "delete")
    check(c.cmd("tdel small k3") == "tdel %d" % ENOENT, "delete twice")
    check(c.cmd("tset small k8 n 5") == "tset 0", "a new key after delete")
    keys = sorted(c.cmd("tkeys small").split()[1:])
    check(keys == sorted("k%d" % i for i in (0, 1, 2, 4, 5, 6, 7, 8)),
          "swx_table_next: %r" % keys)


def errors(c):
    long_key = "x" * 64
    check(c.cmd("tset counters %s n 1" % long_key) == "tset %d"
          % ENAMETOOLONG, "64-byte key")
    check(c.cmd("tset counters %s n 1" % long_key[:63]) == "tset 0",
          "63-byte key")
    check(c.cmd("tset counters a nosuch 1") == "tset %d" % EINVAL,
          "unknown column")
    check(c.cmd("tset counters a f 1") == "tset %d" % EINVAL,
          "int into a float column")
    check(c.cmd("tincr counters a s 1") == "tincr %d 0" % EINVAL,
          "incr of a string column")
    check(c.cmd("tsets counters a s %s" % ("y" * 17)) == "tsets %d" % E2BIG,
          "17 bytes into a 16-byte column")
    check(c.cmd("tsets counters a s %s" % ("y" * 16)) == "tsets 0", "16")
    check(c.cmd("tgets counters a s 17") == "tgets 16 %s" % ("y" * 16),
          "get string")
    check(c.cmd("tgets counters a s 16") == "tgets %d " % ENOBUFS,
          "a buffer of 16 for 16 bytes and the NUL")
    check(c.cmd("tget counters nope n") == "tget %d 0" % ENOENT,
          "missing row")
    check(c.cmd("tget counters a f") == "tget 0 0", "a float column of a "
          "new row is 0")


def wait_wakeup(srv, c):
    c.expect("aget event", "aget 0")
    tid = int(c.expect("task 0 await 60000", "task ").split()[1])
    wait_value(lambda: c.st()["task_idle_worker_num"], TASKERS - 1,
               what="task worker 0 waiting")
    woke = c.cmd("wakeup 1")
    check(woke in ("wakeup 0", "wakeup 1"), "swx_atomic_wakeup: %r" % woke)
    line = c.line()
    m = re.fullmatch(r"finish (\d+) (.*)", line)
    check(m is not None and int(m.group(1)) == tid, "await: %r" % line)
    check(parse_result(m.group(2))[0] == "await 0", "await: %r" % line)
    tid = int(c.expect("task 1 await 300", "task ").split()[1])
    out = parse_result(c.line().split(" ", 2)[2])[0]
    check(out == "await %d" % ETIMEDOUT, "await without wakeup: %r" % out)


def main():
    cfg = {"worker_num": WORKERS, "reactor_num": 2,
           "task_worker_num": TASKERS}
    with Server("tables", server=cfg, tables=TABLES) as srv:
        srv.start()
        conns = conns_per_worker(srv.port, WORKERS)
        hammer(srv.port, conns)
        full_table(conns[1])
        errors(conns[2])
        wait_wakeup(srv, conns[0])
        for c in conns.values():
            c.close()
        srv.stop()


if __name__ == "__main__":
    run(main)
