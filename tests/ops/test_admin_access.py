"""test_admin_access.py: who may use the admin endpoint.

- The Unix socket is created mode 0600 by default, also when the server
  runs under umask 000; admin.mode sets it ("0660" or an integer), whatever
  the umask. Bad modes, and a mode for a TCP endpoint, are refused naming
  admin.mode.
"""

import os
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


def main():
    o.require(o.V1)
    unix_mode()
    bad_modes()


if __name__ == "__main__":
    h.main(main)
