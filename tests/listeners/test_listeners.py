"""test_listeners.py: one server, eight listeners of every type and three
plugins: TCP on IPv4 and IPv6, a Unix stream socket with EOF framing, UDP
on IPv4 and IPv6, a Unix datagram socket (frame_probe on each), a TCP echo
(the echo plugin) and a UDP echo (udp_echo). Each listener answers with its
own plugin; on_connect's swx_conninfo_t and swx_listener() in on_receive
and on_packet name the listener the event came from; datagrams of every
size up to 64 KiB come back whole to their sender through swx_sendto."""

import os
import socket
import tempfile

import listener_helper as lh

h = lh.h
check = lh.check


def tcp_checks(port, family, host, index, peer):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect((host, port))
        r = lh.Reader(s)
        w, l, p, a = r.greeting()
        check((l, p, a) == (index, port, peer), "listener %d: on_connect got "
              "listener %d, port %d, peer %r" % (index, l, p, a))
        for msg in (b"one", b"two" * 1000):
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):   # raw stream: reads may split
                rec = r.record()
                check(rec.listener == index, "listener %d: swx_listener() "
                      "said %d" % (index, rec.listener))
                check(rec.worker == w, "dispatch_mode 2 moved a connection "
                      "from worker %d to %d" % (w, rec.worker))
                got += rec.data
            check(got == msg, "listener %d: bytes differ" % index)


def unix_stream_checks(path, index):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        r = lh.Reader(s)
        w, l, p, a = r.greeting()
        check(l == index and a == "unix", "unix listener: on_connect got "
              "listener %d, peer %r" % (l, a))
        s.sendall(b"alpha\nbeta\ngam")
        s.sendall(b"ma\n")
        for want in (b"alpha\n", b"beta\n", b"gamma\n"):
            rec = r.record()
            check((rec.listener, rec.data) == (index, want),
                  "unix listener: %r" % rec)


def dgram_roundtrip(sock, addr, payload, index):
    sock.sendto(payload, addr)
    data, _ = sock.recvfrom(1 << 17)
    rec = lh.parse_record(data)
    check(rec.listener == index, "datagram listener %d: swx_listener() said "
          "%d" % (index, rec.listener))
    check(rec.data == payload, "datagram listener %d: %d bytes came back as "
          "%d" % (index, len(payload), len(rec.data)))


def udp_checks(port, family, host, index, sizes):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.bind((host, 0))
        for n in sizes:
            dgram_roundtrip(s, (host, port), os.urandom(n), index)
        # Bursts: 20 datagrams out before any answer is read.
        for burst in range(10):
            sent = [b"%d-%d" % (burst, i) for i in range(20)]
            for m in sent:
                s.sendto(m, (host, port))
            got = sorted(lh.parse_record(s.recvfrom(4096)[0]).data
                         for _ in sent)
            check(got == sorted(sent), "udp burst %d: %r" % (burst, got))


def unix_dgram_checks(path, client_path, index):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.bind(client_path)   # an address to answer to
        for n in (1, 1000, 65536):
            dgram_roundtrip(s, path, os.urandom(n), index)


def udp_echo_checks(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        for n in (1, 512, 9000, 65507):   # 65507: IPv4's largest payload
            payload = os.urandom(n)
            s.sendto(payload, (lh.HOST, port))
            check(s.recvfrom(1 << 17)[0] == payload,
                  "udp_echo: %d bytes" % n)


def main():
    tmp = os.environ.get("SWX_TEST_TMPDIR") or None
    if tmp:
        os.makedirs(tmp, exist_ok=True)
    sockdir = tempfile.mkdtemp(prefix="swx-sock-", dir=tmp)
    unix_path = os.path.join(sockdir, "s.sock")
    dgram_path = os.path.join(sockdir, "d.sock")
    tcp4 = lh.tcp_listener()
    tcp_echo = lh.tcp_listener(plugin="echo")
    tcp6 = {"type": "tcp6", "host": "::1", "port": h.free_port()}
    unix = {"type": "unix", "path": unix_path, "open_eof_split": True,
            "package_eof": "\n"}
    udp4 = {"type": "udp", "host": lh.HOST, "port": lh.free_udp_port()}
    udp6 = {"type": "udp6", "host": "::1",
            "port": lh.free_udp_port("::1", socket.AF_INET6)}
    udgram = {"type": "unix_dgram", "path": dgram_path}
    udp_echo = {"type": "udp", "host": lh.HOST, "port": lh.free_udp_port(),
                "plugin": "udp_echo"}
    listeners = [tcp4, tcp_echo, tcp6, unix, udp4, udp6, udgram, udp_echo]
    with lh.frame_server("listeners", listeners,
                         plugin_config={"greet": True},
                         plugins=[{"name": "echo", "path": h.ECHO},
                                  {"name": "udp_echo",
                                   "path": lh.UDP_ECHO}]) as srv:
        srv.start()
        tcp_checks(tcp4["port"], socket.AF_INET, lh.HOST, 0, lh.HOST)
        with h.connect(tcp_echo["port"]) as s:
            s.sendall(b"plain echo\n")
            check(h.recv_exact(s, 11) == b"plain echo\n",
                  "the echo plugin's listener")
        tcp_checks(tcp6["port"], socket.AF_INET6, "::1", 2, "::1")
        unix_stream_checks(unix_path, 3)
        udp_checks(udp4["port"], socket.AF_INET, lh.HOST, 4,
                   (1, 100, 1400, 9000, 65000))
        udp_checks(udp6["port"], socket.AF_INET6, "::1", 5,
                   (1, 100, 1400, 9000, 65000))
        unix_dgram_checks(dgram_path, os.path.join(sockdir, "c.sock"), 6)
        udp_echo_checks(udp_echo["port"])
        srv.stop()
        for p in (unix_path, dgram_path):
            check(not os.path.exists(p), "%s left after the stop" % p)
    for name in os.listdir(sockdir):
        os.unlink(os.path.join(sockdir, name))
    os.rmdir(sockdir)


if __name__ == "__main__":
    lh.main(main)
