"""test_eof_split.py: open_eof_split through the real server. Three
listeners with delimiters of 1, 4 and 8 bytes; for each, every on_receive
must be exactly one message ending with the delimiter (the frame_probe
plugin sends back what it got), whether the messages arrive many in one
write, cut in two at every byte boundary, or one byte at a time. Messages
hold partial delimiters, so a search that restarts wrongly across reads
cuts them in the wrong place."""

import listener_helper as lh

h = lh.h
check = lh.check

DELIMS = [b"\n", b"\r\n\r\n", b"<<END>>|"]


def messages_for(eof):
    """Messages whose first delimiter is at their end, several with a
    prefix of the delimiter inside (or right before the real one)."""
    body = [b"a", b"hello world", b"", b"x" * 300,
            eof[:-1] + b"z" if len(eof) > 1 else b"z",
            b"tail" + eof[:-1] if len(eof) > 1 else b"tail",
            bytes(range(1, 10))]
    out = []
    for b in body:
        m = b + eof
        if m.find(eof) == len(m) - len(eof):
            out.append(m)
    if len(eof) > 1:
        # The delimiter's first byte repeated before it: "\r\r\n\r\n".
        m = b"q" + eof[:1] + eof
        check(m.find(eof) == len(m) - len(eof), "bad test message")
        out.append(m)
    return out


def run_listener(port, eof):
    msgs = messages_for(eof)
    name = "eof %r" % eof
    count = lh.split_rounds(port, msgs, 50, name)
    # A message split right inside its delimiter, with the connection
    # otherwise idle: nothing may be delivered before the last byte.
    with h.connect(port) as s:
        s.sendall(b"held" + eof[:-1])
        s.settimeout(0.3)
        try:
            early = s.recv(100)
        except OSError:
            early = b""
        s.settimeout(10)
        check(early == b"", "%s: a message was delivered before its "
              "delimiter was complete: %r" % (name, early))
        s.sendall(eof[-1:])
        lh.expect(lh.Reader(s), [b"held" + eof], name + ", delimiter "
                  "completed")
    h.log("%s: %d messages checked" % (name, count + 1))


def main():
    listeners = [lh.tcp_listener(open_eof_split=True,
                                 package_eof=eof.decode("latin-1"))
                 for eof in DELIMS]
    with lh.frame_server("eof", listeners) as srv:
        srv.start()
        for lst, eof in zip(listeners, DELIMS):
            run_listener(lst["port"], eof)
        srv.stop()


if __name__ == "__main__":
    lh.main(main)
