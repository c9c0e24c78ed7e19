"""test_websocket.py: RFC 6455 on a "websocket" listener, with a client
written on the stdlib socket module: the handshake (accept key), text and
binary echo, a fragmented message reassembled (with a ping between its
fragments), ping answered with pong by the server, the closing handshake
either way with its code, and every failure closed with its code: 1002
(unmasked, RSV bits, bad sequencing, bad control frames), 1007 (invalid
UTF-8, also split across fragments), 1009 (over package_max_length). Plain
HTTP requests on the same port reach on_request."""

import struct
import time

import http_helper as hh

check = hh.check

MAX = 65536
TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


def open_ws(port, path="/ws"):
    ws = hh.WsClient(port, path)
    check(ws.status == 101, "handshake: status %d" % ws.status)
    check(ws.resp.header("sec-websocket-accept") == hh.ws_accept(ws.key),
          "wrong Sec-WebSocket-Accept %r" % ws.resp.header(
              "sec-websocket-accept"))
    check(ws.resp.header("upgrade").lower() == "websocket" and
          ws.resp.header("connection").lower() == "upgrade", "101 headers")
    hh.h.check_server_date(ws.resp.header, "101")
    return ws


def last_close(port):
    return hh.exchange(port, hh.get(port, "/wsclose")).body.decode()


def expect_failure(port, frames, code, what):
    ws = open_ws(port)
    ws.send(TEXT, b"before")
    check(ws.recv()[2] == b"before", "%s: echo before" % what)
    for f in frames:
        ws.sock.sendall(f)
    got = ws.recv_close()
    check(got == code, "%s: closed with %r, expected %d" % (what, got, code))
    check(ws.closed(), "%s: connection left open" % what)
    ws.close()
    hh.h.wait_until(lambda: last_close(port) == str(code), 10,
                    what="on_ws_close(%d) for %s" % (code, what))


def test_echo(port):
    ws = open_ws(port)
    for op, data in ((TEXT, "héllo wörld €".encode()), (BINARY, bytes(256)),
                     (TEXT, b""), (BINARY, b"x" * 60000)):
        ws.send(op, data)
        fin, rop, got = ws.recv()
        check(fin and rop == op and got == data, "echo op %d of %d bytes"
              % (op, len(data)))
    ws.send(PING, b"are you there")
    check(ws.recv() == (True, PONG, b"are you there"), "ping")
    # Fragments, a ping between them, a character split between two.
    euro = "€".encode()
    ws.send(TEXT, b"frag-" + euro[:1], fin=False)
    ws.send(CONT, euro[1:] + b"-", fin=False)
    ws.send(PING, b"mid")
    ws.send(CONT, b"end")
    check(ws.recv() == (True, PONG, b"mid"), "pong between fragments")
    check(ws.recv() == (True, TEXT, b"frag-" + euro + b"-end"),
          "fragmented message")
    ws.send(TEXT, b"push 50")
    for i in range(50):
        check(ws.recv() == (True, BINARY, struct.pack("=i", i)), "push %d" % i)
    # The client closes: the server answers with the same code and closes.
    ws.send(CLOSE, struct.pack(">H", 1000) + b"bye")
    check(ws.recv_close() == 1000, "close echo")
    check(ws.closed(), "not closed after the close handshake")
    ws.close()
    hh.h.wait_until(lambda: last_close(port) == "1000", 10,
                    what="on_ws_close(1000)")


def test_server_close(port):
    ws = open_ws(port)
    ws.send(TEXT, b"close 4001")
    check(ws.recv_close() == 4001, "server close code")
    ws.send(CLOSE, struct.pack(">H", 4001))
    check(ws.closed(), "not closed after the client's answer")
    ws.close()
    hh.h.wait_until(lambda: last_close(port) == "4001", 10,
                    what="on_ws_close(4001)")
    # A client that never answers is closed after the wait.
    ws = open_ws(port)
    ws.send(TEXT, b"close 1001")
    check(ws.recv_close() == 1001, "server close 1001")
    t0 = time.monotonic()
    check(ws.closed(timeout=15), "silent client not closed")
    check(time.monotonic() - t0 > 3, "closed before the client could answer")
    ws.close()


def test_abnormal(port):
    ws = open_ws(port)
    ws.send(TEXT, b"x")
    ws.recv()
    ws.close()
    hh.h.wait_until(lambda: last_close(port) == "1006", 10,
                    what="on_ws_close(1006) for a dropped connection")


def test_failures(port):
    f = hh.ws_frame
    cases = [
        ([f(TEXT, b"unmasked", mask=False)], 1002, "unmasked"),
        ([f(TEXT, b"x", rsv=4)], 1002, "RSV1"),
        ([f(CONT, b"x")], 1002, "continuation first"),
        ([f(TEXT, b"a", fin=False), f(TEXT, b"b")], 1002, "text in text"),
        ([f(PING, b"x", fin=False)], 1002, "fragmented ping"),
        ([f(PING, b"x" * 126)], 1002, "ping of 126"),
        ([bytes([0x83, 0x80]) + b"\0\0\0\0"], 1002, "reserved opcode"),
        ([f(CLOSE, struct.pack(">H", 1005))], 1002, "close code 1005"),
        ([f(CLOSE, b"x")], 1002, "close of one byte"),
        ([f(TEXT, b"\xff")], 1007, "invalid UTF-8"),
        ([f(TEXT, b"ok \xe2\x82", fin=False), f(CONT, b"\x28")], 1007,
         "invalid UTF-8 across fragments"),
        ([f(TEXT, b"\xe2\x82")], 1007, "truncated UTF-8"),
        ([f(TEXT, b"\xed\xa0\x80")], 1007, "a surrogate"),
        ([f(CLOSE, struct.pack(">H", 1000) + b"\xff")], 1007,
         "close reason not UTF-8"),
        ([bytes([0x82, 0xff]) + struct.pack(">Q", MAX + 1)], 1009,
         "frame over package_max_length"),
        ([f(BINARY, b"a" * 40000, fin=False), f(CONT, b"b" * 40000)], 1009,
         "message over package_max_length"),
    ]
    for frames, code, what in cases:
        expect_failure(port, frames, code, what)


def test_handshake_refusals(port):
    ws = hh.WsClient(port, version="8")
    check(ws.status == 426, "version 8: %d" % ws.status)
    check(ws.resp.header("sec-websocket-version") == "13", "426 header")
    hh.h.check_server_date(ws.resp.header, "426")
    with hh.connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        r = hh.Reader(s).response()
        check(r.status == 400, "no key: %r" % r)
    # Not an upgrade: plain HTTP on the same port.
    r = hh.exchange(port, hh.get(port, "/echo", body=b"plain"))
    check(r.status == 200 and r.body == b"plain", "HTTP beside WebSocket")


def main():
    with hh.HttpServer("http-ws", server={"worker_num": 1},
                       listener={"protocol": "websocket",
                                 "package_max_length": MAX}) as srv:
        srv.start()
        test_echo(srv.port)
        test_server_close(srv.port)
        test_abnormal(srv.port)
        test_failures(srv.port)
        test_handshake_refusals(srv.port)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
