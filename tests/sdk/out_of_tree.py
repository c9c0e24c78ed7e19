#!/usr/bin/env python3
"""out_of_tree.py: builds the plugin guide's example against an installed SDK and serves it.

Steps, each bounded in time:
  1. take the C code and the config marked "<!-- sdk-test: ... -->" in
     docs/plugin-guide.md;
  2. `meson install --tags devel` (header and swx-plugin.pc) into a temporary
     DESTDIR and point pkg-config at it;
  3. compile the plugin with `cc ... $(pkg-config --cflags swx-plugin)` and
     -Wall -Wextra -Werror, and check it exports only `swx_plugin`;
  4. `swx-server -t` on a config using it, then the real server on a free
     loopback port: greeting, echo, a large echo, "quit", on_close in the log;
  5. SIGTERM: exit status 0 and no process left in the server's group.
Everything started here is killed on the way out, whatever happened.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MARK = re.compile(r"^<!--\s*sdk-test:\s*(\S+)\s*-->\s*$")
BIG = 300 * 1024  # larger than one 64 KiB IPC frame: exercises chunking


class Fail(Exception):
    pass


def step(msg):
    print(f"== {msg}", flush=True)


def run(cmd, timeout, env=None):
    """Run cmd; its stdout, or Fail with everything it printed."""
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    try:
        p = subprocess.run(cmd, env=env, timeout=timeout, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except subprocess.TimeoutExpired:
        raise Fail(f"{cmd[0]}: no result after {timeout} s")
    except OSError as e:
        raise Fail(f"{cmd[0]}: {e}")
    if p.returncode != 0:
        raise Fail(f"{cmd[0]} exited with {p.returncode}:\n{p.stdout}")
    return p.stdout


def marked_blocks(guide):
    """{name: text} for every fenced block right after a sdk-test marker."""
    lines = open(guide, encoding="utf-8").read().splitlines()
    blocks = {}
    for i, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise Fail(f"{guide}:{i + 1}: marker not followed by a ``` block")
        end = next((j for j in range(i + 2, len(lines))
                    if lines[j].startswith("```")), None)
        if end is None:
            raise Fail(f"{guide}:{i + 2}: unterminated ``` block")
        blocks[m.group(1)] = "\n".join(lines[i + 2:end]) + "\n"
    for name in ("hello.c", "server.json"):
        if name not in blocks:
            raise Fail(f"{guide}: no block marked <!-- sdk-test: {name} -->")
    return blocks


def install_sdk(meson, build_root, dest):
    """Install header and .pc into dest; the env that finds only them."""
    run([meson, "install", "--no-rebuild", "--tags", "devel",
         "--destdir", dest, "-C", build_root], timeout=60)
    pcs = [root for root, _, files in os.walk(dest) if "swx-plugin.pc" in files]
    if len(pcs) != 1:
        raise Fail(f"expected one swx-plugin.pc under {dest}, found {pcs}")
    env = dict(os.environ)
    # The .pc says prefix=/usr/local; the sysroot maps it into dest.
    # (--define-prefix would guess the prefix from a multiarch libdir wrongly.)
    env.update(PKG_CONFIG_PATH=pcs[0], PKG_CONFIG_LIBDIR=pcs[0],
               PKG_CONFIG_SYSROOT_DIR=dest)
    return env


def check_cflags(env, dest, version):
    pkgconf = shutil.which("pkg-config") or shutil.which("pkgconf")
    if pkgconf is None:
        raise Fail("neither pkg-config nor pkgconf is installed")
    modversion = run([pkgconf, "--modversion", "swx-plugin"], 30, env).strip()
    if version and modversion != version:
        raise Fail(f"swx-plugin.pc has version {modversion}, project {version}")
    cflags = shlex.split(run([pkgconf, "--cflags", "swx-plugin"], 30, env))
    incs = [f[2:] for f in cflags if f.startswith("-I")]
    if not incs or not all(os.path.realpath(d).startswith(os.path.realpath(dest))
                           for d in incs):
        raise Fail(f"pkg-config --cflags gave {cflags}, not paths into {dest}")
    if not any(os.path.isfile(os.path.join(d, "swx_plugin.h")) for d in incs):
        raise Fail(f"swx_plugin.h is in none of {incs}")
    print(f"cflags: {' '.join(cflags)}")
    return cflags


def build_plugin(work, source, cflags):
    src = os.path.join(work, "hello.c")
    out = os.path.join(work, "hello.so")
    with open(src, "w", encoding="utf-8") as f:
        f.write(source)
    run(["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra",
         "-Werror"] + cflags + [src, "-o", out], timeout=60)
    if shutil.which("nm"):
        syms = run(["nm", "-D", "--defined-only", out], 30).split()
        names = {s for s in syms[2::3]}
        if names != {"swx_plugin"}:
            raise Fail(f"hello.so exports {sorted(names)}, not just swx_plugin")
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(work, text, plugin, port):
    cfg = json.loads(text)
    cfg["plugins"][0]["path"] = plugin
    cfg["listeners"][0].update(host="127.0.0.1", port=port)
    path = os.path.join(work, "server.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    return path, cfg


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise Fail(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_line(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            raise Fail(f"EOF after {data!r}, expected a line")
        data += chunk
    return data


def connect(port, server, deadline):
    while True:
        if server.poll() is not None:
            raise Fail(f"swx-server exited with {server.returncode} at start")
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            if time.monotonic() > deadline:
                raise Fail(f"nothing accepts on 127.0.0.1:{port}")
            time.sleep(0.1)


def wait_for_log(log, pattern, deadline):
    while time.monotonic() < deadline:
        if re.search(pattern, open(log, encoding="utf-8", errors="replace").read()):
            return
        time.sleep(0.1)
    raise Fail(f"no log line matching {pattern!r}")


def talk(port, server, greeting, log):
    """The behaviour the guide promises, seen by a client."""
    with connect(port, server, time.monotonic() + 15) as s:
        s.settimeout(10)
        me = s.getsockname()
        want = f"{greeting}, {me[0]}:{me[1]}\n".encode()
        got = recv_line(s)
        if got != want:
            raise Fail(f"greeting {got!r}, expected {want!r}")
        s.sendall(b"ping\n")
        if (got := recv_exact(s, 5)) != b"ping\n":
            raise Fail(f"echo {got!r}, expected b'ping\\n'")
        big = bytes(ord("a") + i % 26 for i in range(BIG))
        s.sendall(big)
        if recv_exact(s, BIG) != big:
            raise Fail(f"echo of {BIG} bytes differs")
        s.sendall(b"quit\n")
        if (got := recv_line(s)) != b"bye\n":
            raise Fail(f"after quit {got!r}, expected b'bye\\n'")
        if (got := s.recv(64)) != b"":
            raise Fail(f"after bye {got!r}, expected the connection closed")
    deadline = time.monotonic() + 10
    wait_for_log(log, r"hello: worker 0 ready", deadline)
    wait_for_log(log, r"hello: session \d+ closed", deadline)


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop(server, pgid):
    server.send_signal(signal.SIGTERM)
    try:
        rc = server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise Fail("swx-server still running 30 s after SIGTERM")
    if rc != 0:
        raise Fail(f"swx-server exited with {rc} after SIGTERM, expected 0")
    deadline = time.monotonic() + 3
    while group_alive(pgid):
        if time.monotonic() > deadline:
            raise Fail("processes of the server's group outlived the master")
        time.sleep(0.1)


def serve(args, work, blocks, plugin):
    for attempt in range(3):
        port = free_port()
        cfg_path, cfg = write_config(work, blocks["server.json"], plugin, port)
        out = run([args.server, "-t", "--config", cfg_path], 30)
        if "configuration ok" not in out:
            raise Fail(f"swx-server -t did not say \"configuration ok\":\n{out}")
        greeting = cfg["plugins"][0].get("config", {}).get("greeting", "hello")
        log = os.path.join(work, f"server-{attempt}.log")
        step(f"serving on 127.0.0.1:{port} (log {log})")
        with open(log, "w") as logf:
            server = subprocess.Popen([args.server, "--config", cfg_path],
                                      stdin=subprocess.DEVNULL, stdout=logf,
                                      stderr=subprocess.STDOUT,
                                      start_new_session=True)
        pgid = server.pid
        try:
            talk(port, server, greeting, log)
            stop(server, pgid)
            return
        except (Fail, OSError):
            text = open(log, encoding="utf-8", errors="replace").read()
            if server.poll() is not None and "Address already in use" in text:
                continue  # another process took the port in between
            print(text)
            raise
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
    raise Fail("no free port found in 3 attempts")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-root", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--guide", required=True)
    ap.add_argument("--meson", default="meson")
    ap.add_argument("--version", default="")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="swx-sdk-")
    try:
        step(f"extracting the example from {args.guide}")
        blocks = marked_blocks(args.guide)
        step("installing the SDK into a DESTDIR")
        dest = os.path.join(work, "destdir")
        env = install_sdk(args.meson, args.build_root, dest)
        cflags = check_cflags(env, dest, args.version)
        step("building the plugin out of tree")
        plugin = build_plugin(work, blocks["hello.c"], cflags)
        serve(args, work, blocks, plugin)
    except (Fail, OSError) as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        if os.environ.get("SWX_KEEP_TMP"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
