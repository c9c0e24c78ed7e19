"""test_base_reload.py: server.mode "base" (whatever SWX_TEST_MODE says):
reloads and max_request under HTTP keep-alive load lose no request, and
WebSocket pushes and closes reach a session of another worker.

Six keep-alive clients (http_helper.KeepAliveClient: a new connection
after Connection: close, a retry counted when a connection closes before
any byte of a response) run while

  reload        the workers are reloaded 5 times, each after the last one
                is done: an old worker stops accepting at once, answers
                its keep-alive clients with Connection: close and exits
                once they left, well before max_wait_time; not one
                request is retried or fails
  max_request   with max_request 150 the workers replace themselves again
                and again the same way: not one request fails or is
                retried.
  websocket     swx_ws_push and swx_ws_close for a WebSocket session that
                another worker accepted reach it (through that worker's
                mailbox); each answers 0."""

import signal
import threading
import time

import http_helper as hh

check = hh.check
h = hh.h

CLIENTS = 6


def load(srv):
    stop = threading.Event()
    clients = [hh.KeepAliveClient(srv.port, i, stop) for i in range(CLIENTS)]
    for c in clients:
        c.start()
    return stop, clients


def progress(clients, after):
    total = sum(c.answered for c in clients)
    h.wait_until(lambda: sum(c.answered for c in clients) >= total + after
                 or any(c.error for c in clients), 60,
                 what="requests answered")
    errs = [c.error for c in clients if c.error]
    check(not errs, "; ".join(errs))


def finish(stop, clients, what):
    stop.set()
    for c in clients:
        c.join(30)
        check(not c.is_alive(), "client %d hung" % c.cid)
    errs = [c.error for c in clients if c.error]
    check(not errs, "; ".join(errs))
    total = sum(c.answered for c in clients)
    failed = sum(c.retries + c.fresh for c in clients)
    h.log("%s: %d requests answered, %d retried" % (what, total, failed))
    check(failed == 0, "%s: %d requests failed before any byte of a "
          "response" % (what, failed))


def test_reload():
    with hh.HttpServer("base-reload",
                       server={"mode": "base", "max_wait_time": 10}) as srv:
        srv.start()
        stop, clients = load(srv)
        progress(clients, 100)
        for n in range(5):
            old = srv.workers()
            srv.proc.send_signal(signal.SIGUSR1)
            srv.wait_log(r"reload done", count=n + 1, timeout=8)
            new = srv.wait_workers(2, 10, exclude=old.values())
            check(not set(new.values()) & set(old.values()), "not replaced")
            progress(clients, 100)
        finish(stop, clients, "5 reloads")
        text = srv.log_text()
        check("still running after max_wait_time" not in text,
              "an old worker had to be killed")
        srv.stop()


def test_max_request():
    with hh.HttpServer("base-maxreq",
                       server={"mode": "base", "max_request": 150,
                               "max_wait_time": 10}) as srv:
        srv.start()
        first = set(srv.workers().values())
        stop, clients = load(srv)
        progress(clients, 1200)
        finish(stop, clients, "max_request 150")
        exits = srv.wait_log(r"max_request \(\d+: 150 \+ \d+ within its "
                             r"grace\) reached", count=4)
        h.log("%d max_request exits" % len(exits))
        check(not first & set(srv.workers().values()) or len(exits) >= 4,
              "workers were not replaced")
        check("exited with status" not in srv.log_text(),
              "a worker exited abnormally")
        srv.stop()


def ws_text(ws):
    _, op, payload = ws.recv()
    check(op == 1, "opcode %d, not text" % op)
    return payload.decode()


def ws_session(port):
    """A WebSocket client and (session id, worker id) of its session."""
    ws = hh.WsClient(port)
    check(ws.status == 101, "handshake: %d" % ws.status)
    ws.send(1, b"session")
    sess, wid = ws_text(ws).split()[1:]
    return ws, int(sess), int(wid)


def test_websocket():
    with hh.HttpServer("base-ws", listener={"protocol": "websocket"},
                       server={"mode": "base", "worker_num": 2}) as srv:
        srv.start()
        by_worker = {}
        # Until both workers have one: a worker's title is set before it
        # watches the listener.
        for _ in range(200):
            ws, sess, wid = ws_session(srv.port)
            by_worker.setdefault(wid, []).append((ws, sess))
            if len(by_worker) == 2:
                break
            time.sleep(0.02)
        check(sorted(by_worker) == [0, 1], "sessions on workers %s"
              % sorted(by_worker))
        (a, _), (b, b_sess) = by_worker[0][0], by_worker[1][0]
        a.send(1, b"to %d hello" % b_sess)
        check(ws_text(a) == "pushed 0", "swx_ws_push across workers")
        check(ws_text(b) == "hello", "the push did not reach its session")
        a.send(1, b"shut %d 4001" % b_sess)
        check(ws_text(a) == "shut 0", "swx_ws_close across workers")
        check(b.recv_close() == 4001, "the close did not reach its session")
        for conns in by_worker.values():
            for ws, _ in conns:
                ws.close()
        srv.stop()


def main():
    test_websocket()
    test_reload()
    test_max_request()


if __name__ == "__main__":
    hh.main(main)
