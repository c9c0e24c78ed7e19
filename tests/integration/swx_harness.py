"""swx_harness.py: what every integration test needs to run the real
swx-server on loopback: configs, free ports, start/stop, the process tree,
log polling, and clean-up that kills everything even when a test fails.

Paths come from the environment that tests/integration/meson.build sets:
SWX_SERVER, SWX_ECHO_PLUGIN, SWX_PROBE_PLUGIN, SWX_ABI_MISMATCH_PLUGIN,
SWX_BAD_MAGIC_PLUGIN, SWX_NO_SYMBOL_PLUGIN. Run one test with
`meson test -C build integration_NAME -v`; a failing test prints the end of
the server's log and keeps its temporary directory (config, full log).
"""

import calendar
import ctypes
import glob
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HOST = "127.0.0.1"
SERVER = os.environ.get("SWX_SERVER", "")
ECHO = os.environ.get("SWX_ECHO_PLUGIN", "")
PROBE = os.environ.get("SWX_PROBE_PLUGIN", "")
ABI_MISMATCH = os.environ.get("SWX_ABI_MISMATCH_PLUGIN", "")
BAD_MAGIC = os.environ.get("SWX_BAD_MAGIC_PLUGIN", "")
NO_SYMBOL = os.environ.get("SWX_NO_SYMBOL_PLUGIN", "")

# Sanitizer reports in a log mean the test failed even if behaviour looked
# right (the ASan build runs every test too).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer")

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Orphans of the servers we start are re-parented to this process, so
    a process that outlives its master is still found (and killed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


become_subreaper()


def log(msg):
    print(msg, flush=True)


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


HTTP_DATE_RE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                          r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                          r" \d{4} \d\d:\d\d:\d\d GMT")


def check_server_date(header, what):
    """A response head carries "Server: swx" and a Date (IMF-fixdate) within
    a minute of now; header(name) gives a field's value or None."""
    server, date = header("server"), header("date")
    check(server == "swx", "%s: Server %r" % (what, server))
    check(date is not None and HTTP_DATE_RE.fullmatch(date),
          "%s: Date %r" % (what, date))
    t = calendar.timegm(time.strptime(date, "%a, %d %b %Y %H:%M:%S GMT"))
    check(abs(t - time.time()) < 60, "%s: Date %r is not now" % (what, date))


SUPPRESSED_RE = re.compile(r"(\d+) similar lines? suppressed, the first: ")


def count_logged(text, regex):
    """How many lines matching regex the server logged, counting those the
    log's rate limit held back (its summary line gives their number)."""
    pattern = re.compile(regex)
    n = 0
    for line in text.splitlines():
        if not pattern.search(line):
            continue
        m = SUPPRESSED_RE.search(line)
        n += int(m.group(1)) if m else 1
    return n


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value; that value, or
    TestFailure after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s"
                              % (timeout, what))
        time.sleep(interval)


def remove_stale_pid_files():
    """A master killed by a test leaves its default pid file (named after
    swx.json, in the default directories) naming a dead pid: remove those,
    so that runs do not pile them up."""
    dirs = ["/run/swx-server", "/tmp/swx-server-%d" % os.getuid()]
    if os.environ.get("XDG_RUNTIME_DIR"):
        dirs.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "swx-server"))
    for d in dirs:
        for path in glob.glob(os.path.join(d, "swx-*.pid")):
            try:
                with open(path) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if not alive(pid):
                try:
                    os.unlink(path)
                except OSError:
                    pass
# SWX_TEST_MODE=base runs a suite with server.mode "base" in every config
# the tests write (unless a config names its mode itself); unset or
# "process", the configs stay as they are.
TEST_MODE = os.environ.get("SWX_TEST_MODE", "process")


def with_test_mode(text):
    """The config text with server.mode set to SWX_TEST_MODE; text that is
    not a JSON object (a test of config errors) is left alone."""
    if TEST_MODE == "process":
        return text
    try:
        cfg = json.loads(text)
    except ValueError:
        return text
    if not isinstance(cfg, dict):
        return text
    server = cfg.setdefault("server", {})
    if not isinstance(server, dict) or "mode" in server:
        return text
    server["mode"] = TEST_MODE
    return json.dumps(cfg, indent=2) + "\n"


_given_ports = set()


