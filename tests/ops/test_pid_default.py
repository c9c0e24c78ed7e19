"""test_pid_default.py: `swx-server -s` works with conf/server.json as
shipped, which sets no pid_file: the server writes the default pid file
of that config, and -s finds it.

The shipped file is copied as it is, with only its ports changed to free
ones, into a tree laid out like the source tree (conf/, and build/ and
docs/ as links to the real ones), so its relative paths hold; its HTTPS
listener's certificate is made in conf/tls/ by scripts/make_cert.sh, as
scripts/run.sh does.

- `-t` names the default pid file; a copy of the config elsewhere gets
  another one (servers of different configs never share a pid file).
- The running master's pid is in it; `-s reload`, `-s reopen` and
  `-s stop` given the config by another relative path reach it; the stop
  removes the file.
"""

import os
import re
import subprocess

from ops_helper import h
import ops_helper as o

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(h.SERVER)))


def shipped_config(ports):
    """conf/server.json with each "port": N replaced by the next free
    port; (text, {old: new})."""
    with open(os.path.join(SOURCE, "conf", "server.json")) as f:
        text = f.read()
    mapping = {}

    def repl(m):
        mapping[int(m.group(1))] = ports.pop(0)
        return '"port": %d' % mapping[int(m.group(1))]
    return re.sub(r'"port": (\d+)', repl, text), mapping


def cli(args, cwd):
    p = subprocess.run([h.SERVER] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def default_pid_file(cwd, config):
    rc, out, err = cli(["-t", "--config", config], cwd)
    o.check(rc == 0, "-t: exit %d: %s%s" % (rc, out, err))
    m = re.search(r"pid file: (\S+) \(the default for this config\)", out)
    o.check(m is not None, "-t names no default pid file: %r" % out)
    return m.group(1)


class ShippedServer(o.Server):
    def layout(self):
        text, self.ports = shipped_config(h.free_ports(8))
        os.mkdir(os.path.join(self.dir, "conf"))
        p = subprocess.run([os.path.join(SOURCE, "scripts", "make_cert.sh"),
                            os.path.join(self.dir, "conf", "tls")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        o.check(p.returncode == 0, "make_cert.sh: %s" % p.stdout.decode())
        for name, target in (("build", BUILD),
                             ("docs", os.path.join(SOURCE, "docs")),
                             ("README.md", os.path.join(SOURCE, "README.md"))):
            os.symlink(target, os.path.join(self.dir, name))
        self.config_path = os.path.join(self.dir, "conf", "server.json")
        self.port = self.ports[9501]
        self.server_cfg = {"worker_num": 2}   # as conf/server.json says
        self.write_config(text)


def main():
    with ShippedServer("pid-default") as srv, \
            ShippedServer("pid-default-b") as other:
        srv.layout()
        other.layout()
        pid_file = default_pid_file(srv.dir, "conf/server.json")
        o.check(pid_file != default_pid_file(other.dir, "conf/server.json"),
                "two configs share the default pid file %s" % pid_file)
        o.check(not os.path.exists(pid_file), "%s exists before the start"
                % pid_file)
        srv.start()
        with open(pid_file) as f:
            o.check(int(f.read()) == srv.pid, "%s does not hold the "
                    "master's pid %d" % (pid_file, srv.pid))
        h.log("default pid file %s holds the master's pid" % pid_file)
        # From another directory, by another relative path.
        conf = os.path.join(srv.dir, "conf")
        for cmd, line in (("reload", r"reload done"),
                          ("reopen", r"master: log file reopened")):
            rc, out, err = cli(["-s", cmd, "--config", "server.json"], conf)
            o.check(rc == 0, "-s %s: exit %d: %s%s" % (cmd, rc, out, err))
            srv.wait_log(line)
            h.log("-s %s: %s" % (cmd, line))
        reply = o.ask(srv.ports[9501], b"echo\n")
        o.check(reply == b"echo\n", "echo after the reload: %r" % reply)
        rc, out, err = cli(["-s", "stop", "--config", "conf/server.json"],
                           srv.dir)
        o.check(rc == 0, "-s stop: exit %d: %s%s" % (rc, out, err))
        o.check(srv.proc.wait(30) == 0, "exit status %s" % srv.proc.returncode)
        o.check(not os.path.exists(pid_file), "pid file left behind")
        rc, out, err = cli(["-s", "reload", "--config", "conf/server.json"],
                           srv.dir)
        o.check(rc == 1 and "is the server running?" in err,
                "-s reload with no server: exit %d: %s" % (rc, err))
        h.log("-s stop: exit 0, pid file removed; -s then says %r"
              % err.strip())


if __name__ == "__main__":
    h.main(main)
