#!/usr/bin/env python3
"""make_corpus.py: regenerate the fuzz seed corpora in tests/fuzz/corpus/.

Each seed starts with the control bytes its target reads (see the target's
LLVMFuzzerTestOneInput) followed by protocol bytes. Run from anywhere:
    python3 tests/fuzz/make_corpus.py
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = "cCsSnvlLNVqQ?"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- framer: [mode][a][loff][boff][max_lo][max_hi][eof bytes][stream] ----

def ctl(mode, a, loff, boff, max_len):
    m = max_len - 1
    return bytes([mode, a, loff, boff, m & 0xff, m >> 8])


def eof_seed(delim, max_len, stream):
    return ctl(1, len(delim), 0, 0, max_len) + delim + stream


def length_seed(letter, loff, boff, max_len, stream):
    return ctl(0, TYPES.index(letter), loff, boff, max_len) + stream


PACK = {"c": "b", "C": "B", "s": "<h", "S": "<H", "n": ">H", "v": "<H",
        "l": "<i", "L": "<I", "N": ">I", "V": "<I", "q": "<q", "Q": "<Q"}


def framer_corpus():
    for i, delim in enumerate([b"\n", b"\r\n", b"aab", b"\r\n\r\n", b"abcab",
                               b"xxxxxy", b"EOF_EOF", b"12341235"]):
        body = b"".join(delim[:-1] + b"z" + delim for _ in range(3))
        write("framer", "eof_%d" % (i + 1), eof_seed(delim, 64, body + delim[:-1]))
    write("framer", "eof_toolong", eof_seed(b"\r\n", 8, b"123456789\r\n"))
    write("framer", "eof_exact_max", eof_seed(b"\r\n", 8, b"123456\r\nab\r\n"))
    write("framer", "eof_len0", ctl(1, 0, 0, 0, 64) + b"abc")
    write("framer", "eof_len9", ctl(1, 9, 0, 0, 64) + b"123456789abc")
    for letter, fmt in PACK.items():
        size = struct.calcsize(fmt)
        msgs = b""
        for n in (0, 3, 17):
            msgs += b"H" + struct.pack(fmt, n) + b"x" * n
        # [tag][length][body]; the file name keeps case apart
        name = "len_" + ("u" + letter if letter.isupper() else letter)
        write("framer", name, length_seed(letter, 1, 1 + size, 200, msgs))
    # extra header fields between the length and the body
    write("framer", "len_extra_fields",
          length_seed("N", 1, 8, 100, b"T\0\0\0\x03fffxyzU\0\0\0\0ggg"))
    write("framer", "len_negative", length_seed("l", 0, 4, 100, struct.pack("<i", -1)))
    write("framer", "len_too_big", length_seed("N", 0, 4, 100, struct.pack(">I", 97)))
    write("framer", "len_huge_q", length_seed("Q", 0, 0, 100, b"\xff" * 8))
    write("framer", "len_self_short", length_seed("n", 0, 0, 100, b"\x00\x01a"))
    write("framer", "len_whole_count", length_seed("n", 0, 0, 100, b"\x00\x04ab\x00\x02"))
    write("framer", "len_bad_type", ctl(0, 12, 0, 4, 100) + b"abcd")
    write("framer", "len_field_past_max", ctl(0, 8, 30, 4, 20) + b"abcd")


# ---- http: [mode][knob][request bytes]; mode&1 small limits, mode&2 chunked ----

H = b"Host: h\r\n"
GOOD = {
    "get": b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    "get_query": b"GET /p/a?x=1&y=2 HTTP/1.1\r\n" + H + b"Accept: */*\r\n\r\n",
    "head_10": b"HEAD /i HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "options_star": b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "absolute": b"GET http://ex.com:81/a?b HTTP/1.1\r\n" + H + b"\r\n",
    "post_cl": b"POST /f HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello",
    "post_chunked": b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                    b"5;ext=1\r\nhello\r\n0\r\nTrailer: v\r\n\r\n",
    "expect": b"PUT /u HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    "upgrade": b"GET /ws HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\n" + H + b"\r\nPOST /2 HTTP/1.1\r\n" + H +
                 b"Content-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\n" + H + b"\r\n",
    "leading_crlf": b"\r\n\r\nGET / HTTP/1.1\r\n" + H + b"\r\n",
    "close": b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
    "obs_text": b"GET / HTTP/1.1\r\n" + H + b"X-Name: caf\xc3\xa9\r\n\r\n",
    "cl_dup_equal": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
}
BAD = {
    "cl_te": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
    "te_cl": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
    "cl_dup_diff": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "cl_sign": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +1\r\n\r\n",
    "cl_overflow": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999\r\n\r\n",
    "te_gzip_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
    "te_chunked_gzip": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
    "te_double": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    "te_http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\n" + H + b"\n",
    "space_colon": b"GET / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n",
    "bad_name": b"GET / HTTP/1.1\r\n" + H + b"X(: a\r\n\r\n",
    "ctl_value": b"GET / HTTP/1.1\r\n" + H + b"X: a\x01b\r\n\r\n",
    "bad_method": b"G(T / HTTP/1.1\r\n" + H + b"\r\n",
    "http2": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    "no_host": b"GET / HTTP/1.1\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\n" + H + H + b"\r\n",
    "userinfo": b"GET http://u@h/ HTTP/1.1\r\n" + H + b"\r\n",
    "long_uri": b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n" + H + b"\r\n",
}
CHUNKED = {
    "simple": b"5\r\nhello\r\n0\r\n\r\n",
    "many": b"3\r\nabc\r\nA\r\n0123456789\r\nb;x=\"q\"\r\nABCDEFGHIJK\r\n0\r\n\r\nGET",
    "trailers": b"2\r\nok\r\n0\r\nX-Sum: 1\r\nX-Other:\tv\r\n\r\n",
    "bws_ext": b"3 ;x\r\nabc\r\n0\t;y\r\n\r\n",
    "bad_size": b"5x\r\nhello\r\n0\r\n\r\n",
    "overflow": b"fffffffffffffffff\r\n",
    "too_big": b"1001\r\n",
    "no_crlf": b"5\r\nhelloX0\r\n\r\n",
    "bare_lf": b"5\nhello\n0\n\n",
}


def http_corpus():
    for name, req in list(GOOD.items()) + list(BAD.items()):
        write("http", name, bytes([0, 0]) + req)
    write("http", "small_limits_get", bytes([1, 40]) + GOOD["get_query"])
    write("http", "small_limits_many", bytes([1, 2]) + GOOD["upgrade"])
    for name, body in CHUNKED.items():
        write("http", "chunked_" + name, bytes([2, 0]) + body)


# ---- ws: [mode][cut][frames]; mode&7 picks max_payload, mode&0x80 base64 ----

def frame(b0, payload, mask=b"\x37\xfa\x21\x3d", form=None, masked=True):
    n = len(payload)
    form = form or (7 if n < 126 else 16 if n < 65536 else 64)
    mbit = 0x80 if masked else 0
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + (mask if masked else b"") + body


def ws_corpus():
    m = 6  # max_payload 1 MiB
    write("ws", "text", bytes([m, 3]) + frame(0x81, b"Hello"))
    write("ws", "binary_16", bytes([m, 100]) + frame(0x82, bytes(range(256)) * 2))
    write("ws", "binary_64", bytes([m, 7]) + frame(0x82, b"abc", form=64))
    write("ws", "fragmented", bytes([m, 1]) + frame(0x01, b"h\xc3") + frame(0x89, b"ping") +
          frame(0x00, b"\xa9llo \xe2\x82") + frame(0x80, b"\xac!"))
    write("ws", "close_reason", bytes([m, 2]) + frame(0x88, b"\x03\xe8bye"))
    write("ws", "close_empty", bytes([m, 0]) + frame(0x88, b""))
    write("ws", "close_bad_code", bytes([m, 0]) + frame(0x88, b"\x03\xed"))
    write("ws", "close_bad_utf8", bytes([m, 0]) + frame(0x88, b"\x03\xe8\xed\xa0\x80"))
    write("ws", "pong", bytes([m, 0]) + frame(0x8a, b"x" * 125))
    write("ws", "rsv1", bytes([m, 0]) + frame(0xc1, b"x"))
    write("ws", "opcode3", bytes([m, 0]) + frame(0x83, b"x"))
    write("ws", "ping_frag", bytes([m, 0]) + frame(0x09, b"x"))
    write("ws", "ping_long", bytes([m, 0]) + frame(0x89, b"x" * 126))
    write("ws", "unmasked", bytes([m, 0]) + frame(0x81, b"x", masked=False))
    write("ws", "len_msb", bytes([m, 0]) + bytes([0x82, 0xff, 0x80]) + b"\0" * 11)
    write("ws", "too_big", bytes([2, 0]) + frame(0x82, b"x" * 126))
    write("ws", "cont_first", bytes([m, 0]) + frame(0x80, b"x"))
    write("ws", "text_in_frag", bytes([m, 0]) + frame(0x01, b"a") + frame(0x81, b"b"))
    write("ws", "bad_utf8_text", bytes([m, 4]) + frame(0x81, b"ab\xc0\xafcd"))
    write("ws", "utf8_4byte", bytes([m, 2]) + frame(0x81, b"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"))
    write("ws", "b64_key", bytes([0x80, 0]) + b"dGhlIHNhbXBsZSBub25jZQ==")
    write("ws", "b64_noncanon", bytes([0x80, 0]) + b"dGhlIHNhbXBsZSBub25jZR==")
    write("ws", "b64_foobar", bytes([0x80, 3]) + b"Zm9vYmFy")
    write("ws", "utf8_mixed", bytes([0x80, 5]) + b"caf\xc3\xa9 \xe2\x82\xac \xed\x9f\xbf")
    # mode 0x40: permessage-deflate (RSV1 frames, raw DEFLATE bytes).
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    z = (c.compress(b"hello hello hello hello") + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    write("ws", "deflate_frame", bytes([0x46, 0]) + frame(0xc1, z))
    write("ws", "deflate_raw", bytes([0x46, 0]) + z)
    write("ws", "deflate_rsv1_cont", bytes([0x46, 0]) + frame(0xc0, b"x"))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = (c.compress(b"\0" * 100000) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    write("ws", "deflate_bomb", bytes([0x43, 0]) + bomb)


# ---- http_wire: a request message as a reactor encodes it (http_wire.h):
# http_wire_hdr_t, then NUL-terminated method, path, query, headers, body;
# or a request head, which the target also encodes and decodes; or the
# end of a response (HTTP_MSG_END) ----

def wire(method, path, query, headers, body, peer=b"127.0.0.1", port=1234):
    out = struct.pack("<IIIIQBBBBi48s", len(method), len(path),
                      len(query or b""), len(headers), len(body), 1, 1,
                      query is not None, 0, port, peer)
    out += method + b"\0" + path + b"\0" + (query or b"") + b"\0"
    for name, value in headers:
        out += struct.pack("<II", len(name), len(value))
        out += name + b"\0" + value + b"\0"
    return out + body + b"\0"


def http_wire_corpus():
    write("http_wire", "get", wire(b"GET", b"/", None, [(b"Host", b"a")],
                                   b""))
    write("http_wire", "post", wire(b"POST", b"/echo", b"a=1",
                                    [(b"Host", b"a"),
                                     (b"Content-Length", b"5")], b"hello"))
    write("http_wire", "head_request",
          b"POST /x?y HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\nbody")
    # HTTP_MSG_END: flags (0x02: trailers), their u32 length and lines,
    # then the last bytes.
    trailers = b"X-Sum: 12\r\nGrpc-Status: 0\r\n"
    write("http_wire", "end_trailers",
          struct.pack("<BI", 0x02, len(trailers)) + trailers + b"0\r\n\r\n")
    write("http_wire", "end_close", b"\x01last bytes")


# ---- form: [name_len][cap][name][query, form body or Cookie value] ----

def form_seed(name, cap, text):
    return bytes([len(name), cap]) + name + text


def form_corpus():
    write("form", "query", form_seed(b"q", 64,
                                     b"a=1&q=hello+world%21&q=2"))
    write("form", "cookie", form_seed(b"sid", 16,
                                      b'sida=1; sid=abc123; theme="dark"'))
    write("form", "bad_escape", form_seed(b"a", 4, b"a=%zz&a=toolong"))
    write("form", "encoded_name", form_seed(b"first name", 64,
                                            b"first%20name=Ann&x=%4"))
    write("form", "flag", form_seed(b"flag", 1, b"&&flag&=x"))
    write("form", "multipart", form_seed(
        b"XyZ", 32, b"pre\r\n--XyZ\r\nContent-Disposition: form-data; "
        b'name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
        b"data\r\n--XyZx\r\n--XyZ \r\n\r\n\r\n--XyZ--\r\n"))


# ---- proxy: the bytes a connection starts with ----

PROXY_V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(ver_cmd, fam, body):
    return PROXY_V2_SIG + bytes([ver_cmd, fam]) + struct.pack(">H", len(body)) + body


def proxy_corpus():
    write("proxy", "v1_tcp4", b"PROXY TCP4 192.0.2.7 10.0.0.1 12345 80\r\n"
          b"GET / HTTP/1.1\r\n\r\n")
    write("proxy", "v1_tcp6", b"PROXY TCP6 2001:db8::1 ::1 65535 443\r\n")
    write("proxy", "v1_unknown", b"PROXY UNKNOWN\r\n")
    write("proxy", "v1_unknown_long", b"PROXY UNKNOWN " + b":".join(
        [b"ffff"] * 8) + b" " + b":".join([b"ffff"] * 8) + b" 65535 65535\r\n")
    write("proxy", "v2_tcp4", proxy_v2(0x21, 0x11, bytes([192, 0, 2, 7, 10, 0, 0, 1])
          + struct.pack(">HH", 12345, 80)) + b"rest")
    write("proxy", "v2_tcp6_tlv", proxy_v2(0x21, 0x21, bytes(15) + b"\x05" +
          bytes(15) + b"\x01" + struct.pack(">HH", 443, 8080) +
          b"\x02\x00\x07host.ex"))
    write("proxy", "v2_local", proxy_v2(0x20, 0x00, b""))
    write("proxy", "v2_unix", proxy_v2(0x21, 0x31, b"/tmp/a".ljust(108, b"\0") +
          b"/tmp/b".ljust(108, b"\0")))


# ---- tls_record: [flags] then operations [opcode][length][bytes] ----

def tls_op(code, data=b""):
    return bytes([code, len(data)]) + data


def h2_frame(ftype, flags, stream, payload):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags]) +
            stream.to_bytes(4, "big") + payload)


def tls_record_corpus():
    """fuzz_tls_record: flags pick version, cipher, listener and ALPN."""
    get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    h1 = (tls_op(0, get) + tls_op(4) + tls_op(0, get) + tls_op(4, b"\x01") +
          tls_op(2, b"\x07") + tls_op(0, get) + tls_op(4) + tls_op(5))
    for flags in (0, 1, 2, 3, 16):
        write("tls_record", "http1_%02x" % flags, bytes([flags]) + h1)
    write("tls_record", "keyupdate", bytes([0]) + tls_op(0, get) +
          tls_op(3, b"\x01") + tls_op(0, get) + tls_op(4))
    write("tls_record", "renegotiate", bytes([2]) + tls_op(0, get) +
          tls_op(3) + tls_op(4))
    write("tls_record", "tampered", bytes([0]) + tls_op(0, get) +
          tls_op(7, b"\x05\x00\x01"))
    write("tls_record", "raw_junk", bytes([1]) + tls_op(0, get[:9]) +
          tls_op(1, b"\x17\x03\x03\x00\x05hello") + tls_op(4))
    write("tls_record", "half_close", bytes([0]) + tls_op(0, get) +
          tls_op(6) + tls_op(4, b"\x01"))
    headers = bytes([0x82, 0x87, 0x84, 0x41, 0x01]) + b"x"
    h2 = (h2_frame(4, 0, 0, b"") + h2_frame(1, 5, 1, headers) +
          h2_frame(1, 5, 3, headers))
    write("tls_record", "h2", bytes([8]) + tls_op(0, h2) + tls_op(4) +
          tls_op(4, b"\x01") + tls_op(2, b"\x03") +
          tls_op(0, h2_frame(6, 0, 0, b"12345678")))
    write("tls_record", "stream", bytes([4]) + tls_op(0, b"hello\n") +
          tls_op(2, b"\x00") + tls_op(0, b"x" * 200) + tls_op(5))


if __name__ == "__main__":
    framer_corpus()
    http_corpus()
    ws_corpus()
    http_wire_corpus()
    form_corpus()
    proxy_corpus()
    tls_record_corpus()
