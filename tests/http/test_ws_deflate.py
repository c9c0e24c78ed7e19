"""test_ws_deflate.py: websocket_compression, permessage-deflate (RFC
7692), with a client of our own on zlib. The offer is accepted with both
no_context_takeover parameters (and the client's server_max_window_bits);
compressed messages from the client (whole or fragmented) reach the
plugin inflated; long pushes come back compressed (RSV1), short ones as
they are; uncompressed messages still work. RSV1 on a continuation or
control frame is 1002, a message that inflates past package_max_length is
1009, bad DEFLATE data or bad UTF-8 inside is 1007. An offer with a window
of 8 bits or an unknown parameter is declined, and without the setting the
offer is ignored and RSV1 is 1002."""

import struct
import zlib

import http_helper as hh

check = hh.check
MAX = 64 * 1024
TEXT, BINARY, CONT, PING = 1, 2, 0, 9
OFFER = "Sec-WebSocket-Extensions: permessage-deflate; " \
    "client_max_window_bits\r\n"


def deflate(data, wbits=15):
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    check(out.endswith(b"\x00\x00\xff\xff"), "zlib flush tail")
    return out[:-4]


def inflate(data, wbits=15):
    return zlib.decompressobj(-wbits).decompress(data + b"\x00\x00\xff\xff")


def open_deflate(port, offer=OFFER):
    ws = hh.WsClient(port, "/ws", extra=offer)
    check(ws.status == 101, "handshake: %d" % ws.status)
    return ws


def test_negotiation(port):
    ws = open_deflate(port)
    ext = ws.resp.header("sec-websocket-extensions")
    check(ext == "permessage-deflate; server_no_context_takeover; "
          "client_no_context_takeover", "extension answer: %r" % ext)
    ws.close()
    ws = open_deflate(port, "Sec-WebSocket-Extensions: x-foo, "
                      "permessage-deflate; server_max_window_bits=8, "
                      "permessage-deflate; server_max_window_bits=10\r\n")
    ext = ws.resp.header("sec-websocket-extensions")
    check(ext is not None and ext.endswith("; server_max_window_bits=10"),
          "second offer (window 10) taken: %r" % ext)
    body = b"window ten " * 300
    ws.send(TEXT, deflate(body), rsv=4)
    fin, rsv, op, payload = ws.recv_rsv()
    check(rsv == 4 and inflate(payload, 10) == body, "window 10 echo")
    ws.close()
    for offer in ("permessage-deflate; server_max_window_bits=8",
                  "permessage-deflate; foo=1",
                  "permessage-deflate; server_no_context_takeover; "
                  "server_no_context_takeover"):
        ws = open_deflate(port, "Sec-WebSocket-Extensions: %s\r\n" % offer)
        check(ws.resp.header("sec-websocket-extensions") is None,
              "offer %r accepted" % offer)
        ws.close()


def test_messages(port):
    ws = open_deflate(port)
    text = ("héllo, compressed world; " * 200).encode()
    ws.send(TEXT, deflate(text), rsv=4)
    fin, rsv, op, payload = ws.recv_rsv()
    check((fin, rsv, op) == (True, 4, TEXT), "compressed echo frame")
    check(inflate(payload) == text, "echo inflates to the text")
    # Fragmented: RSV1 on the first frame only.
    blob = bytes(range(256)) * 64
    z = deflate(blob)
    ws.send(BINARY, z[:10], fin=False, rsv=4)
    ws.send(PING, b"mid")
    check(ws.recv() == (True, 10, b"mid"), "pong between fragments")
    ws.send(CONT, z[10:100], fin=False)
    ws.send(CONT, z[100:])
    fin, rsv, op, payload = ws.recv_rsv()
    got = inflate(payload) if rsv else payload
    check(op == BINARY and rsv == 4 and got == blob,
          "fragmented compressed message")
    # Uncompressed from the client, and a short push back uncompressed.
    ws.send(TEXT, b"plain")
    check(ws.recv_rsv() == (True, 0, TEXT, b"plain"), "short plain echo")
    ws.send(8, struct.pack(">H", 1000))
    check(ws.recv_close() == 1000, "close")
    ws.close()


def test_failures(port):
    cases = [
        ("RSV1 on a continuation", [hh.ws_frame(TEXT, deflate(b"a" * 50),
                                                fin=False, rsv=4),
                                    hh.ws_frame(CONT, b"x", rsv=4)], 1002),
        ("RSV1 on a ping", [hh.ws_frame(PING, b"p", rsv=4)], 1002),
        ("bomb", [hh.ws_frame(BINARY, deflate(b"\0" * (MAX * 4)), rsv=4)],
         1009),
        ("not DEFLATE", [hh.ws_frame(BINARY, b"\xff\xff\xff\xff", rsv=4)],
         1007),
        ("bad UTF-8 inside", [hh.ws_frame(TEXT, deflate(b"ok \xc3\x28"),
                                          rsv=4)], 1007),
    ]
    for what, frames, code in cases:
        ws = open_deflate(port)
        for f in frames:
            ws.sock.sendall(f)
        got = ws.recv_close()
        check(got == code, "%s: closed with %r, expected %d"
              % (what, got, code))
        ws.close()


def test_off(port):
    ws = open_deflate(port)
    check(ws.resp.header("sec-websocket-extensions") is None,
          "offer accepted without websocket_compression")
    ws.send(TEXT, deflate(b"x" * 100), rsv=4)
    check(ws.recv_close() == 1002, "RSV1 without the extension")
    ws.close()


def main():
    with hh.HttpServer("ws-deflate", server={"worker_num": 1},
                       listener={"protocol": "websocket",
                                 "websocket_compression": True,
                                 "package_max_length": MAX}) as srv:
        srv.start()
        test_negotiation(srv.port)
        test_messages(srv.port)
        test_failures(srv.port)
        srv.stop()
    with hh.HttpServer("ws-deflate-off", server={"worker_num": 1},
                       listener={"protocol": "websocket"}) as srv:
        srv.start()
        test_off(srv.port)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
