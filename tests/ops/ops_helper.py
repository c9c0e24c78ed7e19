"""ops_helper.py: what the operations tests add to the integration harness
(tests/integration/swx_harness.py, imported here as h): the test plugins'
paths, installing a plugin file atomically, the admin endpoint, log files,
client load generators that count failures, and /proc checks.

Paths come from the environment that tests/ops/meson.build sets.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import swx_harness as h  # noqa: E402

V1 = os.environ.get("SWX_OPS_V1_PLUGIN", "")
V2 = os.environ.get("SWX_OPS_V2_PLUGIN", "")
FAIL = os.environ.get("SWX_OPS_FAIL_PLUGIN", "")
LIFECYCLE = os.environ.get("SWX_OPS_LIFECYCLE_PLUGIN", "")

log = h.log
check = h.check


require = h.require


# Everything is several times slower under AddressSanitizer, so the few
# time limits the tests assert are widened there.
SLOW = h.is_sanitized()


# ---------------------------------------------------------------- plugins

def install(src, dst):
    """Replace dst with a copy of src the way an operator should: copy to a
    temporary name in the same directory, then rename over dst. A worker
    that has dst mapped keeps the old inode; a new dlopen reads the new
    file."""
    tmp = os.path.join(os.path.dirname(dst), ".%s.tmp" % os.path.basename(dst))
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.rename(tmp, dst)


def install_bytes(data, dst):
    tmp = os.path.join(os.path.dirname(dst), ".%s.tmp" % os.path.basename(dst))
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, dst)


# ---------------------------------------------------------------- server

# The bearer token a TCP admin endpoint gets unless the test sets one
# (admin.token is required there), and that admin_request sends.
TOKEN = "ops-test-token-0123456789abcdef"
NO_TOKEN = object()   # as "token" in admin: leave admin.token out


class Server(h.Server):
    """h.Server with an optional "admin" object in the config; `admin` is
    then the port number or Unix socket path to reach it with. A TCP admin
    endpoint gets "token": TOKEN unless it has a token (or NO_TOKEN). With
    server.log_file set, the log is that file (after standard error)."""

    started = []   # every instance: their masters are this test's children

    def __init__(self, name, admin=None, **kw):
        self.admin_cfg = admin
        super().__init__(name, **kw)
        Server.started.append(self)

    def leftovers(self, procs=()):
        """As h.Server's, except in a sanitizer build for zombies
        re-parented to this test: a process that the server SIGKILLs (a
        standby worker when a reload is called off) or that a test kills
        while it runs LeakSanitizer's exit-time check leaves that check's
        tracer process (a clone, titled like its parent) orphaned; it dies
        at once and lands here as a zombie. They are reaped and logged;
        the plain build keeps the strict check."""
        left = super().leftovers(procs)
        if not SLOW:
            return left
        excused = []
        for p in left:
            st = h.proc_stat(p)
            if st is not None and st[1] == "Z" and st[0] == os.getpid():
                try:
                    os.waitpid(p, os.WNOHANG)
                except ChildProcessError:
                    pass
                excused.append(p)
        if excused:
            log("sanitizer build: reaped %d orphaned zombie(s) %s "
                "(LeakSanitizer tracers of killed processes)"
                % (len(excused), excused))
        return [p for p in left if p not in excused]

    def log_text(self):
        text = super().log_text()
        path = self.server_cfg.get("log_file")
        if path:
            text += read_text(path)
        return text

    def config(self):
        cfg = super().config()
        if self.admin_cfg is not None:
            admin = dict(self.admin_cfg)
            if "port" in admin:
                admin.setdefault("token", TOKEN)
            if admin.get("token") is NO_TOKEN:
                del admin["token"]
            cfg["admin"] = admin
        return cfg

    @property
    def admin(self):
        a = self.admin_cfg or {}
        return a.get("unix", a.get("port"))


# ---------------------------------------------------------------- admin

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def admin_call(admin, method, path, token=TOKEN, headers=None, timeout=20):
    """(status, response headers, body text) of one request to the admin
    endpoint; admin is a port number or a Unix socket path. The request
    carries "Authorization: Bearer TOKEN" unless token is None."""
    if isinstance(admin, int):
        conn = http.client.HTTPConnection(h.HOST, admin, timeout=timeout)
    else:
        conn = UnixHTTPConnection(admin, timeout=timeout)
    headers = dict(headers or {})
    if token is not None:
        headers.setdefault("Authorization", "Bearer " + token)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return (resp.status, resp.headers,
                resp.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def admin_request(admin, method, path, timeout=20):
    """(status, body text) of one request to the admin endpoint, with the
    tests' token."""
    status, _, body = admin_call(admin, method, path, timeout=timeout)
    return status, body


