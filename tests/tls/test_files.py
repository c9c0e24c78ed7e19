"""test_files.py: files over TLS, the way the kernel allows: with kTLS
(SSL_sendfile) where the kernel has its tls module and the cipher suits
it, else read and written with SSL_write by the loop that owns the
connection. For TLS 1.3 and 1.2, AES-GCM and ChaCha20: a static file
whole and by Range (a middle range and a suffix), and swx_http_sendfile
with an offset and a length, each compared with the file's bytes. The
path taken is logged once per process at debug, and is the one this
kernel allows: kTLS when /proc/sys/net/ipv4/tcp_available_ulp lists tls
(then /proc/net/tls_stat counts the connections), else SSL_write with
the reason (the module is not loaded)."""

import os
import re

import tls_helper as th

check = th.check
SIZE = 3 << 20
KTLS_LINE = "TLS files go out with SSL_sendfile: kTLS"
PLAIN_LINE = "TLS files are read and sent with SSL_write"

# curl's options for each handshake tried.
CLIENTS = (
    ("TLS 1.3 AES-128-GCM", ["--tlsv1.3", "--tls13-ciphers",
                             "TLS_AES_128_GCM_SHA256"]),
    ("TLS 1.3 ChaCha20", ["--tlsv1.3", "--tls13-ciphers",
                          "TLS_CHACHA20_POLY1305_SHA256"]),
    ("TLS 1.2 AES-256-GCM", ["--tlsv1.2", "--tls-max", "1.2", "--ciphers",
                             "ECDHE-ECDSA-AES256-GCM-SHA384"]),
    ("TLS 1.2 ChaCha20", ["--tlsv1.2", "--tls-max", "1.2", "--ciphers",
                          "ECDHE-ECDSA-CHACHA20-POLY1305"]),
)


def kernel_has_ktls():
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            return "tls" in f.read().split()
    except OSError:
        return False


def tls_tx_count():
    """/proc/net/tls_stat's TlsTxSw + TlsTxDevice (0 without the module)."""
    try:
        with open("/proc/net/tls_stat") as f:
            stats = dict(line.split() for line in f if line.strip())
    except OSError:
        return 0
    return int(stats.get("TlsTxSw", 0)) + int(stats.get("TlsTxDevice", 0))


def start(pki):
    srv = th.h.Server("tls-files", server={"worker_num": 2, "reactor_num": 2,
                                           "log_level": "debug"})
    www = os.path.join(srv.dir, "www")
    os.makedirs(www)
    data = os.urandom(SIZE)
    path = os.path.join(www, "big.bin")
    with open(path, "wb") as f:
        f.write(data)
    srv.plugins = [{"name": "probe", "path": th.hh.PROBE,
                    "config": {"file": path}}]
    srv.listeners = [dict(th.tls_opts(pki), type="tcp", host=th.HOST,
                          port=srv.port, plugin="probe", protocol="http",
                          document_root=www,
                          static_handler_locations=["/big.bin"])]
    srv.write_config()
    srv.fixed_port = True
    srv.start()
    return srv, data


def get(srv, pki, opts, path, *more):
    url = "https://localhost:%d%s" % (srv.port, path)
    res = "localhost:%d:%s" % (srv.port, th.HOST)
    out = os.path.join(srv.dir, "got.bin")
    rc, text = th.curl(pki, url, "--resolve", res, "-o", out, *opts, *more)
    check(rc == 0, "curl %s %s: %s" % (" ".join(opts), path, text))
    with open(out, "rb") as f:
        return f.read()


def test_client(srv, pki, data, name, opts):
    check(get(srv, pki, opts, "/big.bin") == data,
          "%s: static file differs" % name)
    check(get(srv, pki, opts, "/big.bin", "-r", "1000-2000999") ==
          data[1000:2001000], "%s: Range 1000-2000999 differs" % name)
    check(get(srv, pki, opts, "/big.bin", "-r", "-70000") == data[-70000:],
          "%s: suffix Range differs" % name)
    check(get(srv, pki, opts, "/file?12345,2000000") ==
          data[12345:2012345], "%s: swx_http_sendfile with offset and "
          "length differs" % name)
    th.h.log("%s: whole, Range and swx_http_sendfile match" % name)


def path_lines(srv):
    """{pid: [line, ...]} of the file-path lines in the server's log."""
    out = {}
    with open(srv.log_path, errors="replace") as f:
        for line in f:
            if KTLS_LINE in line or PLAIN_LINE in line:
                m = re.search(r"\] (\d+) ", line)
                out.setdefault(m.group(1) if m else "?", []).append(line)
    return out


def check_path(srv, before):
    lines = path_lines(srv)
    every = [x for per in lines.values() for x in per]
    check(every, "no line says how TLS files go out")
    for pid, per in lines.items():
        for kind in (KTLS_LINE, PLAIN_LINE):
            n = sum(kind in x for x in per)
            check(n <= 1, "process %s logged %r %d times" % (pid, kind, n))
    if kernel_has_ktls():
        check(any(KTLS_LINE in x for x in every),
              "the kernel has kTLS but no file went out with it: %s" % every)
        check(tls_tx_count() > before, "/proc/net/tls_stat counts no kTLS "
              "connection (%d before)" % before)
        th.h.log("kTLS in use: %s" % every[0].strip())
    else:
        check(all(PLAIN_LINE in x and "tls module is not loaded" in x
                  for x in every), "no kTLS here, yet: %s" % every)
        th.h.log("no kTLS on this kernel; SSL_write path: %s"
                 % every[0].strip())


def main():
    th.h.require(th.hh.PROBE, th.OPENSSL, th.hh.CURL)
    base = th.h.Server("tls-files-pki")
    pki = th.Pki(base.dir)
    before = tls_tx_count()
    srv, data = start(pki)
    with srv:
        for name, opts in CLIENTS:
            test_client(srv, pki, data, name, opts)
        check_path(srv, before)
        srv.stop()


if __name__ == "__main__":
    th.h.main(main)
