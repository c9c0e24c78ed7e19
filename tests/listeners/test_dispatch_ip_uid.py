"""test_dispatch_ip_uid.py: dispatch_mode 4 (by client IP) and 5 (by uid).

Mode 4: connections and datagrams from 16 loopback addresses; everything
from one address (on_connect included, over several connections) reaches
one worker, the one Swoole picks (the address's s_addr modulo worker_num),
and the addresses together reach more than one. swx_bind is
refused there with -ENOTSUP. Mode 5: before swx_bind a connection stays on
one worker (as in mode 2); after swx_bind(session, uid) its later events
reach worker uid % worker_num; a second bind is ignored and logged, as in
Swoole; uid 0 is refused with -EINVAL."""

import errno
import socket
import struct

import listener_helper as lh

h = lh.h
check = lh.check

WORKERS = 3
ADDRS = ["127.0.0.%d" % i for i in range(1, 17)]


def connect_from(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind((src, 0))
    s.connect((lh.HOST, port))
    return s


def ask(reader, msg):
    reader.sock.sendall(msg)
    rec = reader.record()
    check(rec.data == msg, "sent %r, the plugin got %r" % (msg, rec.data))
    return rec


def mode_ip():
    tcp = lh.tcp_listener(open_eof_split=True, package_eof="\n")
    udp = {"type": "udp", "host": "0.0.0.0", "port": lh.free_udp_port("")}
    with lh.frame_server("mode4", [tcp, udp], plugin_config={"greet": True},
                         server={"worker_num": WORKERS, "reactor_num": 2,
                                 "dispatch_mode": 4}) as srv:
        srv.start()
        by_addr = {}
        for src in ADDRS:
            seen = set()
            for _ in range(3):
                with connect_from(tcp["port"], src) as s:
                    r = lh.Reader(s)
                    seen.add(r.greeting()[0])
                    for i in range(3):
                        seen.add(ask(r, b"m%d\n" % i).worker)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(10)
                u.bind((src, 0))
                for i in range(3):
                    u.sendto(b"d%d" % i, (lh.HOST, udp["port"]))
                    rec = lh.parse_record(u.recvfrom(4096)[0])
                    check(rec.listener == 1, "datagram on listener %d"
                          % rec.listener)
                    seen.add(rec.worker)
            check(len(seen) == 1, "mode 4: %s reached workers %s"
                  % (src, sorted(seen)))
            by_addr[src] = seen.pop()
        h.log("mode 4: address -> worker %s" % by_addr)
        # Swoole's mapping: s_addr, as it lies in memory, modulo worker_num.
        for src, w in by_addr.items():
            want = struct.unpack("=I", socket.inet_aton(src))[0] % WORKERS
            check(w == want, "mode 4: %s reached worker %d, Swoole's "
                  "mapping says %d" % (src, w, want))
        check(len(set(by_addr.values())) > 1, "mode 4: %d addresses all "
              "reached one worker" % len(ADDRS))
        with connect_from(tcp["port"], ADDRS[0]) as s:
            r = lh.Reader(s)
            r.greeting()
            rec = ask(r, b"bind=3\n")
            check(rec.bind == -errno.ENOTSUP, "mode 4: swx_bind returned %d"
                  % rec.bind)
        srv.stop()


def mode_uid():
    tcp = lh.tcp_listener(open_eof_split=True, package_eof="\n")
    with lh.frame_server("mode5", [tcp], plugin_config={"greet": True},
                         server={"worker_num": WORKERS, "reactor_num": 2,
                                 "dispatch_mode": 5}) as srv:
        srv.start()
        socks = []
        try:
            for uid in range(1, 13):
                s = h.connect(tcp["port"])
                socks.append(s)
                r = lh.Reader(s)
                first = r.greeting()[0]
                before = {ask(r, b"before %d\n" % i).worker for i in range(3)}
                check(before == {first}, "mode 5: an unbound connection "
                      "moved between workers %s" % sorted(before | {first}))
                rec = ask(r, b"bind=%d\n" % uid)
                check(rec.bind == 0 and rec.worker == first,
                      "mode 5: bind=%d: %r" % (uid, rec))
                after = {ask(r, b"after %d\n" % i).worker for i in range(5)}
                check(after == {uid % WORKERS}, "mode 5: bound to uid %d, "
                      "served by workers %s" % (uid, sorted(after)))
                # Bound once: a second bind changes nothing.
                rec = ask(r, b"bind=%d\n" % (uid + 1))
                check(rec.bind == 0, "second bind returned %d" % rec.bind)
                again = {ask(r, b"again %d\n" % i).worker for i in range(3)}
                check(again == {uid % WORKERS}, "mode 5: a second bind moved "
                      "uid %d's connection to %s" % (uid, sorted(again)))
            # The first of these lines: later ones of the kind may be held
            # back by the log's rate limit (and counted in a summary).
            srv.wait_log(r"already bound to uid 1; bind to uid 2 ignored$")
            with h.connect(tcp["port"]) as s:
                r = lh.Reader(s)
                r.greeting()
                rec = ask(r, b"bind=0\n")
                check(rec.bind == -errno.EINVAL, "bind to uid 0 returned %d"
                      % rec.bind)
        finally:
            for s in socks:
                s.close()
        srv.stop()


def main():
    lh.h.process_mode_only(
        "dispatch_mode 4 and 5 and swx_bind do not apply in base mode")
    mode_ip()
    mode_uid()


if __name__ == "__main__":
    lh.main(main)
