"""test_reload.py: certificates re-read on reload without closing a
connection or restarting a process: under HTTPS load (POSTs on new
connections and on keep-alive ones, python ssl clients), the certificate files are replaced
and the server reloaded (SIGUSR1, then swx-server -s reload): no request
fails, new handshakes see the new certificate, a connection opened before
keeps working. A bad replacement (expired, a key that does not match, a
missing file) keeps the old certificate and logs why. swx-server -t
reports each certificate error by its JSON path with OpenSSL's reason,
and a start with them fails the same way."""

import os
import shutil
import signal
import threading
import time

import tls_helper as th

check = th.check


def serial_of(port, pki):
    with th.tls_connect(port, th.client_ctx(pki)) as s:
        return s.getpeercert()["serialNumber"].upper()


def put(pki, cert, key):
    """Replace the served files by those of cert and key, each by a
    rename, as a certificate tool would."""
    for src, dst in ((cert + ".pem", "live.pem"), (key + ".key", "live.key")):
        tmp = pki.path(dst + ".tmp")
        if src is None or not os.path.exists(pki.path(src)):
            os.unlink(pki.path(dst))
            continue
        shutil.copy(pki.path(src), tmp)
        os.rename(tmp, pki.path(dst))


def https_get(s, reader, n):
    """One HTTPS request on s: the body must come back whole. Whether the
    server closes the connection after it (base mode: a worker being
    replaced says Connection: close and finishes)."""
    body = ("request %d" % n).encode()
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
              b"%d\r\n\r\n%s" % (len(body), body))
    r = reader.response()
    check(r.status == 200 and r.body == body, "response %r" % r)
    return (r.header("connection") or "").lower() == "close"


class Load(threading.Thread):
    """HTTPS requests until stopped: a new connection each (new=True) or
    one kept-alive connection; every failure is kept."""

    def __init__(self, port, pki, new):
        super().__init__(daemon=True)
        self.port, self.pki, self.new = port, pki, new
        self.stop, self.ok, self.failures = False, 0, []

    def run(self):
        ctx = th.client_ctx(self.pki)
        keep = None
        while not self.stop:
            try:
                if self.new:
                    with th.tls_connect(self.port, ctx) as s:
                        https_get(s, th.hh.Reader(s), self.ok)
                else:
                    if keep is None:
                        keep = th.tls_connect(self.port, ctx)
                        reader = th.hh.Reader(keep)
                    if https_get(keep, reader, self.ok):
                        keep.close()
                        keep = None
                    time.sleep(0.005)
                self.ok += 1
            except Exception as e:  # noqa: BLE001 -- counted
                self.failures.append(repr(e))
                keep = None
        if keep is not None:
            keep.close()


def reload_cli(srv):
    rc, out, err = th.h.run_cli(["-s", "reload", "--config",
                                 srv.config_path])
    check(rc == 0, "-s reload: %s %s" % (out, err))


def test_reload(srv, pki):
    old = serial_of(srv.port, pki)
    check(old == pki.serial("server"), "serves the first certificate")
    early = th.tls_connect(srv.port, th.client_ctx(pki))
    early_reader = th.hh.Reader(early)
    https_get(early, early_reader, 0)
    loads = [Load(srv.port, pki, new) for new in (True, True, False, False)]
    for t in loads:
        t.start()
    time.sleep(0.5)
    put(pki, "server2", "server2")
    os.kill(srv.pid, signal.SIGUSR1)
    srv.wait_log(r"listeners\[0\]: TLS certificates reloaded")
    th.h.wait_until(lambda: serial_of(srv.port, pki) == pki.serial(
        "server2"), 10, what="new handshakes see the new certificate")
    for bad, why in ((("expired", "expired"), r"expired \(notAfter"),
                     (("server", "other"), "does not match the certificate"),
                     ((None, "server"), "cannot load")):
        put(pki, bad[0] or "missing", bad[1])
        reload_cli(srv)
        srv.wait_log(why)
        srv.wait_log(r"keeping the certificates loaded before")
        check(serial_of(srv.port, pki) == pki.serial("server2"),
              "a bad replacement (%s) kept the old certificate" % why)
    time.sleep(0.5)
    for t in loads:
        t.stop = True
    for t in loads:
        t.join(20)
    total = sum(t.ok for t in loads)
    fails = [f for t in loads for f in t.failures]
    check(not fails, "%d failed requests: %s" % (len(fails), fails[:3]))
    check(total > 100, "load: only %d round trips" % total)
    if not th.h.base_mode():  # base mode: its worker retired and closed it
        https_get(early, early_reader, 1)  # a connection from before
    early.close()
    th.h.wait_until(lambda: len(srv.workers()) == 2, 20, what="workers")
    check(srv.proc.poll() is None, "the master kept running")
    th.h.log("%d round trips, none failed" % total)


