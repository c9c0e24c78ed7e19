"""test_socket_paths.py: Unix socket paths (unix and unix_dgram listeners,
admin.unix) are bound only when free or holding a stale socket, and
removed at stop only while they are still the file the server made.

- A path naming a regular file, a directory or a symbolic link: the server
  exits 1 with an error naming the JSON path, what was expected and what
  was found; the file is untouched, and no socket file of that start is
  left. -t reports the same and touches nothing; it accepts a live socket.
- A second instance given a running instance's socket path (stream,
  datagram, the other type, admin) is refused; the first still answers.
- A socket file another process put at the path after the start is not
  removed by the stop.
- A stale socket file (connect refused) is replaced, and removed at stop.
"""

import os
import socket

from ops_helper import h
import ops_helper as o

KEYS = ("listeners[1].path", "listeners[2].path", "admin.unix")


class Paths:
    """The three socket paths of a server, in its directory."""

    def __init__(self, srv):
        self.stream = os.path.join(srv.dir, "s.sock")
        self.dgram = os.path.join(srv.dir, "d.sock")
        self.admin = os.path.join(srv.dir, "a.sock")

    def by_key(self):
        return dict(zip(KEYS, (self.stream, self.dgram, self.admin)))


def configure(srv, stream, dgram, admin):
    """A TCP listener (to know it serves), then the Unix ones given."""
    srv.plugins = [{"name": "app", "path": o.V1}]
    srv.listeners = [{"type": "tcp", "host": h.HOST, "port": srv.port,
                      "plugin": "app"}]
    if stream is not None:
        srv.listeners.append({"type": "unix", "path": stream,
                              "plugin": "app"})
    if dgram is not None:
        srv.listeners.append({"type": "unix_dgram", "path": dgram,
                              "plugin": "app"})
    srv.admin_cfg = {"unix": admin} if admin is not None else None
    srv.write_config()


def new_server(name):
    return o.Server(name, server={"worker_num": 1, "reactor_num": 1})


