"""test_taskwait_in_callback.py: the data that on_finish and
on_pipe_message receive stays valid for the whole call, even when the
callback calls swx_taskwait (which reads the process's mailbox while it
waits).

- on_finish of a task whose result is 100 bytes (inline in the mailbox
  frame) and 200 000 bytes (in a memfd), calling swx_taskwait before it
  checks its result byte by byte;
- on_pipe_message of a message of 12 bytes and of 200 000 bytes, calling
  swx_taskwait before it reads the message;
- the worker survives all of them.
"""

import re

from task_helper import (Conn, Server, TABLES, check, conns_per_worker, log,
                         run)


def attempt(srv, line, want, n_lines=1):
    """Send line on a fresh connection of worker 0; the lines received
    (sorted), or an exception text."""
    conns = conns_per_worker(srv.port, 2)
    c = conns[0]
    for x in conns.values():
        x.sock.settimeout(20)
    try:
        c.send(line)
        got = sorted(c.line() for _ in range(n_lines))
    except Exception as e:  # noqa: BLE001 -- reported below
        got = ["no reply (%s)" % type(e).__name__]
    for x in conns.values():
        x.close()
    ok = got == sorted(want)
    log("  %-28s %s %r" % (line, "ok  " if ok else "BAD ", got))
    return None if ok else "%r: got %r, expected %r" % (line, got, want)


def main():
    cfg = {"worker_num": 2, "reactor_num": 1, "task_worker_num": 2}
    with Server("cbwait", server=cfg, tables=TABLES) as srv:
        srv.start()
        cases = [
            ("finwait 100", ["finwait 0 ok 100 100"]),
            ("finwait 200000", ["finwait 0 ok 200000 200000"]),
            ("msg 1 tw:hello-there", ["msg 0",
                                      "pipe 1 0 taskwait 0 hello-there"]),
            ("bigmsg 1 200000 tw", ["bigmsg 0",
                                    "pipe 1 0 taskwait 0 bigmsg 200000 ok"]),
        ]
        failures = []
        for line, want in cases:
            err = attempt(srv, line, want, len(want))
            if err:
                failures.append(err)
            srv.wait_workers(2)
        crashes = re.findall(r"worker \d+ \(pid \d+\) killed by signal \d+ "
                             r"\([^)]*\)", srv.log_text())
        check(not failures and not crashes, "; ".join(failures + crashes))
        with Conn(srv.port) as c:
            c.pid()
        srv.stop()


if __name__ == "__main__":
    run(main)
