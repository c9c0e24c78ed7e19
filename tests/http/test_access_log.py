"""test_access_log.py: the access log through the real binary. A custom
format on one listener (the client named by X-Forwarded-For from a
trusted peer, and its proxy), nginx's combined on a PROXY protocol
listener in a file of its own, a listener with "off": every line parsed
and checked against what was sent and received (status, bytes, method,
path, user agent with quotes escaped, errors answered by the reactor, a
streamed response, one after 100 Continue, a WebSocket upgrade).
Then: the lines are all there after a graceful stop right after the
requests; the file is reopened after a rename with SIGRTMIN and with
`swx-server -s reopen`, with no line lost or in the wrong file; 8 clients
at once make exactly as many lines as requests, none torn. With the log
on a FIFO nobody reads (a stuck disk), requests are still answered at
once, and lines past the cap are dropped, counted and logged: written
plus dropped equals the requests; if it is still stuck at the stop, the
master waits 10 s for it and exits all the same. A bad format is refused at start with
its JSON path."""

import os
import re
import signal
import socket
import threading
import time

import http_helper as hh

h = hh.h
check = hh.check

# The custom format: fields separated by "|", the request line quoted.
FORMAT = ("$remote_addr|$remote_port|$proxy_addr|$request_method|$uri|$args|"
          "$status|$bytes_sent|$body_bytes_sent|$request_length|"
          "\"$http_user_agent\"|$request_time|$request_time_us|"
          "$response_time_us|$worker_id|$connection_requests|$server_protocol|"
          "$time_iso8601|$msec|$pid|$ssl_protocol|\"$request\"")
CUSTOM = re.compile(
    r"^(?P<addr>[^|]+)\|(?P<port>-|\d+)\|(?P<proxy>[^|]+)\|(?P<method>[^|]+)"
    r"\|(?P<uri>[^|]+)\|(?P<args>[^|]*)\|(?P<status>\d{3})\|(?P<bytes>\d+)\|"
    r"(?P<body>\d+)\|(?P<reqlen>\d+)\|\"(?P<ua>[^\"]*)\"\|"
    r"(?P<rtime>\d+\.\d{3})\|(?P<rus>\d+)\|(?P<resp_us>\d+)\|"
    r"(?P<worker>-|\d+)\|(?P<nreq>\d+)\|(?P<proto>HTTP/1\.[01])\|"
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d)\|"
    r"(?P<msec>\d+\.\d{3})\|(?P<pid>\d+)\|(?P<ssl>-)\|\"(?P<request>[^\"]*)\"$")
COMBINED = re.compile(
    r'^(?P<addr>\S+) - - \[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d '
    r'[+-]\d{4})\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<body>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<ua>[^"]*)"$')


def read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    check(data == b"" or data.endswith(b"\n"), "%s ends in a torn line: %r"
          % (path, data[-80:]))
    return data.decode("ascii").splitlines()


def wait_lines(path, n, timeout=10.0):
    """The lines of path once there are n (flushed within a second)."""
    return h.wait_until(lambda: (lambda ls: ls if len(ls) >= n else None)(
        read_lines(path)), timeout, interval=0.05,
        what="%d lines in %s" % (n, path))


def raw_exchange(port, data):
    """Send data, read until the server closes: every byte it sent."""
    with hh.connect(port) as s:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b


def request(port, path, headers=(), method="GET", body=b"", prefix=b""):
    """One request with Connection: close; (status, total bytes, body
    bytes) as the client received them."""
    raw = raw_exchange(port, prefix + hh.get(port, path, list(headers) + [
        ("Connection", "close")], method=method, body=body))
    head, _, rest = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), len(raw), len(rest)


def parse(rx, line):
    m = rx.match(line)
    check(m is not None, "a line that does not parse: %r" % line)
    return m.groupdict()