def _fresh_port(kind, host=HOST, family=socket.AF_INET):
    """A free port of kind (SOCK_STREAM, SOCK_DGRAM), never one this test
    was given before: the kernel may hand a port just closed out again,
    and a test that asks for several would then get one twice."""
    for _ in range(100):
        with socket.socket(family, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            break
    _given_ports.add(port)
    return port


def free_port():
    return _fresh_port(socket.SOCK_STREAM)


def free_udp_port(host=HOST, family=socket.AF_INET):
    return _fresh_port(socket.SOCK_DGRAM, host, family)


def free_ports(n):
    """n different free ports: each socket is held until all are bound
    (free_port called n times may hand out one port twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        ports = [s.getsockname()[1] for s in socks]
        _given_ports.update(ports)
        return ports
    finally:
        for s in socks:
            s.close()


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(ppid, state, starttime) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(")") + 2:].split()
    return int(rest[1]), rest[0], int(rest[19])


def proc_cmdline(pid):
    """The title as ps shows it: NULs to spaces, trailing ones dropped."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def all_procs():
    """{pid: (ppid, state, starttime)} for every process now."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def children_of(pid, table=None):
    table = table if table is not None else all_procs()
    return sorted(p for p, st in table.items() if st[0] == pid)


def descendants_of(pid, table=None):
    table = table if table is not None else all_procs()
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for p in children_of(parent, table):
            out.append(p)
            todo.append(p)
    return sorted(out)


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[1] != "Z"


# ---------------------------------------------------------------- client

def connect(port, timeout=10.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n):
    chunks, got = [], 0
    while got < n:
        b = sock.recv(min(n - got, 1 << 20))
        if not b:
            raise TestFailure("connection closed after %d of %d bytes"
                              % (got, n))
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def recv_line(sock, limit=1 << 20):
    """Bytes up to and including the next newline (requests are one at a
    time, so nothing past it is lost)."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise TestFailure("connection closed inside a line (got %r)"
                              % bytes(buf[:200]))
        buf += b
        check(len(buf) <= limit, "line too long")
    return bytes(buf)


def request(sock, line):
    """Send one line command and return its one-line reply."""
    if isinstance(line, str):
        line = line.encode()
    sock.sendall(line)
    return recv_line(sock)


def ask_pid(sock):
    """(worker id, worker pid) that served a probe "pid" command."""
    reply = request(sock, b"pid\n").decode()
    m = re.fullmatch(r"pid (\d+) (\d+)\n", reply)
    check(m is not None, "bad reply to pid: %r" % reply)
    return int(m.group(1)), int(m.group(2))


def pattern(n):
    """The bytes the probe's "big N" sends: i % 251."""
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


# ---------------------------------------------------------------- server

