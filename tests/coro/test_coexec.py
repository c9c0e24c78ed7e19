"""test_coexec.py: swx_co_exec / swx_co_execv through the real server
(Swoole's Coroutine\\System::exec): output and exit status, stderr merged
or not, a death by signal, the child's clean state (empty signal mask and
no ignored signal though the worker blocks and ignores some; stdin
/dev/null; none of the worker's fds), output past max_output (-EMSGSIZE,
the program dies of SIGPIPE), a missing program, and a timeout that kills
the program's group and reaps it: nothing left, no zombie, and the worker
answers others while a program runs."""

import os
import threading
import time

from cofile_helper import (h, check, children, cmd, log, procs_with, server,
                           worker_pid, SLOW, ENOENT, EMSGSIZE, ETIMEDOUT)


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        return [ln.split()[1] for ln in f if ln.startswith(key + ":")][0]


def basics(srv):
    f = cmd(srv, "exec 5000 4096 0 printf 'a b\\nc'; exit 3")
    check(f["rc"] == "0" and f["code"] == "3" and f["signal"] == "0" and
          f["data"] == b"a b\nc", "output and status: %r" % f)
    f = cmd(srv, "exec 5000 4096 1 echo out; echo err >&2")
    check(f["data"] == b"out\nerr\n", "stderr merged: %r" % f)
    f = cmd(srv, "exec 5000 4096 0 echo out; echo err >&2")
    check(f["data"] == b"out\n", "stderr apart: %r" % f)
    f = cmd(srv, "exec 5000 4096 0 kill -TERM $$")
    check(f["rc"] == "0" and f["code"] == "-1" and f["signal"] == "15",
          "a death by signal: %r" % f)
    f = cmd(srv, "exec 5000 0 0 echo hi")
    check(f["rc"] == "0" and f["code"] == "0" and f["null"] == "1",
          "max_output 0: %r" % f)
    f = cmd(srv, "exec 5000 1000 0 exec yes")
    check(f["rc"] == str(EMSGSIZE) and f["len"] == "1000" and
          f["data"] == b"y\n" * 500 and f["signal"] == "13",
          "past max_output: %r" % f)
    f = cmd(srv, "execv /nonexistent/prog")
    check(f["rc"] == str(ENOENT), "a missing program: %r" % f)
    f = cmd(srv, "execv true")
    check(f["rc"] == "0" and f["code"] == "0", "execv through PATH: %r" % f)


def clean_child(srv, pid):
    # The worker blocks signals (its signalfd's) and ignores SIGPIPE: a
    # child inheriting either would show it.
    blk, ign = proc_status(pid, "SigBlk"), proc_status(pid, "SigIgn")
    log("worker SigBlk %s SigIgn %s" % (blk, ign))
    check(int(blk, 16) != 0 and int(ign, 16) != 0,
          "the worker blocks and ignores nothing: the check means nothing")
    f = cmd(srv, "exec 5000 4096 0 grep -E '^Sig(Blk|Ign)' /proc/self/status")
    lines = f["data"].decode().split("\n")
    log("child: %r" % lines)
    check(lines[:2] == ["SigBlk:\t0000000000000000",
                        "SigIgn:\t0000000000000000"],
          "the child's signal state: %r" % lines)
    f = cmd(srv, "exec 5000 4096 0 readlink /proc/self/fd/0; ls /proc/self/fd")
    out = f["data"].decode().split()
    check(out[0] == "/dev/null", "stdin: %r" % out[0])
    # ls's own directory fd is the only one past 2
    check(len(set(out[1:]) - {"0", "1", "2"}) <= 1,
          "the child inherited fds: %r" % out[1:])


def timeout_kills(srv, pid):
    t0 = time.monotonic()
    f = cmd(srv, "exec 500 4096 0 echo start; sleep 31.5; echo never")
    took = time.monotonic() - t0
    log("timeout: %r in %.2f s" % ({k: v for k, v in f.items()
                                    if k != "hex"}, took))
    check(f["rc"] == str(ETIMEDOUT) and f["data"] == b"start\n" and
          f["signal"] == "9", "a timeout: %r" % f)
    check(took < (5 if SLOW else 3), "the timeout took %.1f s" % took)
    # The shell's sleep, killed with its group, is an orphan: its new
    # parent reaps it (init; here this test, the harness's subreaper).
    check(not procs_with("sleep 31.5"), "the program's child survived")
    kids = children(pid)
    check(not kids, "the worker has children left: %r" % kids)
    h.wait_until(lambda: reap_orphans() or True, 5, what="orphans reaped")


def reap_orphans():
    """Reap the zombies re-parented to this test process."""
    for p, (ppid, state, _) in h.all_procs().items():
        if ppid == os.getpid() and state == "Z":
            os.waitpid(p, 0)


def serves_meanwhile(srv):
    done = {}

    def run():
        done["f"] = cmd(srv, "exec 10000 4096 0 sleep 1; echo done")
    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.2)
    lat = []
    s = h.connect(srv.port)
    while t.is_alive():
        t0 = time.monotonic()
        check(h.request(s, b"ping\n").startswith(b"pong"), "no pong")
        lat.append(time.monotonic() - t0)
        time.sleep(0.01)
    s.close()
    t.join()
    log("%d pings while a program ran, worst %.1f ms"
        % (len(lat), 1000 * max(lat)))
    check(done["f"]["rc"] == "0" and done["f"]["data"] == b"done\n",
          "the program: %r" % done["f"])
    check(len(lat) >= 10 and max(lat) < (1.0 if SLOW else 0.3),
          "the worker did not answer while a program ran")


def main():
    with server("coexec", {"worker_num": 1}) as srv:
        srv.start()
        pid = worker_pid(srv)
        basics(srv)
        clean_child(srv, pid)
        timeout_kills(srv, pid)
        serves_meanwhile(srv)
        check(not children(pid), "children left: %r" % children(pid))
        srv.stop()


h.main(main)
