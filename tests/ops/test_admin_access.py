"""test_admin_access.py: who may use the admin endpoint.

- The Unix socket is created mode 0600 by default, also when the server
  runs under umask 000; admin.mode sets it ("0660" or an integer), whatever
  the umask. Bad modes, and a mode for a TCP endpoint, are refused naming
  admin.mode.
- A TCP endpoint without admin.token is refused at start, naming
  admin.token; a bad token is refused without showing it.
- With a token, every request needs "Authorization: Bearer TOKEN": none,
  a wrong one, another scheme or two fields get 401 with
  "WWW-Authenticate: Bearer" (and POST /reload does not reload); the
  right one gets GET /stats and POST /reload. The same on a Unix socket,
  where the token is optional. The token never appears in the log.
"""

import json
import os
import socket
import stat

from ops_helper import h
import ops_helper as o


def socket_mode(path):
    st = os.lstat(path)
    o.check(stat.S_ISSOCK(st.st_mode), "%s is not a socket" % path)
    return stat.S_IMODE(st.st_mode)


def start_under_umask(srv, mask):
    old = os.umask(mask)
    try:
        srv.start()
    finally:
        os.umask(old)


def unix_mode():
    # (admin.mode or None, umask of the server, the mode expected)
    cases = ((None, 0o000, 0o600), ("0660", 0o000, 0o660),
             (0o640, 0o000, 0o640), ("666", 0o077, 0o666),
             ("0600", 0o022, 0o600))
    for mode, mask, want in cases:
        with o.Server("admin-mode", server={"worker_num": 1,
                                            "reactor_num": 1}) as srv:
            path = os.path.join(srv.dir, "admin.sock")
            srv.admin_cfg = {"unix": path}
            if mode is not None:
                srv.admin_cfg["mode"] = mode
            srv.plugins = [{"name": "app", "path": o.V1}]
            srv.write_config()
            start_under_umask(srv, mask)
            got = socket_mode(path)
            o.check(got == want, "admin.mode %r under umask %03o: the socket "
                    "is %04o, expected %04o" % (mode, mask, got, want))
            o.check(o.stats(path)["worker_num"] == 1, "GET /stats")
            srv.stop()
        h.log("admin.mode %r, umask %03o: socket mode %04o"
              % (mode, mask, got))


def bad_modes():
    with o.Server("admin-bad-mode") as srv:
        path = os.path.join(srv.dir, "admin.sock")
        for mode in ("0800", "abc", "", "07777", "1000", "0o600", 512, -1,
                     6.0, True, None):
            srv.admin_cfg = {"unix": path, "mode": mode}
            srv.write_config()
            rc, out, err = srv.check_config()
            o.check(rc == 1 and "admin.mode: expected" in err,
                    "admin.mode %r: %d %r" % (mode, rc, err))
        srv.admin_cfg = {"port": h.free_port(), "mode": "0600"}
        srv.write_config()
        rc, out, err = srv.check_config()
        o.check(rc == 1 and "admin.mode" in err and "unix" in err,
                "a mode for a TCP endpoint: %d %r" % (rc, err))
        o.check(not os.path.exists(path), "-t created the socket")
        h.log("bad modes refused: %s" % err.strip())


def refused_start(srv, key):
    """srv must exit 1 at start with an error naming key; the error."""
    srv.spawn()
    started = r"\] %d master: swx-server \S+ started" % srv.pid
    h.wait_until(lambda: srv.proc.poll() is not None or
                 o.count_log(srv, started), 60, what="the start to fail")
    o.check(srv.proc.returncode == 1, "the server did not refuse to start "
            "(exit %r)" % srv.proc.returncode)
    lines = [ln for ln in srv.log_text().splitlines() if key in ln]
    o.check(lines, "no error naming %s in the log" % key)
    return lines[0]


def tcp_needs_token():
    with o.Server("admin-no-token", admin={"port": h.free_port(),
                                           "token": o.NO_TOKEN}) as srv:
        rc, out, err = srv.check_config()
        o.check(rc == 1 and "admin.token" in err and "required" in err,
                "-t, TCP admin without a token: %d %r" % (rc, err))
        line = refused_start(srv, "admin.token")
        o.check(o.port_bindable(srv.admin_cfg["port"]), "the admin port "
                "was left bound")
        h.log("TCP admin without a token refused: %s"
              % line.split("master: ", 1)[-1])
        secret = "SECRET-xyz-42"
        for token in ("", "has space " + secret, secret + "\u00e9",
                      secret + "!", "x" * 1025, 12345, None, [secret]):
            srv.admin_cfg = {"port": h.free_port(), "token": token}
            srv.write_config()
            rc, out, err = srv.check_config()
            o.check(rc == 1 and "admin.token: expected" in err,
                    "admin.token %r: %d %r" % (token, rc, err))
            o.check(secret not in err and "12345" not in err,
                    "the error shows the token: %r" % err)
        srv.admin_cfg = {"token": secret}
        srv.write_config()
        rc, out, err = srv.check_config()
        o.check(rc == 1 and "either" in err and secret not in err,
                "an admin object without port or unix: %d %r" % (rc, err))
        h.log("bad tokens refused without showing them: %s" % err.strip())


