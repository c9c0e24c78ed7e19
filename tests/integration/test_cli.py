"""test_cli.py: --help, --version and a bad option, without a config."""

import re

import swx_harness as h


def main():
    rc, out, err = h.run_cli(["--help"])
    h.check(rc == 0, "--help exited %d" % rc)
    for word in ("Usage: swx-server", "--config", "-t", "--help",
                 "--version"):
        h.check(word in out, "--help does not mention %r: %r" % (word, out))
    rc2, out2, _ = h.run_cli(["-h"])
    h.check(rc2 == 0 and out2 == out, "-h differs from --help")

    rc, out, err = h.run_cli(["--version"])
    h.check(rc == 0, "--version exited %d" % rc)
    m = re.fullmatch(r"swx-server (\d+\.\d+\.\d+) \(plugin ABI (\d+)\.(\d+)\)"
                     r"\n", out)
    h.check(m is not None, "--version printed %r" % out)
    h.log("version %s, ABI %s.%s" % m.groups())
    rc2, out2, _ = h.run_cli(["-v"])
    h.check(rc2 == 0 and out2 == out, "-v differs from --version")

    rc, out, err = h.run_cli(["--no-such-option"])
    h.check(rc not in (0, None), "a bad option exited 0")
    h.check("Usage:" in err, "a bad option prints no usage on stderr: %r"
            % err)
    rc, out, err = h.run_cli(["--config"])
    h.check(rc != 0, "--config without a file exited 0")
    rc, out, err = h.run_cli(["--help", "stray"])
    h.check(rc == 0, "--help with an argument exited %d" % rc)


if __name__ == "__main__":
    h.main(main)
