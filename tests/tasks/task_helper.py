"""task_helper.py: what the task tests add to the integration harness
(tests/integration/swx_harness.py, imported here as h): configs with
"tables" and "processes", the process tree by role (workers, task workers,
user processes), a line client for the taskprobe plugin, and its stats.

Paths come from the environment that tests/tasks/meson.build sets.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import swx_harness as h  # noqa: E402

TASKPROBE = os.environ.get("SWX_TASKPROBE_PLUGIN", "")
TASKPROBE_NOFINISH = os.environ.get("SWX_TASKPROBE_NOFINISH_PLUGIN", "")
TASKDEMO = os.environ.get("SWX_TASKDEMO_PLUGIN", "")
TASKDEMO_CONF = os.environ.get("SWX_TASKDEMO_CONF", "")

log = h.log
check = h.check

ETIMEDOUT, EAGAIN, E2BIG, EPERM, EINVAL = -110, -11, -7, -1, -22
ENOENT, ENOSPC, EEXIST, EALREADY, ENOTSUP = -2, -28, -17, -114, -95
ENAMETOOLONG, ENOBUFS = -36, -105


require = h.require


SLOW = h.is_sanitized()  # waits the tests bound are widened there

# The tables and the user process the taskprobe tests declare.
TABLES = [
    {"name": "counters", "size": 1024,
     "columns": [{"name": "n", "type": "int"},
                 {"name": "f", "type": "float"},
                 {"name": "s", "type": "string", "size": 16}]},
    {"name": "small", "size": 8,
     "columns": [{"name": "n", "type": "int"}]},
]
PROCESSES = [{"name": "ticker", "plugin": "taskprobe", "count": 1}]


def taskprobe(path=None):
    return {"name": "taskprobe", "path": path or TASKPROBE}


class Server(h.Server):
    """h.Server with "tables" and "processes" in the config, and the
    process tree by role."""

    def __init__(self, name, tables=None, processes=None, **kw):
        self.tables = tables
        self.processes = processes
        kw.setdefault("plugins", [taskprobe()])
        super().__init__(name, **kw)

    def config(self):
        cfg = super().config()
        if self.tables:
            cfg["tables"] = self.tables
        if self.processes:
            cfg["processes"] = self.processes
        return cfg

    def leftovers(self, procs=()):
        """As h.Server's, except in a sanitizer build for zombies
        re-parented to this test: a process killed while LeakSanitizer
        runs its exit-time check leaves that check's tracer (a clone,
        titled like its parent) orphaned; it lands here as a zombie and is
        reaped."""
        left = super().leftovers(procs)
        if not SLOW:
            return left
        out = []
        for p in left:
            st = h.proc_stat(p)
            if st is not None and st[1] == "Z" and st[0] == os.getpid():
                try:
                    os.waitpid(p, os.WNOHANG)
                except ChildProcessError:
                    pass
                continue
            out.append(p)
        return out

    # -- the tree by role

    def task_worker_num(self):
        return self.server_cfg.get("task_worker_num", 0)

    def process_count(self):
        return sum(p.get("count", 1) for p in self.processes or [])

    def roles(self):
        """{("worker", i) | ("task", i) | ("process", "NAME I"): pid} of
        the manager's live children that have their title."""
        mgr = self.manager_pid()
        out = {}
        if mgr is None:
            return out
        for p in h.children_of(mgr):
            title = h.proc_cmdline(p) or ""
            if not h.alive(p):
                continue
            m = re.fullmatch(r"swx-server: (worker|task worker) (\d+)", title)
            if m:
                kind = "worker" if m.group(1) == "worker" else "task"
                out[(kind, int(m.group(2)))] = p
                continue
            m = re.fullmatch(r"swx-server: process (.+)", title)
            if m:
                out[("process", m.group(1))] = p
        self.note(out.values())
        return out

    def task_workers(self):
        return {k[1]: p for k, p in self.roles().items() if k[0] == "task"}

    def user_processes(self):
        return {k[1]: p for k, p in self.roles().items()
                if k[0] == "process"}

    def wait_roles(self, timeout=30.0, exclude=()):
        """Wait until every worker, task worker and user process runs
        with its title (none of them in exclude); the roles."""
        want = self.worker_num() + self.task_worker_num() + \
            self.process_count()

        def ready():
            r = self.roles()
            if len(r) == want and not set(r.values()) & set(exclude):
                return r
            return None
        return h.wait_until(ready, timeout, what="%d processes" % want)

    def start(self, timeout=30.0, workers=True):
        super().start(timeout, workers)
        if workers:
            self.wait_roles(timeout)
        return self


# ---------------------------------------------------------------- client

class Conn:
    """A line client for taskprobe (and taskdemo)."""

    def __init__(self, port, timeout=30.0):
        self.sock = h.connect(port, timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _fill(self):
        b = self.sock.recv(1 << 20)
        if not b:
            raise h.TestFailure("connection closed (have %r)"
                                % self.buf[:200])
        self.buf += b

    def line(self):
        """The next line, without its newline, as text."""
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def cmd(self, line):
        """Send one command; its one-line reply."""
        self.send(line)
        return self.line()

    def expect(self, line, prefix):
        """Send line; its reply, checked to start with prefix."""
        r = self.cmd(line)
        check(r.startswith(prefix), "%r: got %r" % (line, r))
        return r

    def pid(self):
        """(worker id, pid) of the worker serving this connection."""
        m = re.fullmatch(r"pong (\d+) (\d+)", self.cmd("ping"))
        check(m is not None, "bad reply to ping")
        return int(m.group(1)), int(m.group(2))

    def stats(self):
        """swx_stats_json of the serving worker, parsed."""
        head = self.cmd("stats")
        m = re.fullmatch(r"stats (\d+)", head)
        check(m is not None, "bad reply to stats: %r" % head)
        return json.loads(self.exact(int(m.group(1))).decode())

    def st(self):
        """swx_stats() of the serving worker: {name: int}."""
        r = self.cmd("st")
        check(r.startswith("st rc=0 "), "bad reply to st: %r" % r)
        return {k: int(v) for k, v in
                (kv.split("=") for kv in r.split()[1:])}


def conns_per_worker(port, n, limit=200):
    """{worker id: Conn} with one connection served by each of n workers
    (dispatch_mode 2 gives a connection to one worker for its life)."""
    got, spare = {}, []
    for _ in range(limit):
        c = Conn(port)
        wid = c.pid()[0]
        if wid in got:
            spare.append(c)
        else:
            got[wid] = c
        if len(got) == n:
            break
    for c in spare:
        c.close()
    check(len(got) == n, "reached %d of %d workers" % (len(got), n))
    return got


def parse_result(text):
    """The fields of a task result "OP OUTPUT @tw=I pid=P src=S id=T":
    (output, {tw, pid, src, id})."""
    out, _, tail = text.rpartition(" @")
    check(tail.startswith("tw="), "not a task result: %r" % text)
    fields = {k: int(v) for k, v in (kv.split("=") for kv in tail.split())}
    return out, fields


def wait_value(fn, want, timeout=30.0, what="value"):
    """Poll fn() until it returns want; the last value otherwise fails."""
    last = [None]

    def ok():
        last[0] = fn()
        return last[0] == want
    try:
        h.wait_until(ok, timeout, interval=0.02, what=what)
    except h.TestFailure:
        raise h.TestFailure("%s: wanted %r, last %r" % (what, want, last[0]))


def run(test, *paths):
    """h.main(test) once the files it needs exist."""
    require(TASKPROBE, *paths)
    h.main(test)
