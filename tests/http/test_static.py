"""test_static.py: a listener's document_root, served by the reactor:
Content-Types, Last-Modified and If-Modified-Since (304), single ranges
(206) and unsatisfiable ones (416), HEAD, HTTP/1.0 keep-alive, Server and
Date on every response, directory indexes, symlinks that
stay inside; every way out of the root refused (.., %2e%2e, %2f, symlinks
to outside) with 400 or 403; a file that is not there falls through to the
plugin's on_request, or is 404 when the plugin has none.
static_handler_locations limits the files served to some path prefixes
(the rest go to the plugin), and http_index_files picks the index of a
directory; both are checked when the config is loaded. http_autoindex
lists a directory that has no index file."""

import json
import re

import email.utils
import os

import http_helper as hh

check = hh.check

SECRET = b"the secret outside the root\n"


def make_root(base):
    www = os.path.join(base, "www")
    os.makedirs(os.path.join(www, "sub"))
    files = {
        "index.html": b"<h1>index</h1>\n",
        "style.css": b"body { color: red }\n",
        "data.json": b'{"a": 1}\n',
        "img.png": bytes(range(256)) * 4,
        "noext": b"no extension\n",
        "sub/index.html": b"<p>sub index</p>\n",
        "sub/page.txt": b"a page\n",
        "space name.txt": b"spaced\n",
    }
    for name, data in files.items():
        with open(os.path.join(www, name), "wb") as f:
            f.write(data)
    with open(os.path.join(base, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink("sub/page.txt", os.path.join(www, "inside-link"))
    os.symlink("../secret.txt", os.path.join(www, "escape-link"))
    os.symlink(os.path.join(base, "secret.txt"), os.path.join(www, "abs-link"))
    os.symlink("..", os.path.join(www, "up"))
    os.mkfifo(os.path.join(www, "fifo"))
    return www, files


def req(port, path, headers=(), method="GET"):
    """One response; every one, the reactor's or the plugin's, carries
    Server and Date."""
    r = hh.exchange(port, hh.get(port, path, headers, method=method),
                    head_only=method == "HEAD")
    hh.h.check_server_date(r.header, "%s %s" % (method, path))
    return r


def test_http10_keep_alive(port, files):
    """An HTTP/1.0 client that asks to keep the connection is told it is
    kept, and it is; one that does not ask is told it closes."""
    with hh.connect(port) as s:
        rd = hh.Reader(s)
        for _ in range(2):
            s.sendall(hh.get(port, "/style.css", [("Connection",
                                                   "keep-alive")],
                             version="1.0"))
            r = rd.response()
            check(r.status == 200 and r.body == files["style.css"] and
                  r.header("connection") == "keep-alive",
                  "HTTP/1.0 keep-alive: %r" % r)
    with hh.connect(port) as s:
        s.sendall(hh.get(port, "/style.css", version="1.0"))
        rd = hh.Reader(s)
        r = rd.response()
        check(r.header("connection") == "close", "HTTP/1.0: %r" % r)
        check(hh.closed_after(s, rd), "HTTP/1.0: left open")


def test_types(port, files):
    want = {"/index.html": "text/html; charset=utf-8",
            "/style.css": "text/css; charset=utf-8",
            "/data.json": "application/json", "/img.png": "image/png",
            "/noext": "application/octet-stream",
            "/sub/page.txt": "text/plain; charset=utf-8"}
    for path, ctype in want.items():
        r = req(port, path)
        check(r.status == 200 and r.body == files[path[1:]],
              "%s: %r" % (path, r))
        check(r.header("content-type") == ctype, "%s: type %r" %
              (path, r.header("content-type")))
        check(r.header("last-modified") is not None, "%s: no Last-Modified"
              % path)
    check(req(port, "/").body == files["index.html"], "/ is not index.html")
    check(req(port, "/sub/").body == files["sub/index.html"], "/sub/")
    check(req(port, "/sub").body == files["sub/index.html"], "/sub")
    # A trailing '/' names a directory: a file there is not served (nginx
    # answers 404 for "/index.html/"); the plugin gets the request.
    r = req(port, "/index.html/")
    check(r.body != files["index.html"], "/index.html/ served the file")
    check(req(port, "/space%20name.txt").body == b"spaced\n", "%20")
    check(req(port, "/./sub//page.txt").body == b"a page\n", "/./ and //")
    check(req(port, "/inside-link").body == b"a page\n", "inside symlink")
    r = req(port, "/img.png", method="HEAD")
    check(r.status == 200 and r.header("content-length") == "1024",
          "HEAD: %r" % r)


def test_conditional(port, files):
    r = req(port, "/style.css")
    lm = r.header("last-modified")
    r = req(port, "/style.css", [("If-Modified-Since", lm)])
    check(r.status == 304 and r.body == b"", "If-Modified-Since: %r" % r)
    check(r.header("content-length") is None, "304 with a length")
    check(r.header("last-modified") == lm, "304: Last-Modified %r"
          % r.header("last-modified"))
    old = email.utils.formatdate(0, usegmt=True)
    r = req(port, "/style.css", [("If-Modified-Since", old)])
    check(r.status == 200, "older If-Modified-Since: %r" % r)
    r = req(port, "/style.css", [("If-Modified-Since", "yesterday")])
    check(r.status == 200, "bad If-Modified-Since: %r" % r)


def test_ranges(port, files):
    data = files["img.png"]
    size = len(data)
    cases = [("bytes=0-9", 0, 10), ("bytes=1000-", 1000, size - 1000),
             ("bytes=-5", size - 5, 5), ("bytes=1020-5000", 1020, 4),
             ("bytes=-5000", 0, size)]
    for rng, off, n in cases:
        r = req(port, "/img.png", [("Range", rng)])
        check(r.status == 206 and r.body == data[off:off + n],
              "%s: %d, %d bytes" % (rng, r.status, len(r.body)))
        check(r.header("content-range") == "bytes %d-%d/%d"
              % (off, off + n - 1, size), "%s: %r" % (rng,
                                                      r.header("content-range")))
    for rng in ("bytes=%d-" % size, "bytes=5000-6000", "bytes=-0"):
        r = req(port, "/img.png", [("Range", rng)])
        check(r.status == 416 and r.header("content-range") == "bytes */%d"
              % size, "%s: %r" % (rng, r))
    for rng in ("bytes=0-1,5-6", "bytes=9-3", "items=0-1", "bytes=x-1"):
        r = req(port, "/img.png", [("Range", rng)])
        check(r.status == 200 and r.body == data, "%s: %r" % (rng, r))


def test_escapes(port):
    bad = {"/../secret.txt": 400, "/sub/../../secret.txt": 400,
           "/%2e%2e/secret.txt": 400, "/%2E%2e/secret.txt": 400,
           "/.%2e/secret.txt": 400, "/sub/..%2f..%2fsecret.txt": 400,
           "/%2e%2e%2fsecret.txt": 400, "/sub%2f..%2f..%2fsecret.txt": 400,
           "/bad%zz": 400, "/nul%00": 400,
           "/escape-link": 403, "/abs-link": 403, "/up/secret.txt": 403,
           "/fifo": 403}
    for path, status in bad.items():
        r = req(port, path)
        check(r.status == status, "%s: %d, expected %d" % (path, r.status,
                                                            status))
        check(SECRET not in r.body, "%s leaked the secret" % path)


def test_fall_through(port):
    r = req(port, "/echo?q")
    check(r.status == 200 and r.header("x-query") == "q",
          "no file /echo: the plugin's turn: %r" % r)
    r = req(port, "/missing.html")
    check(r.status == 404 and r.body == b"no route\n", "missing: %r" % r)
    r = hh.exchange(port, hh.get(port, "/index.html", method="POST",
                                 body=b"x"))
    check(r.status == 404 and r.body == b"no route\n",
          "POST to a file goes to the plugin: %r" % r)
    # Static and plugin responses pipelined on one connection, in order.
    with hh.connect(port) as s:
        s.sendall(hh.get(port, "/img.png") + hh.get(port, "/slow?100") +
                  hh.get(port, "/style.css") + hh.get(port, "/echo?z"))
        rd = hh.Reader(s)
        bodies = [rd.response() for _ in range(4)]
        check(len(bodies[0].body) == 1024 and bodies[1].body == b"slow 100\n"
              and bodies[2].body.startswith(b"body") and
              bodies[3].header("x-query") == "z", "pipelined: %r" % bodies)


def test_no_on_request(port):
    r = req(port, "/index.html")
    check(r.status == 200, "static without on_request: %r" % r)
    r = req(port, "/missing")
    check(r.status == 404, "no file, no on_request: %r" % r)


def test_locations_and_index(port):
    """static_handler_locations ["/sub", "/style.css"], http_index_files
    ["page.txt", "index.html"]."""
    r = req(port, "/sub/page.txt")
    check(r.status == 200 and r.body == b"a page\n", "/sub/page.txt: %r" % r)
    r = req(port, "/sub/")
    check(r.status == 200 and r.body == b"a page\n",
          "/sub/ with page.txt first in http_index_files: %r" % r)
    r = req(port, "/style.css")
    check(r.status == 200 and r.body.startswith(b"body"), "/style.css: %r"
          % r)
    for path in ("/index.html", "/data.json", "/", "/subway", "/style.cssx"):
        r = req(port, path)
        check(r.status == 404 and r.body == b"no route\n",
              "%s is outside the locations: the plugin's turn: %r"
              % (path, r))


def test_autoindex(port, www):
    """http_autoindex: a directory without an index file is listed (names
    escaped, directories marked, hidden files left out); one with an index
    file still serves it."""
    os.makedirs(os.path.join(www, "list", "inner"))
    for name in ("b.txt", "a <&> \"q\".txt", ".hidden", "é.txt"):
        with open(os.path.join(www, "list", name), "w") as f:
            f.write("x")
    r = req(port, "/list/")
    check(r.status == 200 and
          r.header("content-type") == "text/html; charset=utf-8",
          "listing: %r" % r)
    body = r.body.decode()
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', body)
    check(links == [("/list/a%20%3C%26%3E%20%22q%22.txt",
                     "a &lt;&amp;&gt; &quot;q&quot;.txt"),
                    ("/list/b.txt", "b.txt"),
                    ("/list/inner/", "inner/"),
                    ("/list/%C3%A9.txt", "é.txt")],
          "links: %r" % links)
    check(".hidden" not in body, "a hidden file is listed")
    r = req(port, "/list/inner")
    check(r.status == 200 and "Index of /list/inner/" in r.body.decode(),
          "empty directory: %r" % r)
    get = req(port, "/list/")
    head = req(port, "/list/", method="HEAD")
    check(head.status == 200 and head.body == b"" and
          head.header("content-length") == str(len(get.body)),
          "HEAD listing: %r" % head)
    r = req(port, "/sub/")
    check(r.body == b"<p>sub index</p>\n", "index file first: %r" % r)


def test_static_config(srv):
    cfg = srv.config()
    lst = cfg["listeners"][0]
    cases = [
        ("static_handler_locations", ["static"],
         "listeners[0].static_handler_locations[0]: expected a path that "
         "starts with '/'"),
        ("static_handler_locations", ["/a/../b"],
         "listeners[0].static_handler_locations[0]: expected a path"),
        ("static_handler_locations", [],
         "listeners[0].static_handler_locations: expected"),
        ("http_index_files", ["index.html", "a/b.html"],
         "listeners[0].http_index_files[1]: expected a file name"),
        ("http_index_files", [".."],
         "listeners[0].http_index_files[0]: expected a file name"),
    ]
    for key, value, message in cases:
        saved = lst.get(key)
        lst[key] = value
        srv.write_config(json.dumps(cfg))
        rc, out, err = srv.check_config()
        check(rc != 0 and message in err, "%s %r: %r" % (key, value, err))
        lst[key] = saved
    for key in ("document_root", "static_handler_locations"):
        lst.pop(key)
    lst["protocol"] = "raw"
    lst["http_index_files"] = ["index.html"]
    srv.write_config(json.dumps(cfg))
    rc, out, err = srv.check_config()
    check(rc != 0 and "listeners[0].http_index_files: only for protocol" in
          err, "index files on a raw listener: %r" % err)


def main():
    with hh.HttpServer("http-static") as srv:
        www, files = make_root(srv.dir)
        srv.listener_opts["document_root"] = www
        srv.more = [{"port": hh.h.free_port(), "plugin": "echo",
                     "protocol": "http", "document_root": www}]
        srv.plugins.append({"name": "echo", "path": hh.h.ECHO})
        srv.write_config()
        srv.start()
        test_types(srv.port, files)
        test_conditional(srv.port, files)
        test_http10_keep_alive(srv.port, files)
        test_ranges(srv.port, files)
        test_escapes(srv.port)
        test_fall_through(srv.port)
        test_no_on_request(srv.more[0]["port"])
        srv.stop()
    with hh.HttpServer("http-static-loc") as srv:
        www, files = make_root(srv.dir)
        srv.listener_opts.update(
            document_root=www, static_handler_locations=["/sub", "/style.css"],
            http_index_files=["page.txt", "index.html"])
        srv.write_config()
        srv.start()
        test_locations_and_index(srv.port)
        srv.stop()
        test_static_config(srv)
    with hh.HttpServer("http-static-autoindex") as srv:
        www, files = make_root(srv.dir)
        srv.listener_opts.update(document_root=www, http_autoindex=True)
        srv.write_config()
        srv.start()
        test_autoindex(srv.port, www)
        srv.stop()


if __name__ == "__main__":
    hh.main(main)
