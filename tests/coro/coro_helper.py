"""coro_helper.py: what the coroutine tests add to the integration harness
(tests/integration/swx_harness.py, as h): the coprobe plugin's config, a
line client for it, and an HTTP GET.

Paths come from the environment that tests/coro/meson.build sets.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import swx_harness as h  # noqa: E402

COPROBE = os.environ.get("SWX_COPROBE_PLUGIN", "")
log = h.log
check = h.check
SLOW = h.is_sanitized()
ECANCELED, EPERM, ETIMEDOUT = -125, -1, -110


def server(name, server_cfg=None, http=False, plugin=("coprobe", None),
           **kw):
    """A Server running coprobe (or plugin: (name, path)) on a TCP
    listener (and an HTTP one when http: its port is srv.http_port)."""
    pname, path = plugin[0], plugin[1] or COPROBE
    h.require(path)
    plugins = [{"name": pname, "path": path}]
    srv = h.Server(name, server=dict(server_cfg or {"worker_num": 1}),
                   plugins=plugins, **kw)
    listeners = [{"type": "tcp", "host": h.HOST, "port": srv.port,
                  "plugin": pname}]
    if http:
        srv.http_port = h.free_port()
        listeners.append({"type": "tcp", "host": h.HOST,
                          "port": srv.http_port, "plugin": pname,
                          "protocol": "http"})
    srv.listeners = listeners
    srv.write_config()
    return srv


def fields(reply):
    """{name: value} of a reply's name=value words."""
    return dict(w.split("=", 1) for w in reply.split() if "=" in w)


def ask(port, line, timeout=60.0):
    s = h.connect(port, timeout)
    try:
        return h.request(s, line.encode() + b"\n").decode().strip()
    finally:
        s.close()


def http_get(port, path, timeout=30.0):
    """(status, body) of a GET on a fresh connection."""
    s = h.connect(port, timeout)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                   % path).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d+)", head)
    check(m is not None, "no status line in %r" % data[:200])
    return int(m.group(1)), body.decode()
