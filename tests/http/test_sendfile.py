"""test_sendfile.py: files sent with sendfile(2), never through a worker:
a 50 MiB file from the plugin (swx_http_sendfile) and from the
document_root, both downloaded with curl and compared by hash; ranges; a
client that reads slowly holds no buffer (buffer_output_size counts
buffered bytes, not file bytes) and stalls no one; a file that shrinks while
it is sent ends that connection rather than hanging it."""

import hashlib
import os
import socket
import time

import http_helper as hh

check = hh.check

BIG = 50 << 20


def write_file(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            h.update(block)
            f.write(block)
            left -= len(block)
    return h.hexdigest()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def curl_hash(url, out):
    rc, _, err = hh.curl(["-o", out, "-w", "%{http_code}", url], timeout=100)
    check(rc == 0, "curl %s: %s" % (url, err))
    with open(out, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_curl_downloads(srv, digest):
    out = os.path.join(srv.dir, "download.bin")
    base = "http://%s:%d" % (hh.HOST, srv.port)
    check(curl_hash(base + "/file", out) == digest,
          "swx_http_sendfile download differs")
    check(curl_hash(base + "/big.bin", out) == digest,
          "static download differs")
    rc, body, err = hh.curl([base + "/file?100,1000"])
    with open(os.path.join(srv.dir, "www", "big.bin"), "rb") as f:
        f.seek(100)
        want = f.read(1000)
    check(rc == 0 and body == want, "offset and length: %d bytes" % len(body))


def test_slow_reader(srv, digest):
    master = srv.pid
    before = rss_kib(master)
    with hh.connect(srv.port, timeout=60) as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        slow.sendall(hh.get(srv.port, "/big.bin"))
        rd = hh.Reader(slow)
        _, status, _, headers = rd.head()
        check(status == 200, "slow reader status %d" % status)
        got = hashlib.sha256()
        first = rd.exact(1 << 20)
        got.update(first)
        # The server now waits on a full socket; others are served.
        for i in range(10):
            r = hh.exchange(srv.port, hh.get(srv.port, "/echo",
                                             body=b"%d" % i))
            check(r.body == b"%d" % i, "a request stalled behind the slow "
                  "reader")
        time.sleep(1)
        grown = rss_kib(master) - before
        check(grown < 16 * 1024, "the master grew by %d KiB for a slow "
              "reader of a file" % grown)
        left = BIG - len(first)
        while left:
            block = rd.exact(min(left, 1 << 20))
            got.update(block)
            left -= len(block)
        check(got.hexdigest() == digest, "slow download differs")


GONE = 5


def test_client_goes_away(srv):
    """Clients that close after the first MiB of a static file (with bytes
    unread, so the kernel resets the connection): each is logged as gone
    away, none as a file that shrank."""
    for _ in range(GONE):
        with hh.connect(srv.port, timeout=30) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(hh.get(srv.port, "/big.bin"))
            rd = hh.Reader(s)
            _, status, _, _ = rd.head()
            check(status == 200, "status %d" % status)
            rd.exact(1 << 20)
    srv.wait_log(r"closing: the client went away during a file transfer$",
                 count=GONE)
    check("shrank" not in srv.log_text(), "a client that went away was "
          "logged as a file that shrank")


def test_shrinking_file(srv):
    path = os.path.join(srv.dir, "www", "shrink.bin")
    write_file(path, 20 << 20)
    with hh.connect(srv.port, timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(hh.get(srv.port, "/shrink.bin"))
        rd = hh.Reader(s)
        _, status, _, headers = rd.head()
        rd.exact(1 << 20)
        os.truncate(path, 2 << 20)
        total = len(rd.buf) + (1 << 20)
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                total += len(b)
        except ConnectionResetError:
            pass
        check(total < 20 << 20, "got all of a file that shrank")
    srv.wait_log(r"closing: the file shrank while being sent$")
    r = hh.exchange(srv.port, hh.get(srv.port, "/echo", body=b"ok"))
    check(r.body == b"ok", "server hurt by a shrinking file")


def main():
    with hh.HttpServer("http-sendfile",
                       server={"buffer_output_size": 65536}) as srv:
        www = os.path.join(srv.dir, "www")
        os.makedirs(www)
        big = os.path.join(www, "big.bin")
        digest = write_file(big, BIG)
        srv.plugins[0]["config"] = {"file": big}
        srv.listener_opts["document_root"] = www
        srv.write_config()
        srv.start()
        test_curl_downloads(srv, digest)
        test_slow_reader(srv, digest)
        test_client_goes_away(srv)
        test_shrinking_file(srv)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
