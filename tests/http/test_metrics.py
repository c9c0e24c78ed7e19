"""test_metrics.py: GET /metrics of the admin endpoint through the real
binary, read by a strict parser of Prometheus's text format 0.0.4 written
here: every line is a HELP, a TYPE or a sample of the grammar; every
sample's family has a TYPE given before its samples, and a family's lines
are together; no series twice; counters are named _total; each histogram's
buckets are cumulative, in rising order, end in +Inf, and +Inf equals
_count. The HTTP counters match the requests sent, by listener and status
class (2xx from the plugin, 4xx from the plugin and from the reactor, a
5xx when a worker crashes), the histogram's buckets the durations (a
request held 300 ms), the restarts the crash. The endpoint is on TCP:
without the bearer token /metrics is 401; other methods 405."""

import math
import re
import socket

import http_helper as hh

h = hh.h
check = hh.check

TOKEN = "metrics-test-token-0123456789"
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?,?\})? (\S+)(?: -?\d+)?$"
                    % (NAME, LABEL, LABEL))
HELP = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$"
                  % NAME)
VALUE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$|"
                   r"^[+-]Inf$|^NaN$")
ONE_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


class MetricsServer(hh.HttpServer):
    def __init__(self, name, admin_port, **kw):
        self.admin_port = admin_port
        super().__init__(name, **kw)

    def config(self):
        cfg = super().config()
        cfg["admin"] = {"host": h.HOST, "port": self.admin_port,
                        "token": TOKEN}
        return cfg