def test_check(pki):
    srv = th.h.Server("tls-check", plugins=[{"name": "p",
                                            "path": th.TLS_PROBE}])
    srv.listeners = [
        dict(th.tls_opts(pki), type="tcp", host=th.HOST, port=srv.port,
             plugin="p", ssl_key_file=pki.path("other.key")),
        dict(type="tcp", host=th.HOST, port=th.h.free_port(), plugin="p",
             ssl_cert_file=pki.path("nonexistent.pem"),
             ssl_key_file=pki.path("server.key"),
             ssl_sni_certs={"old.test": {
                 "ssl_cert_file": pki.path("expired.pem"),
                 "ssl_key_file": pki.path("expired.key")}}),
        dict(th.tls_opts(pki), type="tcp", host=th.HOST,
             port=th.h.free_port(),
             plugin="p", ssl_ciphers="NO-SUCH-CIPHER")]
    srv.write_config()
    rc, out, err = srv.check_config()
    check(rc == 1, "-t with bad certificates: %d" % rc)
    for want in ("listeners[0].ssl_key_file: ",
                 "does not match the certificate",
                 "listeners[1].ssl_cert_file: cannot load",
                 "No such file or directory",
                 "listeners[1].ssl_sni_certs.old.test.ssl_cert_file: ",
                 "expired (notAfter",
                 "listeners[2].ssl_ciphers: no cipher match"):
        check(want in err, "-t lacks %r: %s" % (want, err))
    srv.spawn()  # a start with them fails the same way, before any fork
    check(srv.proc.wait(30) == 1, "start with bad certificates")
    check("listeners[1].ssl_cert_file: cannot load" in srv.log_text() and
          "system lib" not in srv.log_text(), "start: %s" % srv.log_text())
    srv.listeners = [dict(th.tls_opts(pki), type="tcp", host=th.HOST,
                          port=srv.port, plugin="p")]
    srv.write_config()
    rc, out, err = srv.check_config()
    check(rc == 0 and "configuration ok" in out, "-t good: %s" % err)


def main():
    th.h.require(th.TLS_PROBE, th.hh.PROBE, th.OPENSSL)
    pki = th.Pki(th.h.Server("tls-pki").dir)
    test_check(pki)
    shutil.copy(pki.path("server.pem"), pki.path("live.pem"))
    shutil.copy(pki.path("server.key"), pki.path("live.key"))
    # A sanitizer's exit checks can outlast max_wait_time's default when
    # a worker retires under load: it would be killed mid-request.
    wait = 15 if th.h.is_sanitized() else 3
    srv = th.h.Server("tls-reload", server={"worker_num": 2,
                                            "reactor_num": 2,
                                            "max_wait_time": wait},
                      plugins=[{"name": "probe", "path": th.hh.PROBE}])
    srv.listeners = [dict(type="tcp", host=th.HOST, port=srv.port,
                          plugin="probe", protocol="http",
                          ssl_cert_file=pki.path("live.pem"),
                          ssl_key_file=pki.path("live.key"))]
    srv.write_config()
    with srv.start():
        test_reload(srv, pki)
        srv.stop()


if __name__ == "__main__":
    th.h.main(main)