def custom_listener(srv, log_path):
    ua = 'probe "quoted" \\ agent'
    sent = [
        ("/echo", "a=1", [("User-Agent", ua),
                          ("X-Forwarded-For", "203.0.113.9")], "GET", b""),
        ("/big", "1000", [("User-Agent", "big")], "GET", b""),
        ("/nothing", "", [("User-Agent", "nf")], "GET", b""),
        ("/echo", "", [("User-Agent", "post")], "POST", b"x" * 300),
    ]
    got = []
    for path, query, headers, method, body in sent:
        target = path + ("?" + query if query else "")
        got.append(request(srv.port, target, headers, method, body))
    with hh.connect(srv.port) as s:  # a malformed head: 400 by the reactor
        s.sendall(b"GARBAGE\r\n\r\n")
        hh.Reader(s).rest()
    lines = wait_lines(log_path, len(sent) + 1)
    check(len(lines) == len(sent) + 1, "lines: %r" % lines)
    # Two reactor threads: their lines are in order per thread only, so
    # each request's line is found by its user agent.
    bad = [x for x in lines if x.split("|")[6] == "400"]
    check(len(bad) == 1, "the 400 line: %r" % lines)
    by_ua = {parse(CUSTOM, x)["ua"]: x for x in lines if x not in bad}
    for (path, query, headers, method, body), (status, total, blen) in \
            zip(sent, got):
        ua = dict(headers)["User-Agent"]
        line = by_ua.get(ua.replace("\\", "\\x5C").replace('"', "\\x22"))
        check(line is not None, "no line for %s: %r" % (path, lines))
        f = parse(CUSTOM, line)
        want = {"method": method, "uri": path, "args": query,
                "status": str(status), "bytes": str(total),
                "body": str(blen), "proto": "HTTP/1.1", "ssl": "-",
                "request": "%s %s HTTP/1.1" % (method, path + (
                    "?" + query if query else ""))}
        for k, v in want.items():
            check(f[k] == v, "%s: %s is %r, expected %r (%r)"
                  % (path, k, f[k], v, line))
        check(int(f["reqlen"]) >= len(body) + 30, "request_length %s"
              % f["reqlen"])
        check(f["worker"] in ("0", "1") and f["nreq"] == "1", line)
        check(int(f["rus"]) >= int(f["resp_us"]) > 0, "times: %r" % line)
        check(abs(float(f["rtime"]) - int(f["rus"]) / 1e6) < 0.0011, line)
        check(abs(float(f["msec"]) - time.time()) < 60, line)
        check(f["pid"] == str(srv.pid), "pid %s" % f["pid"])
    first = parse(CUSTOM, by_ua['probe \\x22quoted\\x22 \\x5C agent'])
    check(first["addr"] == "203.0.113.9" and first["port"] == "-" and
          first["proxy"] == "127.0.0.1", "X-Forwarded-For from a trusted "
          "peer: %r" % first)
    other = parse(CUSTOM, by_ua["big"])
    check(other["addr"] == "127.0.0.1" and other["proxy"] == "-" and
          int(other["port"]) > 0 and other["body"] == "1000", other)
    bad = bad[0].split("|")
    check(bad[3] == "-" and bad[-1] == '"-"' and bad[14] == "-",
          "the 400 line: %r" % bad)
    h.log("custom format: %d lines match what was sent and received"
          % len(lines))


def proxied_listener(port, log_path):
    status, total, blen = request(
        port, "/echo?p", [("User-Agent", "via proxy"), ("Referer", "http://r/")],
        prefix=b"PROXY TCP4 192.0.2.1 127.0.0.1 5555 80\r\n")
    lines = wait_lines(log_path, 1)
    f = parse(COMBINED, lines[-1])
    check(f["addr"] == "192.0.2.1" and f["request"] == "GET /echo?p HTTP/1.1"
          and f["status"] == str(status) and f["body"] == str(blen) and
          f["referer"] == "http://r/" and f["ua"] == "via proxy",
          "combined behind a PROXY header: %r" % lines[-1])
    h.log("combined: %r" % lines[-1])