def admin_get(port, path, token=TOKEN, method="GET"):
    """(status, head text, body text) of one admin request."""
    req = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
    if token is not None:
        req += "Authorization: Bearer %s\r\n" % token
    with socket.create_connection((h.HOST, port), timeout=20) as s:
        s.sendall(req.encode() + b"\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    head, _, body = data.partition(b"\r\n\r\n")
    head = head.decode("latin-1")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", head)
    check(m is not None, "admin response: %r" % data[:200])
    n = re.search(r"(?im)^content-length: (\d+)\r?$", head)
    check(n is not None and int(n.group(1)) == len(body), "length: %r"
          % head)
    return int(m.group(1)), head, body.decode("utf-8")


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return None


def parse_labels(text):
    labels = {}
    for k, v in ONE_LABEL.findall(text or ""):
        check(k not in labels, "label %s twice" % k)
        labels[k] = v
    return labels


def parse_exposition(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}},
    or a TestFailure naming the first line that breaks the format."""
    check(text.endswith("\n"), "the exposition does not end in a newline")
    fams, types, done, seen = {}, {}, set(), set()
    current = None
    for line in text[:-1].split("\n"):
        hm, tm, sm = HELP.match(line), TYPE.match(line), None
        if hm or tm:
            fam = (hm or tm).group(1)
        else:
            sm = SAMPLE.match(line)
            check(sm is not None, "not a sample line: %r" % line)
            fam = family_of(sm.group(1), types)
            check(fam is not None, "a sample with no TYPE before it: %r"
                  % line)
        if fam != current:
            check(fam not in done, "family %s's lines are not together"
                  % fam)
            if current is not None:
                done.add(current)
            current = fam
        f = fams.setdefault(fam, {"type": None, "help": None, "samples": []})
        if hm:
            check(f["help"] is None and not f["samples"], "HELP: %r" % line)
            f["help"] = hm.group(2)
        elif tm:
            check(f["type"] is None and not f["samples"], "TYPE: %r" % line)
            f["type"] = types[fam] = tm.group(2)
        else:
            check(VALUE.match(sm.group(3)), "value of %r" % line)
            labels = parse_labels(sm.group(2))
            key = (sm.group(1), tuple(sorted(labels.items())))
            check(key not in seen, "a series twice: %r" % line)
            seen.add(key)
            f["samples"].append((sm.group(1), labels, float(sm.group(3))))
    for fam, f in fams.items():
        check(f["type"] is not None and f["help"] is not None,
              "%s lacks TYPE or HELP" % fam)
        if f["type"] == "counter":
            check(fam.endswith("_total"), "counter %s not _total" % fam)
            check(all(v >= 0 for _, _, v in f["samples"]), fam)
        if f["type"] == "histogram":
            check_histogram(fam, f["samples"])
    return fams


def check_histogram(fam, samples):
    series = {}
    for name, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        s = series.setdefault(rest, {"buckets": [], "sum": None,
                                     "count": None})
        if name == fam + "_bucket":
            check("le" in labels, "a bucket without le")
            s["buckets"].append((float(labels["le"]), v))
        elif name == fam + "_sum":
            s["sum"] = v
        else:
            s["count"] = v
    for rest, s in series.items():
        les = [le for le, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        check(les and les[-1] == math.inf, "%s%r: no +Inf bucket" % (fam,
                                                                     rest))
        check(all(a < b for a, b in zip(les, les[1:])), "le not rising")
        check(all(a <= b for a, b in zip(counts, counts[1:])),
              "%s%r: buckets not cumulative: %r" % (fam, rest, counts))
        check(s["count"] == counts[-1] and s["sum"] is not None,
              "%s%r: +Inf %r, _count %r" % (fam, rest, counts[-1],
                                            s["count"]))


def value(fams, fam, name=None, **labels):
    for n, ls, v in fams[fam]["samples"]:
        if n == (name or fam) and all(ls.get(k) == x
                                      for k, x in labels.items()):
            return v
    raise h.TestFailure("no sample %s %r" % (name or fam, labels))


def scrape(port):
    status, head, body = admin_get(port, "/metrics")
    check(status == 200, "/metrics: %d %s" % (status, body[:200]))
    check(re.search(r"(?im)^content-type: text/plain; version=0\.0\.4"
                    r"(; charset=utf-8)?\r?$", head), "type: %r" % head)
    return parse_exposition(body)


def send_traffic(port0, port1):
    for i in range(7):
        check(hh.exchange(port0, hh.get(port0, "/echo?%d" % i)).status == 200,
              "echo")
    for i in range(3):
        check(hh.exchange(port0, hh.get(port0, "/nothing")).status == 404,
              "404")
    for i in range(2):
        check(hh.exchange(port0, b"BAD\r\n\r\n").status == 400, "400")
    check(hh.exchange(port0, hh.get(port0, "/slow?300")).status == 200, "slow")
    for i in range(4):
        check(hh.exchange(port1, hh.get(port1, "/echo")).status == 200, "echo")


def settled(admin, n):
    """The figures once n requests are counted: a request is counted just
    after its response's last byte is written, so a client that has read
    it may scrape a moment before (in base mode the worker that wrote it
    counts it; on a busy machine it may not have run yet). The counts are
    then checked exactly: one too many fails as before."""
    dur = "swx_http_request_duration_seconds"

    def counted():
        fams = scrape(admin)
        total = sum(value(fams, dur, dur + "_count", listener=str(l))
                    for l in (0, 1))
        return fams if total >= n else None
    try:
        return h.wait_until(counted, 5, interval=0.05, what="%d counted" % n)
    except h.TestFailure:
        return scrape(admin)  # check_http says which count is short


def check_http(fams):
    req = "swx_http_requests_total"
    want = {("0", "2xx"): 8, ("0", "4xx"): 5, ("0", "1xx"): 0,
            ("0", "3xx"): 0, ("0", "5xx"): 0, ("1", "2xx"): 4,
            ("1", "4xx"): 0}
    for (l, st), n in want.items():
        got = value(fams, req, listener=l, status=st)
        check(got == n, "%s{listener=%s,status=%s} = %r, sent %d"
              % (req, l, st, got, n))
    listeners = {ls["listener"] for _, ls, _ in fams[req]["samples"]}
    check(listeners == {"0", "1"}, "listeners %r" % listeners)
    dur = "swx_http_request_duration_seconds"
    check(fams[dur]["type"] == "histogram", "histogram type")
    check(value(fams, dur, dur + "_count", listener="0") == 13, "count 0")
    check(value(fams, dur, dur + "_count", listener="1") == 4, "count 1")
    check(value(fams, dur, dur + "_bucket", listener="0", le="0.25") <= 12,
          "the 300 ms request in a bucket of 0.25 s or less")
    check(value(fams, dur, dur + "_bucket", listener="0", le="0.5") == 13,
          "a bucket of 0.5 s holds all")
    check(value(fams, dur, dur + "_sum", listener="0") >= 0.3, "sum")


def check_processes(fams, workers):
    states = {ls["state"]: v for _, ls, v in fams["swx_workers"]["samples"]}
    check(set(states) == {"idle", "busy", "down", "backoff"} and
          sum(states.values()) == workers, "swx_workers %r" % states)
    rss = fams["swx_process_resident_memory_bytes"]["samples"]
    check(sorted(ls["id"] for _, ls, _ in rss) == [str(i) for i in
                                                    range(workers)] and
          all(ls["kind"] == "worker" for _, ls, _ in rss), "rss %r" % rss)
    causes = {ls["cause"] for _, ls, _ in
              fams["swx_worker_restarts_total"]["samples"]}
    check(causes == {"crash", "max_request", "rss", "timeout"}, causes)
    for name in ("swx_connections", "swx_connections_accepted_total",
                 "swx_uptime_seconds", "swx_task_queue", "swx_tasking",
                 "swx_reloads_total", "swx_requests_total",
                 "swx_access_log_dropped_total"):
        check(name in fams, "%s missing" % name)
    check(value(fams, "swx_connections_accepted_total") >= 17, "accepted")


def crash(port1, admin):
    if h.base_mode():
        crash_base(port1, admin)
        return
    r = hh.exchange(port1, hh.get(port1, "/crash"), timeout=30)
    check(r.status == 502, "/crash: %r" % r)
    fams = h.wait_until(lambda: (lambda f: f if value(
        f, "swx_worker_restarts_total", cause="crash") == 1 and value(
        f, "swx_workers", state="idle") == 2 else None)(scrape(admin)), 20,
        interval=0.1, what="the crash counted and the worker back")
    check(value(fams, "swx_http_requests_total", listener="1",
                status="5xx") == 1, "the 502 counted")
    check(value(fams, "swx_http_request_duration_seconds",
                "swx_http_request_duration_seconds_count", listener="1")
          == 5, "count after the crash")


def crash_base(port1, admin):
    """Base mode: the connection dies with its worker, so no response
    and no count of it; the crash is counted and the worker comes back."""
    try:
        r = hh.exchange(port1, hh.get(port1, "/crash"), timeout=30)
        check(False, "/crash answered in base mode: %r" % r)
    except (EOFError, ConnectionError):
        pass
    fams = h.wait_until(lambda: (lambda f: f if value(
        f, "swx_worker_restarts_total", cause="crash") == 1 and value(
        f, "swx_workers", state="idle") == 2 else None)(scrape(admin)), 20,
        interval=0.1, what="the crash counted and the worker back")
    check(value(fams, "swx_http_request_duration_seconds",
                "swx_http_request_duration_seconds_count", listener="1") == 4,
          "count after the crash")


def access(admin):
    status, _, _ = admin_get(admin, "/metrics", token=None)
    check(status == 401, "/metrics without the token: %d" % status)
    status, _, _ = admin_get(admin, "/metrics", token="wrong" + TOKEN)
    check(status == 401, "/metrics with a wrong token: %d" % status)
    status, head, _ = admin_get(admin, "/metrics", method="POST")
    check(status == 405, "POST /metrics: %d" % status)


def main():
    admin = h.free_port()
    second = {"type": "tcp", "host": h.HOST, "port": h.free_port(),
              "plugin": "probe", "protocol": "http"}
    with MetricsServer("metrics", admin, more=[second]) as srv:
        srv.start()
        fams = scrape(admin)
        check(value(fams, "swx_http_requests_total", listener="0",
                    status="2xx") == 0, "a fresh server counted requests")
        send_traffic(srv.port, second["port"])
        fams = settled(admin, 17)
        check_http(fams)
        check_processes(fams, 2)
        h.log("/metrics: %d families parsed; counters match the %d requests "
              "sent" % (len(fams), 17))
        access(admin)
        crash(second["port"], admin)
        h.log("the crash: 502 counted as 5xx, restart cause crash 1")
        srv.stop(expected=("AddressSanitizer: SEGV",))


if __name__ == "__main__":
    hh.main(main)
