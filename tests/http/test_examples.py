"""test_examples.py: conf/server.json as README.md shows it, on free ports
and with the plugins of this build: the TCP echo, the length-framed echo,
the UDP echo, http_hello (text, JSON, a stream, a file, and the docs from
its document_root) and ws_echo, each tried the way README tries it."""

import json
import os
import socket
import struct

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


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((hh.HOST, 0))
        return s.getsockname()[1]


class ExampleServer(hh.h.Server):
    """conf/server.json with this build's plugins and free ports."""

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
            self.ports[lst["plugin"]] = free_udp_port() if udp \
                else hh.h.free_port()
            lst["port"] = self.ports[lst["plugin"]]
            if "document_root" in lst:
                lst["document_root"] = os.path.normpath(os.path.join(
                    ROOT, "conf", lst["document_root"]))
        super().__init__("examples", server=self.example["server"],
                         plugins=self.example["plugins"],
                         listeners=self.example["listeners"],
                         port=self.ports["echo"])


def test_tcp(ports):
    with hh.connect(ports["echo"]) as s:
        s.sendall(b"hello\n")
        check(hh.h.recv_exact(s, 6) == b"hello\n", "echo")
    with hh.connect(ports["length_echo"]) as s:
        s.sendall(struct.pack(">I", 5) + b"hello")
        check(hh.h.recv_exact(s, 9) == struct.pack(">I", 5) + b"HELLO",
              "length_echo")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        u.sendto(b"ping", (hh.HOST, ports["udp_echo"]))
        check(u.recvfrom(64)[0] == b"ping", "udp_echo")


def test_http(ports):
    port = ports["http_hello"]
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
    ws = hh.WsClient(ports["ws_echo"], "/")
    check(ws.status == 101, "ws_echo handshake")
    ws.send(1, b"hi")
    check(ws.recv() == (True, 1, b"hi"), "ws_echo text")
    ws.send(2, b"\x00\x01")
    check(ws.recv() == (True, 2, b"\x00\x01"), "ws_echo binary")
    ws.send(8, struct.pack(">H", 1000))
    check(ws.recv_close() == 1000, "ws_echo close")
    ws.close()


def main():
    for name, path in PLUGINS.items():
        check(path and os.path.exists(path), "plugin %s not built" % name)
    with ExampleServer() as srv:
        srv.start()
        test_tcp(srv.ports)
        test_http(srv.ports)
        test_ws(srv.ports)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
