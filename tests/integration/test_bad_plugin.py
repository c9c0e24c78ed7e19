"""test_bad_plugin.py: a plugin the server cannot use is refused, by -t and
by a normal start alike, with a message naming the plugin, its path and
what is wrong; nothing is left running."""

import os
import re

import swx_harness as h


def server_abi():
    rc, out, _ = h.run_cli(["--version"])
    m = re.search(r"plugin ABI (\d+)\.(\d+)", out)
    h.check(rc == 0 and m, "--version: %r" % out)
    return int(m.group(1)), int(m.group(2))


def refused(name, path, expect):
    """Both -t and a start exit 1 with every string of expect on stderr."""
    with h.Server("bad-" + name,
                  plugins=[{"name": name, "path": path}]) as srv:
        rc, out, err = srv.check_config()
        h.check(rc == 1, "-t with plugin %s exited %d, expected 1 (stderr "
                "%r)" % (name, rc, err))
        h.check("configuration ok" not in out, "-t said ok for %s" % name)
        for s in expect:
            h.check(s in err, "-t stderr lacks %r: %r" % (s, err))

        srv.spawn()
        try:
            rc = srv.proc.wait(30)
        except Exception:
            raise h.TestFailure("the server did not exit with plugin %s"
                                % name)
        err = srv.log_text()
        h.check(rc == 1, "start with plugin %s exited %d, expected 1 (%r)"
                % (name, rc, err))
        for s in expect:
            h.check(s in err, "start stderr lacks %r: %r" % (s, err))
        srv.check_no_leftovers()
        srv.check_log_clean()
        h.log("%s refused: %s" % (name, err.strip().splitlines()[-1]))


def main():
    major, minor = server_abi()
    refused("abi2", h.ABI_MISMATCH, [
        'plugin "abi2" (%s): plugin ABI %d.0, server ABI %d.%d: rebuild the '
        "plugin against this server's swx_plugin.h"
        % (h.ABI_MISMATCH, major + 1, major, minor)])
    refused("badmagic", h.BAD_MAGIC, [
        'plugin "badmagic" (%s): ' % h.BAD_MAGIC,
        "not a swx plugin description"])
    missing = os.path.join(os.path.dirname(h.PROBE), "libswx_missing.so")
    refused("missing", missing, [
        'plugin "missing" (%s): ' % missing,
        "cannot open shared object file", "No such file or directory"])
    # A file that is not a shared object at all.
    with h.Server("not-elf") as srv:
        junk = os.path.join(srv.dir, "junk.so")
        with open(junk, "w") as f:
            f.write("not an ELF file\n")
        refused("junk", junk, ['plugin "junk" (%s): ' % junk])
    # A shared object without the swx_plugin symbol: dlsym's error.
    refused("nosym", h.NO_SYMBOL, ['plugin "nosym" (%s): ' % h.NO_SYMBOL,
                                   "undefined symbol: swx_plugin"])
    # A good plugin next to a bad one: the bad one still stops the start.
    with h.Server("mixed", plugins=[{"name": "echo", "path": h.ECHO},
                                    {"name": "abi2", "path": h.ABI_MISMATCH}
                                    ]) as srv:
        rc, out, err = srv.check_config()
        h.check(rc == 1 and 'plugin "abi2"' in err,
                "-t with one bad plugin of two: %d %r" % (rc, err))


if __name__ == "__main__":
    h.main(main)
