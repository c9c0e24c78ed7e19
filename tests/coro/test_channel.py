"""test_channel.py: a producer and four consumers through a channel of
capacity 3: every item arrives once (sum and count), every consumer takes
some, the channel never holds more than its capacity, and closing it ends
the consumers; a channel of 1 with one consumer too."""

from coro_helper import h, ask, check, fields, log, server


def main():
    with server("co-channel") as srv:
        srv.start()
        for consumers, items, cap in ((4, 500, 3), (1, 100, 1)):
            r = ask(srv.port, "chan %d %d %d" % (consumers, items, cap))
            log(r)
            f = fields(r)
            check(f.get("rc") == "0", "consumers did not end: %r" % r)
            check(int(f["count"]) == items, "items lost or doubled: %r" % r)
            check(int(f["sum"]) == items * (items + 1) // 2, "sum: %r" % r)
            check(int(f["used"]) == consumers, "a consumer starved: %r" % r)
            check(int(f["maxlen"]) <= cap, "over capacity: %r" % r)
        srv.stop()


h.main(main)
