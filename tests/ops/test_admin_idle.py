"""test_admin_idle.py: idle clients cannot lock the admin endpoint out.

- With 20 connections open and silent (the cap is 16), a new client is
  still served: the connections idle longest are closed to make room.
- A connection that sends nothing for admin.idle_timeout seconds is
  closed, not before; one that keeps sending (a slow request) stays open,
  and is answered once its request is whole.
- Connections still open at stop are closed by the stop.
"""

import socket
import time

from ops_helper import h
import ops_helper as o

IDLE = 3          # admin.idle_timeout
CAP = 16          # connections the endpoint serves at once
# How late a timeout may fire: a loaded machine, or the ASan build.
LATE = 6.0 if o.SLOW else 2.0


def open_idle(port, n):
    """n connections that send nothing: [(socket, time connected)]."""
    out = []
    for _ in range(n):
        s = socket.create_connection((h.HOST, port), timeout=10)
        out.append((s, time.monotonic()))
    return out


def is_closed(s, wait):
    """True when the server closed s (EOF within wait seconds), False when
    nothing came."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def wait_closed(s, since, limit):
    """Seconds from since until the server closed s; fails past limit."""
    left = since + limit - time.monotonic()
    o.check(left > 0 and is_closed(s, left), "an idle admin connection "
            "was still open %.1f s after it went quiet" % limit)
    return time.monotonic() - since


def cap_makes_room(srv, port):
    idle = open_idle(port, 20)
    st = o.stats(port)
    o.check(st["worker_num"] == 1, "GET /stats with 20 idle connections")
    # 20 idle + the request: the 5 idle longest made room.
    h.wait_until(lambda: o.count_log(srv, r"admin: 16 connections open; "
                                     r"closing the one idle") >= 5, 10,
                 what="5 connections closed to make room")
    for s, _ in idle[:5]:
        o.check(is_closed(s, 5), "the connection idle longest was not "
                "closed to make room")
    if time.monotonic() - idle[-1][1] < IDLE - 1:
        o.check(not is_closed(idle[-1][0], 0.2), "the newest idle "
                "connection was closed as well")
    h.log("20 idle connections: /stats served, the 5 idle longest closed")
    return idle[5:]


def idle_closed(rest):
    """The others close after IDLE seconds of silence, not before."""
    times = [wait_closed(s, t0, IDLE + LATE) for s, t0 in rest]
    o.check(min(times) >= IDLE - 0.2, "an idle connection was closed after "
            "%.2f s, before admin.idle_timeout (%d s)" % (min(times), IDLE))
    for s, _ in rest:
        s.close()
    h.log("%d idle connections closed after %.2f to %.2f s (idle_timeout "
          "%d s)" % (len(rest), min(times), max(times), IDLE))


def slow_request(port):
    """Bytes every second keep a connection open past IDLE."""
    request = ("GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               "%s\r\n\r\n" % o.TOKEN).encode()
    with socket.create_connection((h.HOST, port), timeout=10) as s:
        t0 = time.monotonic()
        for i in range(0, 12, 2):
            s.sendall(request[i:i + 2])
            o.check(not is_closed(s, 0.8), "a connection sending a byte "
                    "now and then was closed")
        o.check(time.monotonic() - t0 > IDLE, "the slow request was quick")
        s.sendall(request[12:])
        s.settimeout(20)
        reply = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            reply += b
    o.check(reply.startswith(b"HTTP/1.1 200 "), "the slow request got %r"
            % reply[:80])
    h.log("a request sent over %.1f s was answered" % (time.monotonic() - t0))


def main():
    o.require(o.V1)
    with o.Server("admin-idle", server={"worker_num": 1, "reactor_num": 1},
                  admin={"port": h.free_port(),
                         "idle_timeout": IDLE}) as srv:
        srv.plugins = [{"name": "app", "path": o.V1}]
        srv.write_config()
        srv.start()
        port = srv.admin
        rest = cap_makes_room(srv, port)
        idle_closed(rest)
        slow_request(port)
        left = open_idle(port, 3)
        srv.stop()
        for s, _ in left:
            o.check(is_closed(s, 5), "an admin connection outlived the stop")
            s.close()
        h.log("connections open at stop closed")


if __name__ == "__main__":
    h.main(main)
