"""test_proxy_protocol.py: proxy_protocol on stream listeners, through the
real binary, with clients that write the PROXY header themselves.

Versions 1 and 2, IPv4 and IPv6 (v2 with TLVs), LOCAL and UNKNOWN, whole or
byte by byte, with the client's first bytes in the same write: on_connect
sees the client's address and port and the proxy's (frame_probe's greeting),
the bytes after the header reach on_receive unchanged, and dispatch_mode 4
routes by the client's address, not the proxy's. A Unix-socket listener
takes the header too. A connection without a header, or with a malformed
or too long one, is closed with a warning naming the peer and the reason,
nothing of it reaches a worker, and the other clients are served as
before. proxy_protocol on a datagram listener is refused at start with its
JSON path."""

import os
import socket
import struct
import time

import listener_helper as lh

h = lh.h
check = lh.check

WORKERS = 3
V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(proto, src, dst, sport, dport):
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)) \
        .encode()


def v2(cmd, fam, body):
    return V2SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) \
        + body


def v2_inet(src, dst, sport, dport, tlvs=b""):
    if ":" in src:
        return v2(1, 0x21, socket.inet_pton(socket.AF_INET6, src) +
                  socket.inet_pton(socket.AF_INET6, dst) +
                  struct.pack(">HH", sport, dport) + tlvs)
    return v2(1, 0x11, socket.inet_aton(src) + socket.inet_aton(dst) +
              struct.pack(">HH", sport, dport) + tlvs)


def want_worker(addr):
    """dispatch_mode 4's worker for an IPv4 address (Swoole's rule)."""
    return struct.unpack("=I", socket.inet_aton(addr))[0] % WORKERS


def chosen_by_addr(w, addr):
    """Whether dispatch_mode 4 sent addr to worker w; in base mode there
    is no dispatch_mode: the worker that accepted serves it."""
    return lh.h.base_mode() or w == want_worker(addr)


def session(port, header, data=b"hi\n", bytewise=False, unix=None):
    """Send header then data (one write, or byte by byte); the greeting
    (worker, peer address, peer port, proxy) and the record's worker."""
    if unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(unix)
    else:
        s = h.connect(port)
    with s:
        local = s.getsockname()
        if bytewise:
            lh.send_bytewise(s, header)
            s.sendall(data)
        else:
            s.sendall(header + data)
        r = lh.Reader(s)
        g = r.greeting()
        rec = r.record()
        check(rec.data == data, "after the header the plugin got %r, "
              "expected %r" % (rec.data, data))
        check(rec.worker == g[0], "greeting on worker %d, data on %d"
              % (g[0], rec.worker))
        return g[0], g[3], r.peer_port, r.proxy, local