def ask_unix(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(path)
        return h.request(s, b"hello\n")


def dgram_bound(path):
    """True when a datagram socket is bound at path (connect succeeds)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def check_serving(paths):
    o.check(ask_unix(paths.stream) == b"v1:hello\n", "the unix listener "
            "does not answer")
    o.check(dgram_bound(paths.dgram), "the unix_dgram listener is gone")
    o.check(o.stats(paths.admin)["worker_num"] == 1, "the admin socket")


def refused_start(srv, key, found):
    """srv must exit 1 at start, naming key and what it found."""
    srv.spawn()
    started = r"\] %d master: swx-server \S+ started" % srv.pid
    h.wait_until(lambda: srv.proc.poll() is not None or
                 o.count_log(srv, started), 60, what="the start to fail")
    o.check(srv.proc.poll() is not None, "%s: the server started instead "
            "of refusing the path (%r expected)" % (key, found))
    rc = srv.proc.returncode
    text = srv.log_text()
    o.check(rc == 1, "%s: the server exited with %d, expected 1" % (key, rc))
    line = [ln for ln in text.splitlines() if key in ln and found in ln]
    o.check(line and "expected" in line[0], "%s: no error naming it and %r "
            "in the log:\n%s" % (key, found, text))
    return line[0]


def make_stale(path, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    s.close()
    with socket.socket(socket.AF_UNIX, kind) as c:
        try:
            c.connect(path)
            raise h.TestFailure("%s is not stale" % path)
        except ConnectionRefusedError:
            pass


def not_a_socket():
    """Regular file, directory, symbolic link: refused, untouched."""
    with new_server("sockpath-file") as srv:
        paths = Paths(srv)
        target = os.path.join(srv.dir, "precious.json")
        with open(target, "w") as f:
            f.write('{"keep": true}\n')
        for key, path in paths.by_key().items():
            for kind in ("a regular file", "a directory",
                         "a symbolic link"):
                if kind == "a regular file":
                    with open(path, "w") as f:
                        f.write("do not delete\n")
                elif kind == "a directory":
                    os.mkdir(path)
                else:
                    os.symlink(target, path)
                before = os.lstat(path)
                configure(srv, paths.stream, paths.dgram, paths.admin)
                rc, out, err = srv.check_config()
                o.check(rc == 1 and key in err and kind in err,
                        "-t with %s at %s: %d %r" % (kind, key, rc, err))
                line = refused_start(srv, key, kind)
                after = os.lstat(path)
                o.check((after.st_ino, after.st_mtime_ns) ==
                        (before.st_ino, before.st_mtime_ns),
                        "%s at %s was touched" % (kind, key))
                for other in paths.by_key().values():
                    o.check(other == path or not os.path.lexists(other),
                            "a failed start left %s behind" % other)
                if kind == "a regular file":
                    with open(path) as f:
                        o.check(f.read() == "do not delete\n",
                                "the file's content changed")
                    os.unlink(path)
                elif kind == "a directory":
                    os.rmdir(path)
                else:
                    os.unlink(path)
                with open(target) as f:
                    o.check(f.read() == '{"keep": true}\n', "the link's "
                            "target changed")
            h.log("%s: refused for a file, a directory and a link: %s"
                  % (key, line.split("master: ", 1)[-1]))


def live_socket():
    """A second instance on a running one's paths is refused."""
    with new_server("sockpath-live-a") as a:
        paths = Paths(a)
        configure(a, paths.stream, paths.dgram, paths.admin)
        a.start()
        check_serving(paths)
        rc, out, err = a.check_config()
        o.check(rc == 0, "-t refused the running server's own sockets: %r"
                % err)
        # (listener type, path) of the second instance, the key refused.
        cases = ((("unix", paths.stream), "listeners[1].path"),
                 (("unix_dgram", paths.dgram), "listeners[1].path"),
                 (("unix", paths.dgram), "listeners[1].path"),
                 (("unix_dgram", paths.stream), "listeners[1].path"),
                 (("admin", paths.admin), "admin.unix"))
        for (kind, path), key in cases:
            with new_server("sockpath-live-b") as b:
                configure(b, path if kind == "unix" else None,
                          path if kind == "unix_dgram" else None,
                          path if kind == "admin" else None)
                line = refused_start(b, key, "running process answers")
                check_serving(paths)
            h.log("%s %s: refused (%s); the first still answers"
                  % (kind, os.path.basename(path),
                     line.split("master: ", 1)[-1]))
        a.stop()
        for p in paths.by_key().values():
            o.check(not os.path.lexists(p), "%s left after the stop" % p)


def replaced_kept():
    """Files put at the paths after the start survive the stop."""
    with new_server("sockpath-replaced") as srv:
        paths = Paths(srv)
        configure(srv, paths.stream, paths.dgram, paths.admin)
        srv.start()
        check_serving(paths)
        others = []
        for path in (paths.stream, paths.admin):
            os.unlink(path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.listen(1)
            others.append(s)
        os.unlink(paths.dgram)
        with open(paths.dgram, "w") as f:
            f.write("someone else's\n")
        inodes = {p: os.lstat(p).st_ino for p in paths.by_key().values()}
        srv.stop()
        for p, ino in inodes.items():
            o.check(os.path.lexists(p) and os.lstat(p).st_ino == ino,
                    "the stop removed %s, which it did not make" % p)
        for s in others:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(s.getsockname())
            s.close()
        o.check(o.count_log(srv, r"no longer the socket file") == 3,
                "the stop did not say it left 3 files alone")
        h.log("the stop left the 3 files put there since the start")


def stale_reused():
    with new_server("sockpath-stale") as srv:
        paths = Paths(srv)
        make_stale(paths.stream)
        make_stale(paths.dgram, socket.SOCK_DGRAM)
        make_stale(paths.admin)
        configure(srv, paths.stream, paths.dgram, paths.admin)
        inodes = {p: os.lstat(p).st_ino for p in paths.by_key().values()}
        rc, out, err = srv.check_config()
        o.check(rc == 0, "-t refused stale sockets: %r" % err)
        for p, ino in inodes.items():
            o.check(os.path.lexists(p) and os.lstat(p).st_ino == ino,
                    "-t touched the stale socket file %s" % p)
        srv.start()
        check_serving(paths)
        o.check(o.count_log(srv, r"removed the stale socket file") == 3,
                "3 stale socket files were not reported replaced")
        srv.stop()
        for p in paths.by_key().values():
            o.check(not os.path.lexists(p), "%s left after the stop" % p)
        h.log("stale socket files replaced, and removed at stop")


def main():
    o.require(o.V1)
    not_a_socket()
    live_socket()
    replaced_kept()
    stale_reused()


if __name__ == "__main__":
    h.main(main)