def raw_status(admin, data):
    """The status code answered to raw request bytes, and the reply."""
    if isinstance(admin, int):
        s = socket.create_connection((h.HOST, admin), timeout=20)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(admin)
    with s:
        s.sendall(data)
        reply = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            reply += b
    return int(reply.split(b" ", 2)[1]), reply


def refused(admin, token, headers=None, method="GET", path="/stats"):
    status, hdrs, body = o.admin_call(admin, method, path, token=token,
                                      headers=headers)
    o.check(status == 401, "%s %s with %r / %r: %d, expected 401 (%s)"
            % (method, path, token, headers, status, body))
    auth = hdrs.get("WWW-Authenticate") or ""
    o.check(auth.startswith("Bearer"), "401 without WWW-Authenticate: "
            "Bearer (%r)" % auth)
    h.check_server_date(hdrs.get, "401")


def stats_with(admin, token):
    status, _, body = o.admin_call(admin, "GET", "/stats", token=token)
    o.check(status == 200, "GET /stats with the token: %d %s"
            % (status, body))
    return json.loads(body)


def check_token(srv, admin, token):
    """Every way to get it wrong is 401; the right token is served."""
    wrong = ("wrong", token + "x", token[:-1], "")
    for method, path in (("GET", "/stats"), ("POST", "/reload"),
                         ("GET", "/nope")):
        refused(admin, None, method=method, path=path)
        for w in wrong:
            refused(admin, w, method=method, path=path)
    for value in ("Basic " + token, token, "Bearer", "Bearer" + token,
                  "Token " + token):
        refused(admin, None, headers={"Authorization": value})
    two = ("GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (token, token)).encode()
    status, reply = raw_status(admin, two)
    o.check(status == 401, "two Authorization fields: %d" % status)
    o.check(stats_with(admin, token)["reload_count"] == 0 and
            o.count_log(srv, r"admin: reload requested") == 0,
            "an unauthorized POST /reload reloaded")
    for value in ("Bearer " + token, "bearer " + token,
                  "Bearer   %s  " % token):
        status, _, body = o.admin_call(admin, "GET", "/stats", token=None,
                                       headers={"Authorization": value})
        o.check(status == 200, "GET /stats with %r: %d %s"
                % (value, status, body))
    status, _, body = o.admin_call(admin, "POST", "/reload", token=token)
    o.check(status == 202, "POST /reload with the token: %d %s"
            % (status, body))
    h.wait_until(lambda: stats_with(admin, token)["reload_count"] == 1, 60,
                 what="reload_count 1")
    o.check(token not in srv.log_text(), "the token is in the log")


def tcp_token():
    token = "Tok-en_1.2~3+4/5="
    with o.Server("admin-token", server={"worker_num": 1, "reactor_num": 1},
                  admin={"port": h.free_port(), "token": token}) as srv:
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.write_config()
        srv.start()
        check_token(srv, srv.admin, token)
        srv.stop()
        h.log("TCP admin with a token: 401 without it, GET /stats and "
              "POST /reload with it")


def unix_token():
    with o.Server("admin-unix-token", server={"worker_num": 1,
                                              "reactor_num": 1}) as srv:
        path = os.path.join(srv.dir, "admin.sock")
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.admin_cfg = {"unix": path}
        srv.write_config()
        srv.start()
        status, _, body = o.admin_call(path, "GET", "/stats", token=None)
        o.check(status == 200, "Unix socket without a token configured: "
                "%d %s" % (status, body))
        srv.stop()
        token = "unix-0123456789"
        srv.admin_cfg = {"unix": path, "token": token}
        srv.write_config()
        srv.start()
        check_token(srv, path, token)
        srv.stop()
        h.log("Unix socket: no token needed unless set; with one, as TCP")


def main():
    o.require(o.V1)
    unix_mode()
    bad_modes()
    tcp_needs_token()
    tcp_token()
    unix_token()


if __name__ == "__main__":
    h.main(main)