def good_headers(port):
    w, addr, pport, proxy, local = session(
        port, v1("TCP4", "203.0.113.9", "127.0.0.1", 40001, port))
    check((addr, pport) == ("203.0.113.9", 40001), "v1 TCP4: on_connect "
          "saw %s:%d" % (addr, pport))
    check(proxy == "127.0.0.1:%d" % local[1], "v1 TCP4: the proxy is %s, "
          "expected 127.0.0.1:%d" % (proxy, local[1]))
    check(chosen_by_addr(w, "203.0.113.9"), "v1: dispatch_mode 4 chose "
          "worker %d for 203.0.113.9" % w)
    _, addr, pport, _, _ = session(
        port, v1("TCP6", "2001:db8:0::7", "::1", 40002, 80))
    check((addr, pport) == ("2001:db8::7", 40002), "v1 TCP6: %s:%d"
          % (addr, pport))
    for bytewise in (False, True):
        w, addr, pport, proxy, _ = session(
            port, v2_inet("198.51.100.20", "127.0.0.1", 50000, port,
                          tlvs=b"\x02\x00\x07host.ex\x04\x00\x02\x00\x00"),
            bytewise=bytewise)
        check((addr, pport) == ("198.51.100.20", 50000), "v2 IPv4 (%s): "
              "%s:%d" % ("byte by byte" if bytewise else "one write",
                         addr, pport))
        check(proxy.startswith("127.0.0.1:"), "v2: proxy %s" % proxy)
        check(chosen_by_addr(w, "198.51.100.20"), "v2: worker %d" % w)
        _, addr, pport, _, _ = session(
            port, v2_inet("2001:db8::42", "::1", 443, 8443),
            bytewise=bytewise)
        check((addr, pport) == ("2001:db8::42", 443), "v2 IPv6: %s:%d"
              % (addr, pport))
    for name, hdr in (("v2 LOCAL", v2(0, 0x00, b"")),
                      ("v2 LOCAL with addresses",
                       v2(0, 0x11, bytes(12))),
                      ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n"),
                      ("v1 UNKNOWN with fields",
                       b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n")):
        _, addr, pport, proxy, local = session(port, hdr)
        check((addr, pport, proxy) == ("127.0.0.1", local[1], "-"),
              "%s: on_connect saw %s:%d via %s, expected the socket's own "
              "peer" % (name, addr, pport, proxy))
    lh.log("good headers: v1/v2, IPv4/IPv6, LOCAL/UNKNOWN, whole and byte "
           "by byte")


def by_client_address(port):
    """Many proxied clients over one proxy address: each client address
    always reaches its own worker, and together they reach them all."""
    seen = set()
    for i in range(1, 13):
        src = "10.9.%d.%d" % (i, i * 7)
        for _ in range(2):
            w, addr, _, _, _ = session(
                port, v1("TCP4", src, "127.0.0.1", 1000 + i, port))
            check(addr == src and chosen_by_addr(w, src), "%s reached worker "
                  "%d, expected %d" % (src, w, want_worker(src)))
            seen.add(w)
    check(len(seen) == WORKERS, "dispatch by client address used workers "
          "%s only" % sorted(seen))


def refused(srv, port, data, reason, what):
    with h.connect(port) as s:
        r = lh.Reader(s)
        for i in range(0, len(data), 4096):
            s.sendall(data[i:i + 4096])
        check(r.closed(), "%s: the connection stayed open" % what)
        check(r.buf == b"", "%s: the server sent %r" % (what, r.buf[:80]))
    srv.wait_log(r"PROXY protocol header: %s; closing" % reason)


def bad_headers(srv, port):
    refused(srv, port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "not a PROXY protocol header", "no header")
    refused(srv, port, b"hi\n", "not a PROXY protocol header",
            "raw bytes, no header")
    refused(srv, port, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nhi\n",
            "v1: a port that is not 0 to 65535", "v1 bad port")
    refused(srv, port, b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            "v1: an address that is not of the protocol's family",
            "v1 wrong family")
    refused(srv, port, b"PROXY UNKNOWN " + b"x" * 120,
            "v1: no CRLF within 107 bytes", "v1 too long")
    refused(srv, port, V2SIG[:6] + b"X" + V2SIG[7:] + bytes(4),
            "v2: a bad signature", "v2 bad signature")
    refused(srv, port, V2SIG + b"\x21\x11\xff\xff" + bytes(8000),
            "v2: the header is longer than 2048 bytes", "v2 too long")
    refused(srv, port, v2(1, 0x11, bytes(8)), "v2: the address block is "
            "shorter than its family needs", "v2 short block")
    refused(srv, port, v2(3, 0x11, bytes(12)), "v2: the command is neither "
            "LOCAL nor PROXY", "v2 bad command")
    with h.connect(port) as s:  # half a header, then the client leaves
        s.sendall(b"PROXY TCP4 1.2.3.4 ")
        time.sleep(0.2)
    srv.wait_log(r"PROXY protocol header: the connection ended within it "
                 r"\(19 bytes\); closing")
    # The warning names the peer the connection came from.
    srv.wait_log(r"\(peer 127\.0\.0\.1:\d+, listener 1\): PROXY protocol "
                 r"header: not a PROXY protocol header")


def main():
    sock_path = os.path.join(os.environ.get("SWX_TEST_TMPDIR", "/tmp"),
                             "pp-%d.sock" % os.getpid())
    plain = lh.tcp_listener(open_eof_split=True, package_eof="\n")
    proxied = lh.tcp_listener(open_eof_split=True, package_eof="\n",
                              proxy_protocol=True)
    unix = {"type": "unix", "path": sock_path, "open_eof_split": True,
            "package_eof": "\n", "proxy_protocol": True}
    with lh.frame_server("proxy-protocol", [plain, proxied, unix],
                         plugin_config={"greet": True},
                         server={"worker_num": WORKERS, "reactor_num": 2,
                                 "dispatch_mode": 4}) as srv:
        srv.start()
        port = proxied["port"]
        silent = h.connect(port)  # sends nothing: closed after 5 s
        started = time.monotonic()
        good_headers(port)
        by_client_address(port)
        bad_headers(srv, port)
        _, addr, pport, proxy, _ = session(
            None, v2_inet("198.51.100.3", "10.0.0.1", 7000, 80), unix=sock_path)
        check((addr, pport, proxy) == ("198.51.100.3", 7000, "unix:0"),
              "unix listener: %s:%d via %s" % (addr, pport, proxy))
        r = lh.Reader(silent)
        check(r.closed(timeout=10), "a client that sent no header was kept "
              "open")
        waited = time.monotonic() - started
        check(waited >= 4.5, "closed after %.1f s, before the 5 s" % waited)
        srv.wait_log(r"PROXY protocol header: none received in 5 s; closing")
        silent.close()
        # The others were served throughout, and still are.
        with h.connect(plain["port"]) as s:
            r = lh.Reader(s)
            g = r.greeting()
            check(g[3] == "127.0.0.1" and r.proxy == "-", "plain listener "
                  "greeting %r via %s" % (g, r.proxy))
        _, addr, _, _, _ = session(port, v1("TCP4", "192.0.2.1", "127.0.0.1",
                                            9, port))
        check(addr == "192.0.2.1", "after the refusals: %s" % addr)
        srv.stop()
    udp = {"type": "udp", "host": h.HOST, "port": lh.free_udp_port(),
           "proxy_protocol": True}
    with lh.frame_server("proxy-udp", [lh.tcp_listener(), udp]) as srv:
        rc, out, err = srv.check_config()
        check(rc != 0 and "listeners[1].proxy_protocol" in err and
              "datagram" in err, "proxy_protocol on udp: rc %d, %r"
              % (rc, err))


if __name__ == "__main__":
    lh.main(main)
