"""test_real_ip.py: the client's address on HTTP listeners behind proxies,
through the real binary: real_ip_from / real_ip_header (X-Forwarded-For,
the rightmost untrusted hop) from trusted and untrusted peers, the PROXY
protocol (v1 and v2) on an HTTP listener, the two together, and the
proxy's address kept for the plugin (http_probe's /echo: X-Peer,
X-Proxy). Malformed PROXY headers close the connection with a log line and
no response; bad CIDRs are refused at start with their JSON path."""

import socket
import struct

import http_helper as hh

h = hh.h
check = hh.check

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def echo(port, headers=(), prefix=b"", sock=None):
    """GET /echo (after prefix, a PROXY header); (X-Peer, X-Proxy, the
    socket's local port)."""
    s = sock or hh.connect(port)
    try:
        s.sendall(prefix + hh.get(port, "/echo", headers))
        r = hh.Reader(s).response()
        check(r.status == 200, "/echo: %r" % r)
        return r.header("x-peer"), r.header("x-proxy"), s.getsockname()[1]
    finally:
        if sock is None:
            s.close()


def xff(port, value):
    return echo(port, [("X-Forwarded-For", value)])


def trusted_peer(port):
    peer, proxy, local = echo(port)
    check((peer, proxy) == ("127.0.0.1:%d" % local, "-"), "no header: "
          "%s via %s" % (peer, proxy))
    cases = [
        ("203.0.113.5", "203.0.113.5"),
        ("203.0.113.5, 10.1.2.3", "203.0.113.5"),
        ("198.51.100.1, 203.0.113.5,10.1.2.3", "203.0.113.5"),
        ("10.0.0.1, 10.0.0.2", "10.0.0.1"),
        ("203.0.113.5, garbage, 10.0.0.9", "10.0.0.9"),
        ("2001:db8:0::1", "2001:db8::1"),
    ]
    for value, want in cases:
        peer, proxy, local = xff(port, value)
        check(peer == want + ":0", "X-Forwarded-For %r from a trusted peer: "
              "client %s, expected %s" % (value, peer, want))
        check(proxy == "127.0.0.1:%d" % local, "the proxy is %s" % proxy)
    peer, proxy, local = xff(port, "unknown")
    check(peer == "127.0.0.1:%d" % local and proxy == "-", "an X-Forwarded-For "
          "with no address: %s via %s" % (peer, proxy))
    peer, _, _ = echo(port, [("X-Forwarded-For", "198.51.100.1"),
                             ("X-Forwarded-For", "10.0.0.1")])
    check(peer == "198.51.100.1:0", "two fields: %s" % peer)
    # Keep-alive: each request is read on its own.
    with hh.connect(port) as s:
        a, _, _ = echo(port, [("X-Forwarded-For", "203.0.113.1")], sock=s)
        b, _, local = echo(port, sock=s)
        check(a == "203.0.113.1:0" and b == "127.0.0.1:%d" % local,
              "keep-alive: %s then %s" % (a, b))


def untrusted_peer(port):
    peer, proxy, local = xff(port, "203.0.113.5")
    check((peer, proxy) == ("127.0.0.1:%d" % local, "-"), "X-Forwarded-For "
          "from an untrusted peer was used: %s via %s" % (peer, proxy))


def v2_inet(src, dst, sport, dport):
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    body = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) + \
        struct.pack(">HH", sport, dport)
    return V2SIG + bytes([0x21, 0x21 if ":" in src else 0x11]) + \
        struct.pack(">H", len(body)) + body


