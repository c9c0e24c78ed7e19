"""test_config_errors.py: a bad config is refused by -t (and by a start)
with exit 1 and one message naming the file and the place in it; a port
already in use stops a start with a message naming listeners[N].port."""

import json
import os
import socket

import swx_harness as h



def base(srv):
    return {"plugins": [{"name": "echo", "path": h.ECHO}],
            "listeners": [{"port": srv.port, "plugin": "echo"}]}


def expect_error(srv, text, want, also_start=False, prefix=False):
    """Write text as the config; -t must exit 1 with exactly one line
    'swx-server: FILE: ' + want on stderr (with prefix, a line that starts
    so)."""
    srv.write_config(text)
    rc, out, err = srv.check_config()
    line = "swx-server: %s: %s" % (srv.config_path, want)

    def matches(err):
        if prefix:
            return err.startswith(line) and err.count("\n") == 1
        return err == line + "\n"
    h.check(rc == 1, "-t exited %d for %r (stderr %r)" % (rc, want, err))
    h.check(matches(err), "-t stderr\n  %r\nexpected\n  %r" % (err, line))
    h.check(out == "", "-t printed on stdout: %r" % out)
    if also_start:
        rc, out, err = h.run_cli(["--config", srv.config_path])
        h.check(rc == 1 and matches(err), "start: %d %r" % (rc, err))
    h.log("ok: " + err.strip())


def dump(cfg):
    return json.dumps(cfg, indent=2) + "\n"


def config_errors():
    with h.Server("cfg") as srv:
        cfg = base(srv)
        cfg["server"] = {"wrker_num": 2}
        expect_error(srv, dump(cfg), "server.wrker_num: unknown key; "
                     "expected one of reactor_num, worker_num, ",
                     also_start=True, prefix=True)

        cfg = base(srv)
        cfg["plugins"][0]["colour"] = "blue"
        expect_error(srv, dump(cfg), "plugins[0].colour: unknown key; "
                     "expected one of name, path, config", prefix=True)

        cfg = base(srv)
        cfg["server"] = {"worker_num": "four"}
        expect_error(srv, dump(cfg), "server.worker_num: expected an integer"
                     ' from 1 to 1024, found "four"')

        cfg = base(srv)
        cfg["server"] = {"worker_num": 4.0}
        expect_error(srv, dump(cfg), "server.worker_num: expected an integer"
                     " from 1 to 1024, found 4.0")

        cfg = base(srv)
        cfg["listeners"][0]["port"] = 70000
        expect_error(srv, dump(cfg), "listeners[0].port: expected an integer"
                     " from 1 to 65535, found 70000")

        cfg = base(srv)
        cfg["server"] = {"dispatch_mode": 6}
        expect_error(srv, dump(cfg), "server.dispatch_mode: expected an "
                     "integer from 1 to 5, found 6")

        # The file pool: the core count within aio_worker_num, the times
        # numbers of seconds from 0.
        cfg = base(srv)
        cfg["server"] = {"aio_worker_num": 2, "aio_core_worker_num": 3}
        expect_error(srv, dump(cfg), "server.aio_core_worker_num: expected "
                     "at most server.aio_worker_num (2), found 3",
                     also_start=True)

        cfg = base(srv)
        cfg["server"] = {"aio_max_idle_time": -0.5}
        expect_error(srv, dump(cfg), "server.aio_max_idle_time: expected a "
                     "number from 0 to 86400, found -0.5")

        cfg = base(srv)
        cfg["server"] = {"aio_max_wait_time": "1ms"}
        expect_error(srv, dump(cfg), "server.aio_max_wait_time: expected a "
                     'number from 0 to 3600, found "1ms"')

        cfg = base(srv)
        cfg["listeners"].append({"port": srv.port + 1, "plugin": "nope"})
        expect_error(srv, dump(cfg), "listeners[1].plugin: expected the name "
                     'of a declared plugin, found "nope"', also_start=True)

        cfg = base(srv)
        del cfg["plugins"][0]["path"]
        expect_error(srv, dump(cfg), "plugins[0].path: required key is "
                     "missing")

        # Syntax: FILE:LINE:COLUMN: TEXT (no space-separated path part).
        text = ('{\n  "plugins": [\n    {"name": "echo" "path": "x"}\n'
                '  ],\n  "listeners": []\n}\n')
        srv.write_config(text)
        rc, out, err = srv.check_config()
        prefix = "swx-server: %s:3:" % srv.config_path
        h.check(rc == 1 and err.startswith(prefix),
                "syntax error: %d %r, expected %r..." % (rc, err, prefix))
        col = err[len(prefix):].split(":", 1)[0]
        h.check(col.isdigit() and 17 <= int(col) <= 26,
                "syntax error column %r, expected the one of \"path\"" % col)
        h.log("ok: " + err.strip())

        missing = os.path.join(srv.dir, "nope.json")
        rc, out, err = h.run_cli(["-t", "--config", missing])
        h.check(rc == 1 and err == "swx-server: %s: cannot read: No such "
                "file or directory\n" % missing, "missing file: %d %r"
                % (rc, err))

        # And a good one says so.
        srv.write_config()
        rc, out, err = srv.check_config()
        h.check(rc == 0 and "configuration ok" in out,
                "a valid config: %d %r %r" % (rc, out, err))


def port_in_use():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((h.HOST, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with h.Server("inuse", port=port) as srv:
            # -t does not bind, so it passes.
            rc, out, err = srv.check_config()
            h.check(rc == 0, "-t with a busy port: %d %r" % (rc, err))
            srv.spawn()
            try:
                rc = srv.proc.wait(30)
            except Exception:
                raise h.TestFailure("start on a busy port did not exit")
            err = srv.log_text()
            want = ("%s: listeners[0].port: bind 127.0.0.1:%d: Address "
                    "already in use" % (srv.config_path, port))
            h.check(rc == 1, "start on a busy port exited %d: %r" % (rc, err))
            h.check(want in err, "start on a busy port: %r, expected %r"
                    % (err, want))
            srv.check_no_leftovers()
            h.log("ok: " + want)


def main():
    config_errors()
    port_in_use()


if __name__ == "__main__":
    h.main(main)