class Server:
    """One swx-server run in a temporary directory.

    Use as a context manager: leaving it kills whatever is still running,
    reaps it, and removes the directory (kept when the test failed)."""

    def __init__(self, name="swx", server=None, plugins=None, listeners=None,
                 port=None, keep_dir=False):
        # Under the build directory when meson says where (see
        # SWX_TEST_TMPDIR in meson.build), else the system's temp dir.
        tmp = os.environ.get("SWX_TEST_TMPDIR") or None
        if tmp is not None:
            os.makedirs(tmp, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="swx-it-%s-" % name, dir=tmp)
        self.server_cfg = dict(server or {})
        self.plugins = plugins if plugins is not None else [
            {"name": "echo", "path": ECHO}]
        self.fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.listeners = listeners
        self.config_path = os.path.join(self.dir, "swx.json")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.proc = None
        self.seen = {}        # pid -> starttime of every process of ours
        self.failed = False
        self.keep_dir = keep_dir
        self.write_config()

    # -- config

    def config(self):
        listeners = self.listeners
        if listeners is None:
            listeners = [{"type": "tcp", "host": HOST, "port": self.port,
                          "plugin": self.plugins[0]["name"]}]
        cfg = {"plugins": self.plugins, "listeners": listeners}
        if self.server_cfg:
            cfg["server"] = self.server_cfg
        return cfg

    def write_config(self, text=None):
        text = (text if text is not None
                else json.dumps(self.config(), indent=2) + "\n")
        with open(self.config_path, "w") as f:
            f.write(with_test_mode(text))

    # -- running

    def check_config(self):
        """swx-server -t; (exit status, stdout, stderr)."""
        return run_cli(["-t", "--config", self.config_path])

    def spawn(self):
        """Start the server without waiting for it."""
        self.close_files()
        self.err_file = open(self.log_path, "ab")
        self.out_file = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(
            [SERVER, "--config", self.config_path], stdin=subprocess.DEVNULL,
            stdout=self.out_file, stderr=self.err_file,
            preexec_fn=no_core_dumps)
        self.seen[self.proc.pid] = proc_stat(self.proc.pid)
        return self.proc

    def start(self, timeout=30.0, workers=True):
        """Start and wait until the port accepts connections (and, with
        workers, until every worker has its title). Retries on another free
        port when a concurrent test took ours."""
        for attempt in range(5):
            self.spawn()
            try:
                self.wait_ready(timeout)
            except PortTaken:
                self.proc.wait(10)
                if self.fixed_port or attempt == 4:
                    raise
                log("port %d was taken; retrying on another" % self.port)
                self.port = free_port()
                self.write_config()
                continue
            if workers:
                self.wait_workers(self.worker_num(), timeout)
                self.wait_accepting(timeout)
            return self
        raise TestFailure("could not start")

    def wait_accepting(self, timeout):
        """Base mode: a worker has its title before it watches the
        listeners; the master's "ready" line comes once every process
        started, each after it watches them (not logged below info)."""
        if not base_mode() or self.server_cfg.get("log_level", "info") not in (
                "info", "debug"):
            return
        self.wait_log(r"\] %d master: every process started; the server "
                      r"is ready" % self.pid, timeout)

    def worker_num(self):
        return self.server_cfg.get("worker_num", os.cpu_count() or 1)

    def wait_ready(self, timeout=30.0):
        """Wait until this server (not another test's on a port it took)
        has logged that it started, and accepts connections."""
        deadline = time.monotonic() + timeout
        quiet = self.server_cfg.get("log_level") in ("warning", "error")
        started = re.compile(r"\] %d master: swx-server \S+ started"
                             % self.pid)
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc.wait()
                text = self.log_text()
                if "Address already in use" in text:
                    raise PortTaken("port %d is in use" % self.port)
                raise TestFailure("swx-server exited with %d before it was "
                                  "ready" % rc)
            if time.monotonic() > deadline:
                raise TestFailure("swx-server did not start and accept on "
                                  "port %d in %.0f s" % (self.port, timeout))
            if not quiet and not started.search(self.log_text()):
                time.sleep(0.02)
                continue
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    pass
                return
            except OSError:
                pass
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def note(self, pids):
        for p in pids:
            st = proc_stat(p)
            if st is not None:
                self.seen.setdefault(p, st)

    def manager_pid(self):
        """The manager: the master's child titled "swx-server: manager"."""
        for p in children_of(self.pid):
            if proc_cmdline(p) == "swx-server: manager":
                self.note([p])
                return p
        return None

    def workers(self):
        """{worker id: pid} of the manager's children that have set their
        title (a fresh fork still shows the manager's)."""
        mgr = self.manager_pid()
        out = {}
        if mgr is None:
            return out
        for p in children_of(mgr):
            m = re.fullmatch(r"swx-server: worker (\d+)",
                             proc_cmdline(p) or "")
            if m and alive(p):
                out[int(m.group(1))] = p
        self.note(out.values())
        return out

    def wait_workers(self, n, timeout=30.0, exclude=()):
        """Wait until n workers run, none of them in exclude."""
        def ready():
            w = self.workers()
            if len(w) == n and not set(w.values()) & set(exclude):
                return w
            return None
        return wait_until(ready, timeout, what="%d worker(s)" % n)

    def tree(self):
        """Every live process descended from the master, noted for
        clean-up."""
        d = descendants_of(self.pid)
        self.note(d)
        return d

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, regex, timeout=20.0, count=1):
        """Wait until regex matches count times in the log; the matches."""
        rx = re.compile(regex, re.M)

        def found():
            ms = list(rx.finditer(self.log_text()))
            return ms if len(ms) >= count else None
        return wait_until(found, timeout, interval=0.02,
                          what="log line /%s/ x%d" % (regex, count))

    def check_log_clean(self, expected=()):
        """No sanitizer report in the log, except on lines containing one
        of expected (a crash the test caused on purpose)."""
        text = "\n".join(line for line in self.log_text().splitlines()
                         if not any(e in line for e in expected))
        for mark in SANITIZER_MARKS:
            check(mark not in text, "sanitizer report in the server log: %s"
                  % mark)

    def stop(self, timeout=30.0, sig=signal.SIGTERM, expected=()):
        """Graceful stop: signal the master, expect exit 0 within timeout,
        then no process of the tree left and no sanitizer report."""
        procs = self.tree()
        os.kill(self.pid, sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("master did not exit within %.0f s of %s"
                              % (timeout, sig.name))
        check(rc == 0, "master exited with %d after %s, expected 0"
              % (rc, sig.name))
        self.check_no_leftovers(procs)
        self.check_log_clean(expected)
        return rc

    def leftovers(self, procs=()):
        """Processes of ours still there (zombies included): any listed in
        procs that still exists with the same start time, and any orphan
        re-parented to this test process."""
        table = all_procs()
        mine = {p.pid for p in _popen_live()}
        left = set()
        for p in procs:
            st, was = table.get(p), self.seen.get(p)
            if st is not None and (was is None or was[2] == st[2]):
                left.add(p)
        for p, st in table.items():
            if st[0] == os.getpid() and p not in mine:
                left.add(p)
        return sorted(left)

    def check_no_leftovers(self, procs=()):
        # The master waits for the manager, which waits for its workers, so
        # nothing may remain once the master has exited.
        left = self.leftovers(procs)
        desc = ["%d (%s, state %s)" % (p, proc_cmdline(p) or proc_comm(p),
                                       (proc_stat(p) or ("", "?"))[1])
                for p in left]
        check(not left, "processes left after the master exited: %s"
              % ", ".join(desc))

    def _victims(self, others):
        table = all_procs()
        victims = set()
        if self.proc.poll() is None:
            victims.add(self.pid)
            victims.update(descendants_of(self.pid, table))
        for p, was in self.seen.items():
            st = table.get(p)
            if (st is not None and was is not None and st[2] == was[2]
                    and st[1] != "Z" and p != self.pid):
                victims.add(p)
        for p, st in table.items():
            if st[0] == os.getpid() and p not in others and p != self.pid:
                victims.add(p)   # an orphan of ours, maybe a zombie
        return victims, table

    def kill_all(self, timeout=10.0):
        """SIGKILL the whole tree and every orphan of ours, and reap them,
        until none is left."""
        if self.proc is None:
            return
        others = {p.pid for p in _popen_live() if p is not self.proc}
        deadline = time.monotonic() + timeout
        while True:
            victims, table = self._victims(others)
            if not victims:
                return
            for p in victims:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.poll()
            for p in victims:
                if p != self.pid and table.get(p, (0,))[0] == os.getpid():
                    try:
                        os.waitpid(p, os.WNOHANG)
                    except ChildProcessError:
                        pass
            if time.monotonic() > deadline:
                log("could not clean up processes: %s" % sorted(victims))
                return
            time.sleep(0.02)

    def close_files(self):
        for name in ("err_file", "out_file"):
            f = getattr(self, name, None)
            if f is not None:
                f.close()
                setattr(self, name, None)

    def __enter__(self):
        _servers.append(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.kill_all()
        finally:
            self.close_files()
            _servers.remove(self)
            remove_stale_pid_files()
        if exc_type is not None:
            self.failed = True
            self.dump_log()
        if self.failed or self.keep_dir:
            log("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def dump_log(self, lines=80):
        text = self.log_text().splitlines()
        log("---- last %d lines of %s ----" % (lines, self.log_path))
        for line in text[-lines:]:
            log(line)
        log("---- end of log ----")


class PortTaken(TestFailure):
    pass


_servers = []


def _popen_live():
    return [s.proc for s in _servers
            if s.proc is not None and s.proc.returncode is None]


# meson's exit status for a skipped test.
SKIP = 77


def base_mode():
    """Whether the suite runs in base mode (SWX_TEST_MODE=base)."""
    return TEST_MODE == "base"


def process_mode_only(why):
    """Skip this test (exit 77, meson's skip) in base mode: what it checks
    is a property of process mode that base mode does not have, said in
    why (docs/config.md, choosing a mode)."""
    if base_mode():
        log("SKIP in base mode: %s" % why)
        sys.exit(SKIP)


def require(*paths):
    """Exit (a failed test) unless every path names an existing file:
    the paths meson passes in the environment."""
    for p in paths:
        if not p or not os.path.exists(p):
            log("a test file is missing: %r (run through meson test)" % p)
            sys.exit(1)


def is_sanitized():
    """True when swx-server was built with AddressSanitizer (slower, and
    its allocator keeps freed memory in quarantine)."""
    try:
        with open(SERVER, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def no_core_dumps():
    """In the child before exec: crash tests must not fill the disk."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_cli(args, timeout=60):
    """Run swx-server with args; (exit status, stdout, stderr)."""
    p = subprocess.run([SERVER] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, preexec_fn=no_core_dumps)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def main(test):
    """Run test() and exit 0 on success, 1 on failure with a traceback.
    Whatever servers are still up are killed either way."""
    for var, path in (("SWX_SERVER", SERVER), ("SWX_ECHO_PLUGIN", ECHO),
                      ("SWX_PROBE_PLUGIN", PROBE)):
        if not path or not os.path.exists(path):
            log("%s is not set to an existing file (%r)" % (var, path))
            sys.exit(1)
    t0 = time.monotonic()
    status = 0
    try:
        test()
        log("PASS (%.1f s)" % (time.monotonic() - t0))
    except SystemExit as e:
        if e.code != SKIP:
            raise
        status = SKIP
    except BaseException:  # noqa: B902 -- report even KeyboardInterrupt
        traceback.print_exc(file=sys.stdout)
        log("FAIL (%.1f s)" % (time.monotonic() - t0))
        status = 1
    finally:
        for s in list(_servers):
            s.failed = s.failed or status != 0
            s.__exit__(None, None, None)
    sys.stdout.flush()
    sys.exit(status)