def other_paths(port, ws_port, log_path, ws_log):
    """A streamed response (parts from the worker, then its end), a
    request answered after 100 Continue (the interim response is not the
    one logged) and a WebSocket upgrade (101)."""
    before = len(read_lines(log_path))
    status, total, blen = request(port, "/stream?3", [("User-Agent", "st")])
    with hh.connect(port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nUser-Agent: cont\r\n"
                  b"Expect: 100-continue\r\nContent-Length: 5\r\n"
                  b"Connection: close\r\n\r\n")
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += s.recv(1)
        check(interim.startswith(b"HTTP/1.1 100 "), "100: %r" % interim)
        s.sendall(b"hello")
        rest = hh.Reader(s).rest()
    ws = hh.WsClient(ws_port, "/chat")
    check(ws.status == 101, "upgrade: %d" % ws.status)
    ws.close()
    lines = wait_lines(log_path, before + 2)
    by_ua = {parse(CUSTOM, x)["ua"]: parse(CUSTOM, x) for x in lines[before:]}
    st, co = by_ua["st"], by_ua["cont"]
    check(st["status"] == str(status) == "200" and st["bytes"] == str(total)
          and st["body"] == str(blen), "the stream: %r" % st)
    check(co["status"] == "200" and co["bytes"] == str(len(rest)) and
          co["method"] == "POST", "after 100 Continue: %r (%d bytes)"
          % (co, len(rest)))
    w = parse(COMBINED, wait_lines(ws_log, 1)[0])
    check(w["status"] == "101" and w["request"] == "GET /chat HTTP/1.1",
          "the upgrade: %r" % w)
    h.log("streamed, after 100 Continue, upgraded: logged as sent")


def many_clients(port, log_path, before):
    """8 keep-alive clients at once, with long and short user agents
    (lines of either size cross the buffers' ends): a line per request,
    each whole."""
    n_clients, per = 8, 150
    errors = []

    def client(c):
        try:
            with hh.connect(port) as s:
                r = hh.Reader(s)
                for i in range(per):
                    ua = ("u%d-" % c) * (400 if i % 7 == 0 else 2)
                    s.sendall(hh.get(port, "/echo?id=%d-%d" % (c, i),
                                     [("User-Agent", ua)]))
                    check(r.response().status == 200, "status")
        except Exception as e:  # noqa: B902 -- reported by the main thread
            errors.append(e)
    threads = [threading.Thread(target=client, args=(c,))
               for c in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not errors, "clients: %r" % errors[:1])
    total = before + n_clients * per
    lines = wait_lines(log_path, total)
    time.sleep(1.2)
    lines = read_lines(log_path)
    check(len(lines) == total, "%d lines for %d requests" % (len(lines),
                                                             total))
    ids = set()
    for line in lines[before:]:
        f = parse(CUSTOM, line)
        ids.add(f["args"])
        c = f["args"].split("=")[1].split("-")[0]
        check(set(f["ua"].split("-")[:-1]) == {"u" + c}, "a torn user agent")
    check(len(ids) == n_clients * per, "%d distinct requests logged"
          % len(ids))
    h.log("%d clients x %d requests: %d whole lines" % (n_clients, per,
                                                        len(ids)))
    return total


def tagged(port, tag, n):
    for i in range(n):
        check(request(port, "/echo?%s-%d" % (tag, i))[0] == 200, "status")


def log_writers(srv):
    """How many processes write the access log, each reopening it: the
    master in process mode, every worker in base mode."""
    m = re.search(r"started in base mode: (\d+) worker", srv.log_text())
    return int(m.group(1)) if m else 1


