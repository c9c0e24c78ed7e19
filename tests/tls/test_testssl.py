"""test_testssl.py: testssl.sh (Debian's package) against an HTTPS
listener with the default TLS settings, bounded in time: protocols (-p),
cipher categories (-s), forward secrecy (-f) and the known
vulnerabilities (-U), in --fast mode. Nothing below TLS 1.2 may be
offered, no NULL, anonymous, export, LOW, 3DES or CBC ("AVERAGE")
cipher, client-initiated renegotiation refused, and no finding may be
rated HIGH or CRITICAL."""

import json
import os
import subprocess

import tls_helper as th

check = th.check
TESTSSL = os.environ.get("SWX_TESTSSL", "")


def findings(path):
    with open(path) as f:
        scan = json.load(f)["scanResult"][0]
    out = {}
    for section, items in scan.items():
        if isinstance(items, list):
            for f in items:
                if isinstance(f, dict) and "id" in f:
                    out[f["id"]] = (f.get("severity", ""),
                                    f.get("finding", ""), section)
    return out


def main():
    th.h.require(TESTSSL, th.hh.PROBE)
    pki = th.Pki(th.h.Server("tls-pki").dir)
    srv = th.h.Server("tls-testssl", server={"worker_num": 1,
                                             "reactor_num": 2},
                      plugins=[{"name": "probe", "path": th.hh.PROBE}])
    srv.listeners = [dict(th.tls_opts(pki), type="tcp", host=th.HOST,
                          port=srv.port, plugin="probe", protocol="http")]
    srv.write_config()
    with srv.start():
        out = os.path.join(srv.dir, "testssl.json")
        p = subprocess.run([TESTSSL, "--warnings=batch", "--quiet",
                            "--color", "0", "--fast", "-p", "-s", "-f",
                            "-U", "--jsonfile-pretty", out,
                            "%s:%d" % (th.HOST, srv.port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=240)
        text = p.stdout.decode("utf-8", "replace")
        check(os.path.exists(out), "testssl.sh wrote no JSON: %s"
              % text[-2000:])
        f = findings(out)
        for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            check(proto in f and f[proto][1] == "not offered",
                  "%s: %s" % (proto, f.get(proto)))
        for proto in ("TLS1_2", "TLS1_3"):
            check(proto in f and f[proto][1].startswith("offered"),
                  "%s: %s" % (proto, f.get(proto)))
        for weak in ("cipherlist_NULL", "cipherlist_aNULL",
                     "cipherlist_EXPORT", "cipherlist_LOW",
                     "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"):
            check(weak in f and f[weak][1] == "not offered",
                  "%s: %s" % (weak, f.get(weak)))
        check(f.get("secure_client_renego", ("", "", ""))[1] ==
              "not vulnerable", "client renegotiation: %s"
              % (f.get("secure_client_renego"),))
        bad = {k: v for k, v in f.items() if v[0] in ("HIGH", "CRITICAL")}
        check(not bad, "HIGH or CRITICAL findings: %s" % bad)
        check(len(f) > 30, "too few findings to trust: %d" % len(f))
        th.h.log("testssl.sh: %d findings, none HIGH or CRITICAL" % len(f))
        srv.stop()


if __name__ == "__main__":
    th.h.main(main)
