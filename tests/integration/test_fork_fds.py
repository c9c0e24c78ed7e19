"""test_fork_fds.py: a plugin that forks. Its child holds copies of every
socket of the worker (in base mode, the worker's client connections), so
closing one in the worker does not take it out of the worker's epoll set
by itself. Connections that end while the child lives must leave it all
the same: the worker does not spin on their events (it uses next to no
CPU while idle), and it serves on."""

import os
import re
import time

import swx_harness as h

N = 20
CHILD_MS = 3000


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    with h.Server("fork-fds", server={"worker_num": 1},
                  plugins=[{"name": "probe", "path": h.PROBE}]) as srv:
        srv.start()
        socks = [h.connect(srv.port) for _ in range(N)]
        try:
            pids = set()
            for s in socks:
                reply = h.request(s, b"pid\n").decode()
                m = re.fullmatch(r"pid (\d+) (\d+)\n", reply)
                h.check(m is not None, "bad reply to pid: %r" % reply)
                pids.add(int(m.group(2)))
            h.check(len(pids) == 1, "one worker, not %r" % pids)
            worker = pids.pop()
            reply = h.request(socks[0], b"fork %d\n" % CHILD_MS).decode()
            m = re.fullmatch(r"forked (\d+)\n", reply)
            h.check(m is not None, "fork: %r" % reply)
            child = int(m.group(1))
            for s in socks[1:]:
                s.close()
            time.sleep(0.5)  # the worker reads their EOF and closes them
            before = cpu_seconds(worker)
            time.sleep(1.5)
            used = cpu_seconds(worker) - before
            h.log("the idle worker used %.2f s of CPU in 1.5 s, its child "
                  "holding the closed connections' sockets" % used)
            h.check(used < 0.5, "the worker used %.2f s of CPU in 1.5 s with "
                    "nothing to do: it spins on the events of sockets it "
                    "closed" % used)
            h.check(h.request(socks[0], b"pid\n").decode().startswith(
                "pid "), "the worker no longer answers")
            # The plugin waits for its child (which then has exited).
            reply = h.request(socks[0], b"reap %d\n" % child).decode()
            h.check(reply == "reaped %d\n" % child, "reap: %r" % reply)
        finally:
            for s in socks:
                s.close()
        srv.stop()


if __name__ == "__main__":
    h.main(main)