def behind_proxy(srv, port):
    """proxy_protocol on, real_ip_from 198.51.100.0/24: the PROXY source
    is the peer, and it is trusted to name the client."""
    peer, proxy, local = echo(port, prefix=b"PROXY TCP4 192.0.2.1 127.0.0.1 "
                              b"5555 80\r\n")
    check((peer, proxy) == ("192.0.2.1:5555", "127.0.0.1:%d" % local),
          "PROXY v1: %s via %s" % (peer, proxy))
    peer, proxy, _ = echo(port, [("X-Forwarded-For", "203.0.113.8")],
                          prefix=b"PROXY TCP4 192.0.2.1 127.0.0.1 5555 80\r\n")
    check(peer == "192.0.2.1:5555", "X-Forwarded-For from an untrusted "
          "PROXY source was used: %s" % peer)
    peer, proxy, local = echo(port, [("X-Forwarded-For", "203.0.113.8")],
                              prefix=b"PROXY TCP4 198.51.100.7 127.0.0.1 "
                              b"6000 80\r\n")
    check((peer, proxy) == ("203.0.113.8:0", "127.0.0.1:%d" % local),
          "PROXY then X-Forwarded-For: %s via %s" % (peer, proxy))
    with hh.connect(port) as s:
        a, _, _ = echo(port, prefix=v2_inet("2001:db8::9", "::1", 4000, 80),
                       sock=s)
        b, _, _ = echo(port, sock=s)
        check(a == b == "2001:db8::9:4000", "PROXY v2 IPv6, two requests: "
              "%s, %s" % (a, b))
    peer, proxy, local = echo(port, prefix=V2SIG + b"\x20\x00\x00\x00")
    check((peer, proxy) == ("127.0.0.1:%d" % local, "-"), "PROXY v2 LOCAL: "
          "%s via %s" % (peer, proxy))
    for data, reason in (
            (hh.get(port, "/echo"), "not a PROXY protocol header"),
            (b"PROXY TCP4 192.0.2.1 127.0.0.1 5555\r\n" + hh.get(port, "/"),
             "v1: not 4 fields after the protocol"),
            (V2SIG + b"\x21\x11\x00\x04" + bytes(4), "v2: the address block "
             "is shorter than its family needs")):
        with hh.connect(port) as s:
            s.sendall(data)
            r = hh.Reader(s)
            check(r.rest() == b"", "a bad PROXY header was answered")
        srv.wait_log(r"PROXY protocol header: %s; closing" % reason)


def bad_config():
    for listener, path, text in (
            ({"real_ip_from": ["127.0.0.1", "10.0.0.0/40"]},
             "listeners[0].real_ip_from[1]", "a prefix length of 0 to 32"),
            ({"real_ip_from": ["10.0.0.0/8", "local"]},
             "listeners[0].real_ip_from[1]", "numeric"),
            ({"real_ip_header": "X-Forwarded-For"},
             "listeners[0].real_ip_header", "needs real_ip_from")):
        with hh.HttpServer("real-ip-bad", listener=listener) as srv:
            rc, out, err = srv.check_config()
            check(rc != 0 and path in err and text in err, "%r: rc %d, %r"
                  % (listener, rc, err))
            rc, out, err = h.run_cli(["--config", srv.config_path])
            check(rc != 0 and path in err, "started with %r: %r"
                  % (listener, err))


def main():
    untrusted = {"type": "tcp", "host": h.HOST, "port": h.free_port(),
                 "plugin": "probe", "protocol": "http",
                 "real_ip_from": ["10.0.0.0/8"]}
    proxied = {"type": "tcp", "host": h.HOST, "port": h.free_port(),
               "plugin": "probe", "protocol": "http", "proxy_protocol": True,
               "real_ip_from": ["198.51.100.0/24"]}
    with hh.HttpServer("real-ip",
                       listener={"real_ip_from": ["127.0.0.1", "10.0.0.0/8"]},
                       more=[untrusted, proxied]) as srv:
        srv.start()
        trusted_peer(srv.port)
        untrusted_peer(untrusted["port"])
        behind_proxy(srv, proxied["port"])
        trusted_peer(srv.port)  # the others were not disturbed
        srv.stop()
    bad_config()


if __name__ == "__main__":
    hh.main(main)
