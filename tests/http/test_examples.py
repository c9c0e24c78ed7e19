"""test_examples.py: conf/server.json as README.md shows it, on free ports
and with the plugins of this build: the TCP echo, the length-framed echo,
the UDP echo, http_hello (text, JSON, a stream, a file, and the docs from
its document_root), ws_echo, and http_hello once more over HTTPS and
HTTP/2 (curl -k --http2) with a self-signed certificate that
scripts/make_cert.sh makes, as scripts/run.sh does; each tried the way
README tries it."""

import json
import os
import socket
import struct
import subprocess

import http_helper as hh

check = hh.check

ROOT = os.environ.get("SWX_SOURCE_ROOT", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PLUGINS = {
    "echo": hh.h.ECHO,
    "length_echo": os.environ.get("SWX_LENGTH_ECHO_PLUGIN", ""),
    "udp_echo": os.environ.get("SWX_UDP_ECHO_PLUGIN", ""),
    "http_hello": hh.HELLO,
    "ws_echo": hh.WS_ECHO,
}


free_udp_port = hh.h.free_udp_port


class ExampleServer(hh.h.Server):
    """conf/server.json with this build's plugins and free ports (ports:
    the port conf/server.json names -> the free one used); its TLS
    listener's certificate made by scripts/make_cert.sh in tls/ beside
    the config, as scripts/run.sh makes it in conf/tls/."""

    def __init__(self):
        with open(os.path.join(ROOT, "conf", "server.json")) as f:
            self.example = json.load(f)
        for p in self.example["plugins"]:
            p["path"] = PLUGINS[p["name"]]
            if "file" in p.get("config", {}):
                p["config"]["file"] = os.path.join(ROOT, p["config"]["file"])
        self.ports = {}
        for lst in self.example["listeners"]:
            udp = lst.get("type") == "udp"
            port = free_udp_port() if udp else hh.h.free_port()
            self.ports[lst["port"]] = port
            lst["port"] = port
            if "document_root" in lst:
                lst["document_root"] = os.path.normpath(os.path.join(
                    ROOT, "conf", lst["document_root"]))
        super().__init__("examples", server=self.example["server"],
                         plugins=self.example["plugins"],
                         listeners=self.example["listeners"],
                         port=self.ports[9501])
        self.make_cert()

    def make_cert(self):
        tls = os.path.join(self.dir, "tls")
        p = subprocess.run([os.path.join(ROOT, "scripts", "make_cert.sh"),
                            tls], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        check(p.returncode == 0, "make_cert.sh: %s" % p.stdout.decode())
        # The config is written beside tls/: its relative paths
        # ("tls/cert.pem") are kept as shipped.


def test_tcp(ports):
    with hh.connect(ports[9501]) as s:
        s.sendall(b"hello\n")
        check(hh.h.recv_exact(s, 6) == b"hello\n", "echo")
    with hh.connect(ports[9503]) as s:
        s.sendall(struct.pack(">I", 5) + b"hello")
        check(hh.h.recv_exact(s, 9) == struct.pack(">I", 5) + b"HELLO",
              "length_echo")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        u.sendto(b"ping", (hh.HOST, ports[9504]))
        check(u.recvfrom(64)[0] == b"ping", "udp_echo")


def test_http(ports):
    port = ports[8080]
    base = "http://%s:%d" % (hh.HOST, port)
    rc, out, err = hh.curl([base + "/"])
    check(rc == 0 and out == b"Hello from swx!\n", "/: %r %s" % (out, err))
    rc, out, err = hh.curl([base + "/json?name=swx"])
    doc = json.loads(out)
    check(doc["message"] == "hello" and doc["query"] == "name=swx" and
          doc["name"] == "swx", "/json: %r" % doc)
    # The name decoded (%0A included) and escaped back into JSON; gzip
    # when asked for.
    rc, out, err = hh.curl(["--compressed", base + "/json?name=J%C3%BCrgen"
                            "+%22Q%22%0A&x=1"])
    doc = json.loads(out)
    check(doc["name"] == 'J\u00fcrgen "Q"\n', "/json name: %r" % doc)
    r = hh.exchange(port, hh.get(port, "/stream"))
    check(r.header("transfer-encoding") == "chunked" and
          r.body.endswith(b"done\n"), "/stream: %r" % r)
    with open(os.path.join(ROOT, "README.md"), "rb") as f:
        readme = f.read()
    rc, out, err = hh.curl([base + "/file"])
    check(rc == 0 and out == readme, "/file is not README.md")
    with open(os.path.join(ROOT, "docs", "config.md"), "rb") as f:
        check(hh.curl([base + "/config.md"])[1] == f.read(),
              "document_root: docs/config.md")
    r = hh.exchange(port, hh.get(port, "/nope"))
    check(r.status == 404, "/nope: %r" % r)


def test_ws(ports):
    ws = hh.WsClient(ports[8081], "/")
    check(ws.status == 101, "ws_echo handshake")
    ws.send(1, b"hi")
    check(ws.recv() == (True, 1, b"hi"), "ws_echo text")
    ws.send(2, b"\x00\x01")
    check(ws.recv() == (True, 2, b"\x00\x01"), "ws_echo binary")
    ws.send(8, struct.pack(">H", 1000))
    check(ws.recv_close() == 1000, "ws_echo close")
    ws.close()


def test_https_h2(ports):
    """The 8443 listener as README tries it: curl -k --http2."""
    base = "https://%s:%d" % (hh.HOST, ports[8443])
    rc, out, err = hh.curl(["-k", "--http2", "-w", "\n%{http_version}",
                            base + "/"])
    check(rc == 0 and out == b"Hello from swx!\n\n2",
          "https / over h2: rc %d %r %s" % (rc, out, err))
    with open(os.path.join(ROOT, "docs", "config.md"), "rb") as f:
        rc, out, err = hh.curl(["-k", "--http2", base + "/config.md"])
        check(rc == 0 and out == f.read(), "https static config.md: %s" % err)
    rc, out, err = hh.curl(["-k", "--http1.1", "-w", "\n%{http_version}",
                            base + "/json?name=tls"])
    check(rc == 0 and out.endswith(b"\n1.1") and
          json.loads(out.rsplit(b"\n", 1)[0])["name"] == "tls",
          "https /json over HTTP/1.1: %r %s" % (out, err))


def main():
    for name, path in PLUGINS.items():
        check(path and os.path.exists(path), "plugin %s not built" % name)
    with ExampleServer() as srv:
        srv.start()
        test_tcp(srv.ports)
        test_http(srv.ports)
        test_ws(srv.ports)
        test_https_h2(srv.ports)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
