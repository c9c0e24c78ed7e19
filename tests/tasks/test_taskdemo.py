"""test_taskdemo.py: the demo plugin (plugins/taskdemo) served with its
example config, conf/taskdemo.json, adapted to a free port and the built
plugin's path.

- "sha256 TEXT" is the iterated SHA-256 that Python computes the same way;
  "primes N" the count of primes below N; both from task workers;
- slow requests from several clients at once all get their own answer,
  and "stats" is answered meanwhile;
- "stats" counts requests and bytes per command and in total, with the
  server's figures (task workers included);
- unknown commands and a too large N get an error line.
"""

import hashlib
import json
import threading

from task_helper import (TASKDEMO, TASKDEMO_CONF, Conn, Server, check, log,
                         run)


def iterated(text, rounds):
    d = hashlib.sha256(text.encode()).digest()
    for _ in range(rounds - 1):
        d = hashlib.sha256(d).digest()
    return d.hex()


def primes_below(n):
    if n < 3:
        return 0
    sieve = bytearray([1]) * n
    sieve[0:2] = b"\0\0"
    for i in range(2, int(n ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytes(len(range(i * i, n, i)))
    return sum(sieve)


class DemoServer(Server):
    """The example config as it is, but for the port and the plugin path."""

    def __init__(self, conf):
        self.conf = conf
        super().__init__("taskdemo", server=conf["server"],
                         plugins=conf["plugins"], tables=conf["tables"])

    def config(self):
        cfg = json.loads(json.dumps(self.conf))
        cfg["plugins"][0]["path"] = TASKDEMO
        cfg["listeners"][0]["port"] = self.port
        return cfg


def main():
    with open(TASKDEMO_CONF) as f:
        conf = json.load(f)
    check(conf["listeners"][0]["port"] == 9502, "the demo serves 9502")
    rounds = conf["plugins"][0]["config"]["sha256_rounds"]
    with DemoServer(conf) as srv:
        srv.start()
        with Conn(srv.port, timeout=60) as c:
            check(c.cmd("sha256 abc") == "sha256 " + iterated("abc", rounds),
                  "sha256 abc")
            check(c.cmd("primes 100") == "primes 100 25", "primes 100")
            check(c.cmd("primes 1000000") == "primes 1000000 78498",
                  "primes 1000000")
            check(c.cmd("bogus").startswith("error: unknown command"),
                  "unknown")
            check(c.cmd("primes 10000001").startswith("error primes"),
                  "too large")

        texts = ["client %d: %s" % (i, "x" * i) for i in range(6)]
        answers, errors = {}, []

        def client(t):
            try:
                with Conn(srv.port, timeout=60) as cc:
                    answers[t] = cc.cmd("sha256 " + t)
            except Exception as e:  # noqa: BLE001 -- judged below
                errors.append(repr(e))
        threads = [threading.Thread(target=client, args=(t,)) for t in texts]
        for t in threads:
            t.start()
        with Conn(srv.port, timeout=60) as c:
            r = c.cmd("stats")
            check(r.startswith("stats {"), "stats during the work: %r" % r)
        for t in threads:
            t.join(90)
        check(not errors, "clients: %s" % errors)
        for t in texts:
            check(answers.get(t) == "sha256 " + iterated(t, rounds),
                  "answer for %r" % t)

        with Conn(srv.port) as c:
            r = c.cmd("stats")
        st = json.loads(r[len("stats "):])
        cmds = st["commands"]
        check(cmds["sha256"]["requests"] == 7, "sha256 requests: %r" % cmds)
        check(cmds["primes"]["requests"] == 3, "primes requests")
        check(cmds["stats"]["requests"] == 2, "stats requests: the one that "
              "answers counts itself")
        want_bytes = len("sha256 abc\n") + sum(len("sha256 %s\n" % t)
                                               for t in texts)
        check(cmds["sha256"]["bytes"] == want_bytes, "sha256 bytes")
        check(cmds["total"]["requests"] == 12, "total requests")
        check(st["server"]["task_worker_num"] == 2, "server figures")
        check(st["server"]["tasking_num"] == 0, "nothing in flight")
        log("  task time: sha256 %d ms, primes %d ms"
            % (cmds["sha256"]["task_ms"], cmds["primes"]["task_ms"]))
        srv.stop()


if __name__ == "__main__":
    run(main, TASKDEMO, TASKDEMO_CONF)
