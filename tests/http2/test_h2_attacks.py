"""test_h2_attacks.py: the known HTTP/2 attacks, each sent frame by frame
on a raw connection: rapid reset (CVE-2023-44487), a CONTINUATION flood, an
HPACK bomb, SETTINGS and PING floods. Each must end with GOAWAY (or the
connection closed) within seconds, and a new client must still be
served. Also: request bodies held unfinished on many streams at once are
capped per connection (REFUSED_STREAM past the cap)."""

import struct
import time

import h2.errors

import h2_helper as hp

check = hp.check
CALM = h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


def frame(ftype, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] +
            struct.pack(">BBI", ftype, flags, sid) + payload)


HEADERS, RST, SETTINGS, PING, CONT = 1, 3, 4, 6, 9
END_STREAM, END_HEADERS = 0x1, 0x4
# :method GET, :path /, :scheme http (static table), :authority "t".
BASIC = b"\x82\x84\x86\x41\x01t"


def hpack_int(value, prefix_bits, first):
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([first | value])
    out = [first | top]
    value -= top
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def ended(c, what, codes=(CALM,)):
    check(c.wait_end(10), "%s: no GOAWAY and no close" % what)
    check(c.goaway is None or c.goaway in codes,
          "%s: GOAWAY with %r" % (what, c.goaway))
    hp.h.log("%s: %s" % (what, "GOAWAY %r" % c.goaway if c.goaway is not None
                         else "closed"))


def send_all(c, data):
    try:
        c.send_raw(data)
    except (BrokenPipeError, ConnectionResetError):
        c.closed = True


def rapid_reset(srv):
    c = hp.Client(srv.port)
    c.pump(1.0)
    burst = b""
    for i in range(1000):
        sid = 2 * i + 1
        burst += frame(HEADERS, END_HEADERS | END_STREAM, sid, BASIC)
        burst += frame(RST, 0, sid, struct.pack(">I", 8))
    send_all(c, burst)
    ended(c, "rapid reset")
    c.close()


def continuation_flood(srv):
    c = hp.Client(srv.port)
    c.pump(1.0)
    data = frame(HEADERS, END_STREAM, 1, BASIC)
    data += b"".join(frame(CONT, 0, 1, b"\x40\x01a\x01b") for _ in range(200))
    send_all(c, data)
    ended(c, "CONTINUATION flood",
          (CALM, h2.errors.ErrorCodes.PROTOCOL_ERROR))
    c.close()


def hpack_bomb(srv):
    c = hp.Client(srv.port)
    c.pump(1.0)
    value = b"v" * 4000
    # One 4 KB field into the dynamic table, then 3000 references to it:
    # 12 MB decoded from a 7 KB block.
    block = (BASIC + b"\x40\x06x-bomb" + hpack_int(len(value), 7, 0) +
             value + b"\xbe" * 3000)
    send_all(c, frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    ended(c, "HPACK bomb")
    c.close()


def settings_flood(srv):
    c = hp.Client(srv.port)
    c.pump(1.0)
    send_all(c, frame(SETTINGS, 0, 0) * 5000)
    ended(c, "SETTINGS flood")
    c.close()


def ping_flood(srv):
    c = hp.Client(srv.port)
    c.pump(1.0)
    send_all(c, frame(PING, 0, 0, b"12345678") * 5000)
    ended(c, "PING flood")
    c.close()


def header_over_cap(srv):
    """Just over http_max_head_size: 431 on the stream, not a GOAWAY."""
    c = hp.Client(srv.port)
    try:
        sid = c.request("/echo", headers=[("x-big", "b" * 9000)])
        head, _ = c.response(sid)
        check(head.get(":status") == "431", "a large header list: %r" % head)
        sid = c.request("/echo")
        head, _ = c.response(sid)
        check(head.get(":status") == "200", "the connection goes on")
    finally:
        c.close()


def send_body(c, sid, size):
    """size bytes of body on sid, as the windows allow; False when the
    stream was reset meanwhile."""
    left = size
    while left > 0 and sid not in c.resets:
        room = min(c.conn.local_flow_control_window(sid),
                   c.conn.max_outbound_frame_size, left)
        if room <= 0:
            c.pump(0.5)
            continue
        c.conn.send_data(sid, b"x" * room)
        c.flush()
        left -= room
        c.pump(0.001)
    return sid not in c.resets


def bodies_held(srv):
    """Streams that each send a large body and never end it: past what a
    connection may hold (2 MiB here), the next is REFUSED_STREAM, and the
    connection serves on."""
    c = hp.Client(srv.port)
    try:
        c.pump(0.5)
        sids = []
        for i in range(3):
            sid = c.request("/echo", method="POST", end=False)
            sids.append(sid)
            if not send_body(c, sid, 900 * 1024):
                break
        c.wait(lambda: any(s in c.resets for s in sids), 5, "a refusal")
        refused = [s for s in sids if s in c.resets]
        check(refused and c.resets[refused[0]] ==
              h2.errors.ErrorCodes.REFUSED_STREAM,
              "held bodies past the cap: %r" % c.resets)
        head, _ = c.response(c.request("/echo"))
        check(head.get(":status") == "200", "the connection serves on")
    finally:
        c.close()


def main():
    with hp.server("h2attacks", listener={"package_max_length": 1 << 20},
                   server={"buffer_output_size": 2 << 20}) as srv:
        srv.start()
        for attack in (rapid_reset, continuation_flood, hpack_bomb,
                       settings_flood, ping_flood, header_over_cap,
                       bodies_held):
            t0 = time.time()
            attack(srv)
            hp.served(srv)
            hp.h.log("%s: answered in %.2f s" % (attack.__name__,
                                                 time.time() - t0))
        srv.stop()
    hp.h.log("ok")


if __name__ == "__main__":
    main()
