"""test_socket_activation.py: systemd socket activation (LISTEN_FDS).

The test makes the sockets a .socket unit would: a TCP socket listening
on a free port, a Unix stream socket listening at a path, a UDP socket,
and a fourth, TCP, that no listener of the config names. It passes them
as fds 3 to 6 with LISTEN_FDS=4, LISTEN_FDNAMES and LISTEN_PID set to the
server's pid (a shell sets it, then execs swx-server in its place). The
plugin (frame_probe) answers each message with the listener it came on.

- The server serves on the TCP, Unix and UDP sockets without binding: the
  port and the path are held by the test's sockets, so a bind of its own
  would fail (the second run shows it does).
- The stray socket is logged and closed: once the test drops its own copy,
  its port refuses connections.
- At the stop the Unix socket's file stays: it is the unit's, not the
  server's.
- With LISTEN_PID naming another process the passed sockets are not taken:
  the server binds its own and fails on the port the test holds.
"""

import errno
import fcntl
import os
import socket
import subprocess

from ops_helper import h
import ops_helper as o

FRAME_PROBE = os.environ.get("SWX_FRAME_PROBE_PLUGIN", "")


def listening_tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((h.HOST, 0))
    s.listen(16)
    return s


def listening_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    return s


class ActivatedServer(o.Server):
    """Started the way systemd starts a socket-activated service: the
    sockets at fds 3.., LISTEN_FDS, LISTEN_FDNAMES, and LISTEN_PID (the
    shell's pid, which exec keeps)."""

    socks = ()
    names = ""
    listen_pid = "$$"

    def spawn(self):
        self.close_files()
        self.err_file = open(self.log_path, "ab")
        self.out_file = open(self.stdout_path, "ab")
        fds = [s.fileno() for s in self.socks]

        def child():
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)      # inheritable: it survives exec
                os.close(fd)
            h.no_core_dumps()
        env = dict(os.environ, LISTEN_FDS=str(len(fds)),
                   LISTEN_FDNAMES=self.names)
        script = 'LISTEN_PID=%s; export LISTEN_PID; exec "$0" "$@"' \
            % self.listen_pid
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", script, h.SERVER, "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self.out_file,
            stderr=self.err_file, env=env, close_fds=False,
            preexec_fn=child)
        self.seen[self.proc.pid] = h.proc_stat(self.proc.pid)
        return self.proc


def refused(port):
    try:
        socket.create_connection((h.HOST, port), timeout=5).close()
        return False
    except OSError as e:
        return e.errno == errno.ECONNREFUSED


def udp_ask(port, data):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(data, (h.HOST, port))
        return s.recv(65536)


def record(listener, data):
    """frame_probe's answer to data on that listener (worker 0)."""
    return b"M w=0 l=%d b=0 n=%d\n%s" % (listener, len(data), data)


def activated(tcp, stray, unix, path, udp):
    with ActivatedServer("sd-activation", server={"worker_num": 1,
                                                  "reactor_num": 1},
                         plugins=[{"name": "probe", "path": FRAME_PROBE}],
                         port=tcp.getsockname()[1]) as srv:
        udp_port = udp.getsockname()[1]
        srv.listeners = [
            {"type": "tcp", "host": h.HOST, "port": srv.port,
             "plugin": "probe"},
            {"type": "unix", "path": path, "plugin": "probe"},
            {"type": "udp", "host": h.HOST, "port": udp_port,
             "plugin": "probe"}]
        srv.write_config()
        srv.socks = (tcp, unix, udp, stray)
        srv.names = "web:local:dgram:stray"
        srv.start()
        stray_port = stray.getsockname()[1]
        for s in (tcp, unix, udp, stray):
            s.close()       # the server's copies are the only ones now
        with h.connect(srv.port) as c:
            c.sendall(b"tcp")
            o.check(h.recv_exact(c, len(record(0, b"tcp"))) ==
                    record(0, b"tcp"), "no answer on TCP")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(path)
            c.sendall(b"unix")
            o.check(h.recv_exact(c, len(record(1, b"unix"))) ==
                    record(1, b"unix"), "no answer on Unix")
        reply = udp_ask(udp_port, b"udp")
        o.check(reply == record(2, b"udp"), "UDP answer %r" % reply)
        for i, (fd, name) in enumerate(((3, "web"), (4, "local"),
                                        (5, "dgram"))):
            srv.wait_log(r'listeners\[%d\]: the socket systemd passed '
                         r'\(fd %d \("%s"\)\)' % (i, fd, name))
        srv.wait_log(r'socket activation: fd 6 \("stray"\) matches no '
                     r'listener .*; closed')
        o.check(refused(stray_port), "the stray socket's port %d still "
                "accepts" % stray_port)
        h.log("served on the passed TCP, Unix and UDP sockets; the stray "
              "one was closed")
        srv.stop()
        o.check(os.path.exists(path), "the passed Unix socket's file was "
                "removed at the stop")


def not_for_us(tcp):
    with ActivatedServer("sd-activation-other", server={"worker_num": 1},
                         port=tcp.getsockname()[1]) as srv:
        srv.socks = (tcp,)
        srv.names = "web"
        srv.listen_pid = "1"
        srv.spawn()
        rc = srv.proc.wait(30)
        o.check(rc == 1, "LISTEN_PID=1: exit %s" % rc)
        srv.wait_log(r"LISTEN_FDS is set for pid 1, not this process")
        srv.wait_log(r"Address already in use")
        h.log("LISTEN_PID=1: the passed socket was not taken; the bind "
              "failed on the port held")


def main():
    tmp = os.environ.get("SWX_TEST_TMPDIR") or None
    work = h.tempfile.mkdtemp(prefix="swx-sd-activation-", dir=tmp)
    path = os.path.join(work, "app.sock")
    o.require(FRAME_PROBE)
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((h.HOST, 0))
        activated(listening_tcp(), listening_tcp(), listening_unix(path),
                  path, udp)
        with listening_tcp() as other:
            not_for_us(other)
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(work)


if __name__ == "__main__":
    h.main(main)
