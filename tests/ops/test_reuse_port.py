"""test_reuse_port.py: two instances with enable_reuse_port share one port
(one serves build v1, the other v2, so a reply tells which one answered);
the kernel spreads new connections over both. SIGTERM drains one: it exits
0, and every connection made afterwards is served by the other."""

import signal

from ops_helper import h
import ops_helper as o


def versions_seen(port, n):
    seen = {}
    for i in range(n):
        v = o.version_of(o.ask(port, b"which %d\n" % i))
        seen[v] = seen.get(v, 0) + 1
    return seen


def main():
    o.require(o.V1, o.V2)
    port = h.free_port()
    cfg = {"worker_num": 1, "reactor_num": 1, "enable_reuse_port": True}
    with o.Server("reuse-a", server=dict(cfg), port=port,
                  plugins=[{"name": "app", "path": o.V1}]) as a, \
            o.Server("reuse-b", server=dict(cfg), port=port,
                     plugins=[{"name": "app", "path": o.V2}]) as b:
        a.start()
        b.start()
        # SO_REUSEPORT spreads by a hash of the client's address and port:
        # enough connections reach both.
        seen = {}
        for _ in range(10):
            for v, k in versions_seen(port, 20).items():
                seen[v] = seen.get(v, 0) + k
            if len(seen) == 2:
                break
        o.check(set(seen) == {1, 2}, "connections reached only %s" % seen)
        h.log("both instances serve port %d: %s" % (port, seen))

        a.stop(timeout=30, sig=signal.SIGTERM)
        seen = versions_seen(port, 50)
        o.check(seen == {2: 50}, "after the first instance stopped, "
                "connections were answered by %s" % seen)
        h.log("after SIGTERM to the first, all 50 new connections went to "
              "the second")
        b.stop()


if __name__ == "__main__":
    h.main(main)
