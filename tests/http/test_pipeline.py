"""test_pipeline.py: many requests in one write on one connection. The
responses come back in request order even when the first ones are the
slowest and other workers answer the later ones (each response parsed by
python3's http.client); bodies (Content-Length and chunked) between them
are framed right; a Connection: close in the batch ends it there. A
batch far larger than what the server reads ahead while a worker has a
request (it stops reading, then resumes) is answered whole and in order."""

import http.client
import threading

import http_helper as hh

check = hh.check


class _KeepOpen:
    """The shared buffered reader, which http.client must not close."""

    def __init__(self, f):
        self.f = f

    def __getattr__(self, name):
        return getattr(self.f, name)

    def close(self):
        pass


class _OneFile:
    """Every HTTPResponse reads from the same buffered file, so bytes of
    the next response read ahead are not lost."""

    def __init__(self, sock):
        self.f = _KeepOpen(sock.makefile("rb"))

    def makefile(self, *args, **kwargs):
        return self.f


def read_responses(sock, methods):
    src = _OneFile(sock)
    out = []
    for m in methods:
        r = http.client.HTTPResponse(src, method=m)
        r.begin()
        out.append((r.status, r.read(), r.getheader("Connection")))
    return out


def chunked(body):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def batch():
    """(bytes of all requests, methods, expected bodies)."""
    reqs, methods, want = [], [], []
    for i in range(12):
        ms = 300 - i * 25
        reqs.append(b"GET /slow?%d HTTP/1.1\r\nHost: t\r\n\r\n" % ms)
        methods.append("GET")
        want.append(b"slow %d\n" % ms)
        body = b"body %d" % i
        if i % 2:
            reqs.append(b"POST /echo HTTP/1.1\r\nHost: t\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body))
        else:
            reqs.append(b"POST /echo HTTP/1.1\r\nHost: t\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        methods.append("POST")
        want.append(body)
    reqs.append(b"HEAD /stream?4 HTTP/1.1\r\nHost: t\r\n\r\n")
    methods.append("HEAD")
    want.append(b"")
    reqs.append(b"GET /stream?4 HTTP/1.1\r\nHost: t\r\n\r\n")
    methods.append("GET")
    want.append(b"part 1\npart 2\npart 3\npart 4\nend\n")
    return b"".join(reqs), methods, want


def test_in_order(port, rounds):
    data, methods, want = batch()
    with hh.connect(port, timeout=30) as s:
        for _ in range(rounds):
            s.sendall(data)
            got = read_responses(s, methods)
            for i, (status, body, _) in enumerate(got):
                check(status == 200 and body == want[i],
                      "response %d: %r, expected %r" % (i, body, want[i]))


def test_bytewise(port):
    """The same batch trickled one byte at a time."""
    data, methods, want = batch()
    data = data[:2000]
    with hh.connect(port, timeout=30) as s:
        s.sendall(data)
    with hh.connect(port, timeout=30) as s:
        for b in data[:300]:
            s.sendall(bytes([b]))
        got = read_responses(s, methods[:2])
        check([g[1] for g in got] == want[:2], "bytewise: %r" % got)


def test_close_in_batch(port):
    data = (b"GET /slow?100 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            b"GET /worker HTTP/1.1\r\nHost: t\r\n\r\n")
    with hh.connect(port) as s:
        s.sendall(data)
        got = read_responses(s, ["GET", "GET"])
        check(got[0][1] == b"slow 100\n", "first: %r" % (got[0],))
        check(got[1][2] == "close", "second not marked close: %r"
              % (got[1],))
        s.settimeout(10)
        check(s.recv(100) == b"", "the request after the close was answered")


def test_read_ahead(port):
    """A slow first request, then about 400 KiB of pipelined requests: the
    server must stop reading past its read-ahead and resume after."""
    first = b"GET /slow?400 HTTP/1.1\r\nHost: t\r\n\r\n"
    one = b"GET /echo?%06d HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 300 + \
        b"\r\n\r\n"
    n = 1000
    data = first + b"".join(one % i for i in range(n))
    with hh.connect(port, timeout=30) as s:
        # The kernel's buffers may not take it all while the server holds
        # off, so the writes go from a thread while responses are read.
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        src = _OneFile(s)
        queries = []
        for i in range(n + 1):
            r = http.client.HTTPResponse(src, method="GET")
            r.begin()
            body = r.read()
            check(r.status == 200, "response %d: %d %r" % (i, r.status, body))
            if i == 0:
                check(body == b"slow 400\n", "first: %r" % body)
            else:
                queries.append(r.getheader("X-Query"))
        sender.join(30)
        check(not sender.is_alive(), "the batch was never taken whole")
    wrong = [(i, q) for i, q in enumerate(queries) if q != "%06d" % i]
    check(not wrong, "responses out of order: %r" % wrong[:5])


def test_workers_share(port):
    """In round robin, the batch reached more than one worker."""
    data = b"GET /worker HTTP/1.1\r\nHost: t\r\n\r\n" * 9
    with hh.connect(port) as s:
        s.sendall(data)
        got = read_responses(s, ["GET"] * 9)
    workers = {g[1] for g in got}
    check(len(workers) == 3, "round robin used workers %r" % workers)


def main():
    for mode in (1, 2):
        with hh.HttpServer("http-pipe-%d" % mode,
                           server={"worker_num": 3, "dispatch_mode": mode}
                           ) as srv:
            srv.start()
            test_in_order(srv.port, rounds=2)
            test_bytewise(srv.port)
            test_close_in_batch(srv.port)
            test_read_ahead(srv.port)
            if mode == 1 and not hh.h.base_mode():  # no dispatch_mode there
                test_workers_share(srv.port)
            srv.stop()


if __name__ == "__main__":
    hh.main(main)