def stats(admin):
    status, body = admin_request(admin, "GET", "/stats")
    check(status == 200, "GET /stats: %d %s" % (status, body))
    return json.loads(body)


def post_reload(admin):
    status, body = admin_request(admin, "POST", "/reload")
    check(status == 202, "POST /reload: %d %s" % (status, body))
    return body


# ---------------------------------------------------------------- logs

def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def wait_file(path, regex, timeout=30.0, count=1):
    """Wait until regex matches count times in the file; the matches."""
    rx = re.compile(regex, re.M)

    def found():
        ms = list(rx.finditer(read_text(path)))
        return ms if len(ms) >= count else None
    return h.wait_until(found, timeout, what="/%s/ x%d in %s"
                        % (regex, count, path))


def count_log(srv, regex):
    return len(re.findall(regex, srv.log_text(), re.M))


def check_clean(path):
    text = read_text(path)
    for mark in h.SANITIZER_MARKS:
        check(mark not in text, "sanitizer report in %s: %s" % (path, mark))


# ---------------------------------------------------------------- /proc

def proc_ids(pid, key):
    """The real uid/gid of pid from /proc/PID/status ("Uid" or "Gid")."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return [int(x) for x in line.split()[1:]]
    return None


def proc_groups(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Groups:"):
                return [int(x) for x in line.split()[1:]]
    return []


def reap_gone(pids):
    """True when none of pids exists any more; reaps those re-parented to
    this process (a subreaper) as they exit. A zombie whose parent is not
    us still counts as present."""
    for p in pids:
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass
    return not any(h.proc_stat(p) for p in pids)


def orphans():
    """Processes re-parented to this test (a subreaper) that no h.Server
    started with Popen: what is left of a server whose master is gone."""
    mine = {s.proc.pid for s in Server.started
            if s.proc is not None and s.proc.returncode is None}
    return [p for p in h.children_of(os.getpid()) if p not in mine]


def reap_orphans():
    """Reap every orphan that has exited; the ones still alive."""
    left = []
    for p in orphans():
        try:
            done, _ = os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            continue
        if done != p:
            left.append(p)
    return left


def all_gone(pids):
    """True when none of pids exists and no orphan is left (zombies
    re-parented to this process are reaped on the way): no process of a
    server whose master is gone remains, including workers forked after
    pids was listed."""
    return not reap_orphans() and reap_gone(pids) and not orphans()


def worker_procs(srv):
    """Every worker process under the manager (serving, standby or
    retiring): [(pid, title, state)]."""
    mgr = srv.manager_pid()
    if mgr is None:
        return []
    out = []
    for p in h.children_of(mgr):
        st = h.proc_stat(p)
        if st is not None:
            out.append((p, h.proc_cmdline(p) or "", st[1]))
    srv.note([p for p, _, _ in out])
    return out


def port_bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((h.HOST, port))
            s.listen(1)
            return True
        except OSError:
            return False


# ---------------------------------------------------------------- load

VERSION_RE = re.compile(rb"v(\d+):")


class Load:
    """Request/response load against the version plugin: `persistent`
    threads each keep one connection and send lines on it; `churn` threads
    open a new connection for every request. Every reply must be
    "vN:" + the line sent; anything else, a timeout, or a connection that
    breaks is a failure. Replies' versions are recorded."""

    def __init__(self, port, persistent=6, churn=2, timeout=30.0,
                 pause=0.002):
        self.port = port
        self.timeout = timeout
        self.pause = pause
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []         # (thread, description)
        self.versions = {}         # version -> count
        self.last_version = {}     # thread -> last version seen
        self.per_thread = {}       # thread -> replies checked
        self.threads = [threading.Thread(target=self._persistent, args=(i,),
                                         daemon=True)
                        for i in range(persistent)]
        self.threads += [threading.Thread(target=self._churn, args=(i,),
                                          daemon=True)
                         for i in range(churn)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _record(self, name, reply, msg):
        m = VERSION_RE.match(reply)
        if m is None or reply[m.end():] != msg:
            with self.lock:
                self.failures.append((name, "got %r for %r" % (reply, msg)))
            return False
        v = int(m.group(1))
        with self.lock:
            self.ok += 1
            self.versions[v] = self.versions.get(v, 0) + 1
            self.last_version[name] = v
            self.per_thread[name] = self.per_thread.get(name, 0) + 1
        return True

    def _fail(self, name, what):
        with self.lock:
            self.failures.append((name, what))

    def _persistent(self, idx):
        name = "persistent %d" % idx
        n = 0
        try:
            with h.connect(self.port, timeout=self.timeout) as s:
                while not self.stop_ev.is_set():
                    msg = b"p%d r%d\n" % (idx, n)
                    if not self._record(name, h.request(s, msg), msg):
                        return
                    n += 1
                    time.sleep(self.pause)
        except (OSError, h.TestFailure) as e:
            self._fail(name, "after %d requests: %r" % (n, e))

    def _churn(self, idx):
        name = "churn %d" % idx
        n = 0
        while not self.stop_ev.is_set():
            msg = b"c%d r%d\n" % (idx, n)
            try:
                with h.connect(self.port, timeout=self.timeout) as s:
                    if not self._record(name, h.request(s, msg), msg):
                        return
            except (OSError, h.TestFailure) as e:
                self._fail(name, "connection %d: %r" % (n, e))
                return
            n += 1
            time.sleep(self.pause)

    def count(self):
        with self.lock:
            return self.ok

    def wait_requests(self, n, timeout=60.0):
        """Wait for n more replies in all, and for at least two more in
        every thread (so each thread's last_version is recent)."""
        base = self.count()
        with self.lock:
            marks = dict(self.per_thread)

        def done():
            with self.lock:
                each = all(self.per_thread.get(k, 0) >= v + 2
                           for k, v in marks.items())
            return (self.count() >= base + n and each) or self.failures
        h.wait_until(done, timeout, what="%d more requests" % n)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(self.timeout + 10)
        check(not any(t.is_alive() for t in self.threads),
              "load threads hung")

    def check_clean(self):
        for name, what in self.failures[:20]:
            log("  %s: %s" % (name, what))
        check(not self.failures, "%d failed request(s) or broken "
              "connection(s) out of %d" % (len(self.failures),
                                           self.ok + len(self.failures)))


def ask(port, line, timeout=20.0):
    """One request on a new connection; the reply line."""
    with h.connect(port, timeout=timeout) as s:
        return h.request(s, line)


def version_of(reply):
    m = VERSION_RE.match(reply)
    check(m is not None, "not a version reply: %r" % reply)
    return int(m.group(1))


def wait_version(port, version, timeout=30.0):
    """Poll new connections until one is answered by build `version`."""
    def answered():
        return version_of(ask(port, b"which\n")) == version
    h.wait_until(answered, timeout, interval=0.05,
                 what="a reply from v%d" % version)


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass
