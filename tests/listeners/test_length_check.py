"""test_length_check.py: open_length_check through the real server, one
listener for each of Swoole's pack letters (c C s S n N l L q Q v V). The
header is two marker bytes, the length field at package_length_offset 2,
then one spare byte; package_body_offset is where the body starts, so a
frame is body_offset + the field's value bytes. Every on_receive must be
exactly one frame (frame_probe sends back what it got), whether frames
arrive many in one write, cut in two at every byte boundary, or one byte at
a time; a negative length in a signed field closes only that connection."""

import struct

import listener_helper as lh

h = lh.h
check = lh.check

# Swoole's letter -> Python struct code (host order is "=": the server and
# this test run on the same machine).
TYPES = {"c": "=b", "C": "=B", "s": "=h", "S": "=H", "n": ">H", "N": ">I",
         "l": "=i", "L": "=I", "q": "=q", "Q": "=Q", "v": "<H", "V": "<I"}
BODIES = [b"", b"A", b"hello", bytes(range(40)), b"z" * 120]


def frame(code, body):
    field = struct.pack(code, len(body))
    return b"\xab\xcd" + field + b"\xee" + body


def listener_for(letter):
    size = struct.calcsize(TYPES[letter])
    return lh.tcp_listener(open_length_check=True, package_length_type=letter,
                           package_length_offset=2,
                           package_body_offset=2 + size + 1)


def run_listener(port, letter):
    frames = [frame(TYPES[letter], b) for b in BODIES]
    return lh.split_rounds(port, frames, 40, "type %s" % letter)


def negative_length(port, code, other_port):
    """A negative length closes that connection; one open beside it on the
    same listener is served before and after."""
    with h.connect(port) as bad, h.connect(port) as good:
        rg = lh.Reader(good)
        good.sendall(frame(code, b"before"))
        lh.expect(rg, [frame(code, b"before")], "neighbour before")
        bad.sendall(b"\xab\xcd" + struct.pack(code, -5) + b"\xee" + b"x" * 20)
        check(lh.Reader(bad).closed(), "a negative length (%s) did not close "
              "the connection" % code)
        good.sendall(frame(code, b"after"))
        lh.expect(rg, [frame(code, b"after")], "neighbour after")
    with h.connect(other_port) as s:
        f = frame(">H", b"other listener")
        s.sendall(f)
        lh.expect(lh.Reader(s), [f], "another listener")


def main():
    letters = sorted(TYPES)
    listeners = [listener_for(t) for t in letters]
    with lh.frame_server("length", listeners) as srv:
        srv.start()
        ports = {t: lst["port"] for t, lst in zip(letters, listeners)}
        for t in letters:
            h.log("type %s: %d frames checked"
                  % (t, run_listener(ports[t], t)))
        negative_length(ports["l"], TYPES["l"], ports["n"])
        srv.wait_log(r"peer 127\.0\.0\.1:\d+\): invalid length field")
        srv.stop()


if __name__ == "__main__":
    lh.main(main)