def rotate(srv, log_path, n, via_command):
    """Rename the file, reopen, and see each request's line in the file it
    belongs to: before the signal in the moved one, after it in the new
    (once every process that writes it has reopened it)."""
    tagged(srv.port, "before%d" % n, 5)
    moved = "%s.%d" % (log_path, n)
    os.rename(log_path, moved)
    reopened = len(re.findall(r"access log reopened", srv.log_text()))
    if via_command:
        rc, out, err = h.run_cli(["--config", srv.config_path, "-s",
                                  "reopen"])
        check(rc == 0, "-s reopen: %d %s %s" % (rc, out, err))
    else:
        os.kill(srv.pid, signal.SIGRTMIN)
    srv.wait_log(r"access log reopened", count=reopened + log_writers(srv))
    tagged(srv.port, "after%d" % n, 5)
    new = wait_lines(log_path, 5)
    time.sleep(1.2)
    old, new = read_lines(moved), read_lines(log_path)
    check(len(new) == 5 and all("after%d-" % n in x for x in new),
          "the new file: %r" % new)
    check(sum("before%d-" % n in x for x in old) == 5 and
          not any("after%d-" % n in x for x in old), "the moved file")
    h.log("reopen by %s: 5 lines in the moved file, 5 in the new one"
          % ("-s reopen" if via_command else "SIGRTMIN"))


def stop_right_after(srv, log_path, before):
    """Requests, then SIGTERM at once (before the once-a-second write):
    every line is in the file when the master has exited."""
    with hh.connect(srv.port) as s:
        r = hh.Reader(s)
        for i in range(100):
            s.sendall(hh.get(srv.port, "/echo?last-%d" % i))
            check(r.response().status == 200, "status")
    srv.stop()
    lines = read_lines(log_path)
    check(len(lines) == before + 100, "after the stop: %d lines, expected %d"
          % (len(lines), before + 100))
    check(all("last-" in x for x in lines[before:]), "the last lines")
    h.log("graceful stop right after 100 requests: all 100 lines written")


def slow_disk():
    """The access log is a FIFO nobody reads: the writer blocks in
    write(2), yet every request is answered at once (no reactor waits for
    it); past the cap lines are dropped and counted. Once the FIFO is read
    the writer goes on and logs the drops: the lines that came out and
    the lines counted as dropped add up to the requests."""
    with hh.HttpServer("access-fifo", server={"reactor_num": 1,
                                              "access_log": "PLACEHOLDER"},
                       listener={"access_log_format":
                                 "$request_uri $http_user_agent"}) as srv:
        fifo = os.path.join(srv.dir, "access.fifo")
        os.mkfifo(fifo)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        srv.server_cfg["access_log"] = fifo
        srv.write_config()
        srv.start()
        n, ua = 1500, "x" * 2000  # 3 MB of lines: past the 1 MiB cap
        t0 = time.monotonic()
        with hh.connect(srv.port) as s:
            r = hh.Reader(s)
            for i in range(n):
                s.sendall(hh.get(srv.port, "/echo?%d" % i,
                                 [("User-Agent", ua)]))
                check(r.response().status == 200, "status")
        took = time.monotonic() - t0
        check(took < 30, "%d requests took %.1f s with the disk stuck"
              % (n, took))
        os.set_blocking(rfd, True)
        got = []

        def reader():
            buf = b""
            while True:
                b = os.read(rfd, 1 << 20)
                if not b:
                    break
                buf += b
            got.append(buf)
        t = threading.Thread(target=reader)
        t.start()
        m = srv.wait_log(r"lines dropped \((\d+) in all\)")
        srv.stop()
        t.join(30)
        os.close(rfd)
        data = got[0]
        check(data.endswith(b"\n"), "a torn last line")
        lines = data.decode().splitlines()
        dropped = max(int(x) for x in re.findall(
            r"lines dropped \((\d+) in all\)", srv.log_text()))
        check(all(x.startswith("/echo?") and x.endswith(ua) for x in lines),
              "a torn line")
        check(len(lines) + dropped == n and dropped > 0,
              "%d lines written + %d dropped != %d requests"
              % (len(lines), dropped, n))
        h.log("disk stuck: %d requests in %.1f s, %d lines written, %d "
              "dropped and counted (first count %s)" % (n, took, len(lines),
                                                        dropped, m[0][1]))


