"""cofile_helper.py: what the files-and-programs tests share: a server
running the cofile plugin (tests/coro/cofile.c) on a TCP listener (and an
HTTP one when asked), its one-line commands, and /proc readings of the
worker (its threads, its children).

Paths come from the environment that tests/coro/meson.build sets.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import coro_helper  # noqa: E402
from coro_helper import h, ask, check, fields, log  # noqa: E402,F401

COFILE = os.environ.get("SWX_COFILE_PLUGIN", "")
SLOW = h.is_sanitized()
ENOENT, EISDIR, EFBIG, ESPIPE = -2, -21, -27, -29
EPERM, ETIMEDOUT, ECANCELED, EMSGSIZE = -1, -110, -125, -90


def server(name, server_cfg=None, http=False, **kw):
    """A Server running cofile (srv.http_port: its HTTP listener)."""
    return coro_helper.server(name, server_cfg, http,
                              plugin=("cofile", COFILE), **kw)


def cmd(srv, line, timeout=60.0):
    """{name: value} of the reply to line (hex= decoded into bytes)."""
    r = ask(srv.port, line, timeout)
    f = fields(r)
    check(f, "no reply fields for %r: %r" % (line, r))
    if "hex" in f:
        f["data"] = b"" if f["hex"] == "-" else bytes.fromhex(f["hex"])
    return f


def worker_pid(srv):
    return srv.workers()[0]


def threads(pid):
    """{tid: (comm, SigBlk as an int)} of pid's threads."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                blk = [line.split()[1] for line in f
                       if line.startswith("SigBlk:")][0]
            out[int(tid)] = (comm, int(blk, 16))
        except (OSError, IndexError):
            pass
    return out


def children(pid):
    """(pid, state, cmdline) of pid's children, zombies included."""
    out = []
    for p, st in h.all_procs().items():
        if st[0] == pid:
            out.append((p, st[1], h.proc_cmdline(p) or h.proc_comm(p)))
    return out


def procs_with(text):
    """Pids whose command line contains text."""
    return [p for p in h.all_procs() if text in (h.proc_cmdline(p) or "")]