def stuck_at_stop():
    """A FIFO that is never read: at the stop the writer cannot finish;
    the master gives it 10 s, says so, and exits all the same."""
    with hh.HttpServer("access-stuck", server={"reactor_num": 1,
                                               "access_log": "PLACEHOLDER"},
                       listener={"access_log_format": "$uri $http_x_pad"}) \
            as srv:
        fifo = os.path.join(srv.dir, "access.fifo")
        os.mkfifo(fifo)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        srv.server_cfg["access_log"] = fifo
        srv.write_config()
        srv.start()
        with hh.connect(srv.port) as s:
            r = hh.Reader(s)
            for i in range(100):  # 200 KB: past the pipe's 64 KiB
                s.sendall(hh.get(srv.port, "/echo", [("X-Pad", "p" * 2000)]))
                check(r.response().status == 200, "status")
        t0 = time.monotonic()
        srv.stop(timeout=30)
        took = time.monotonic() - t0
        os.close(rfd)
        # Base mode: the worker's writer has until the manager's SIGKILL
        # at max_wait_time (3 s), not the master's 10 s.
        low, said = (1, "after ") if h.base_mode() else (9, "after 10 s")
        check(low <= took < 25, "the stop took %.1f s" % took)
        check("the writer is still in write(2) " + said in srv.log_text(),
              "the stuck writer was not logged")
        h.log("a writer stuck at the stop: the master exited after %.1f s"
              % took)


def bad_formats():
    for listener, path, text in (
            ({"access_log": "x.log", "access_log_format": "$status $nope"},
             "listeners[0].access_log_format", "unknown variable $nope"),
            ({"access_log_format": "cost 5$"},
             "listeners[0].access_log_format", "a variable name after")):
        with hh.HttpServer("access-bad", listener=listener) as srv:
            rc, out, err = srv.check_config()
            check(rc != 0 and path in err and text in err, "%r: %d %r"
                  % (listener, rc, err))
    with hh.HttpServer("access-raw", listener={"protocol": "raw",
                                               "access_log": "x.log"}) as srv:
        rc, out, err = srv.check_config()
        check(rc != 0 and "listeners[0].access_log" in err, err)


def main():
    with hh.HttpServer("access-log", server={"access_log": "PLACEHOLDER"},
                       listener={"real_ip_from": ["127.0.0.1"],
                                 "access_log_format": FORMAT}) as srv:
        log_path = os.path.join(srv.dir, "access.log")
        proxy_log = os.path.join(srv.dir, "proxied.log")
        proxied = {"type": "tcp", "host": h.HOST, "port": h.free_port(),
                   "plugin": "probe", "protocol": "http",
                   "proxy_protocol": True, "access_log": proxy_log}
        quiet = {"type": "tcp", "host": h.HOST, "port": h.free_port(),
                 "plugin": "probe", "protocol": "http", "access_log": "off"}
        ws_log = os.path.join(srv.dir, "ws.log")
        ws = {"type": "tcp", "host": h.HOST, "port": h.free_port(),
              "plugin": "probe", "protocol": "websocket", "access_log": ws_log}
        srv.more = [proxied, quiet, ws]
        srv.server_cfg["access_log"] = log_path
        srv.server_cfg["pid_file"] = os.path.join(srv.dir, "swx.pid")
        srv.write_config()
        srv.start()
        custom_listener(srv, log_path)
        proxied_listener(proxied["port"], proxy_log)
        tagged(quiet["port"], "quiet", 3)
        other_paths(srv.port, ws["port"], log_path, ws_log)
        total = many_clients(srv.port, log_path, len(read_lines(log_path)))
        check(not any("quiet" in x for x in read_lines(log_path) +
                      read_lines(proxy_log)), "access_log off was logged")
        rotate(srv, log_path, 1, via_command=False)
        rotate(srv, log_path, 2, via_command=True)
        stop_right_after(srv, log_path, len(read_lines(log_path)))
        h.log("%d lines before the rotations" % total)
    slow_disk()
    stuck_at_stop()
    bad_formats()


if __name__ == "__main__":
    hh.main(main)
