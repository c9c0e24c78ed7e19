#!/usr/bin/env python3
"""idle_conns.py: memory per idle HTTP keep-alive connection of a server's whole process group, from /proc, before and after opening N connections that each made one request."""
import os
import socket
import sys
import time

BATCH = 256          # connections opened, then asked, then read, at a time
IO_TIMEOUT = 10      # seconds for one connect, send or response
SETTLE = 0.5         # seconds between the last answer and the second sample


def proc_mem(pid):
    """(rss, pss) in bytes of one process; pss is rss when smaps_rollup is unreadable."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    kib = int(rest.split()[0]) * 1024
                    rss, pss = (kib, pss) if key == "Rss" else (rss, kib)
    except OSError:
        pass
    if rss is None:
        with open(f"/proc/{pid}/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return rss, pss if pss is not None else rss


def group_mem(pgid):
    """(rss, pss, processes) summed over every process of process group pgid."""
    rss = pss = n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            if int(fields[2]) != pgid:
                continue
            r, p = proc_mem(name)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        rss, pss, n = rss + r, pss + p, n + 1
    return rss, pss, n


def read_response(s, buf=b""):
    """Reads one whole Content-Length response; returns its status."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("closed by the server")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("closed by the server")
        body += chunk
    return int(head.split()[1])


def open_batch(port, n, request, socks):
    batch = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        socks.append(s)
        batch.append(s)
    for s in batch:
        s.sendall(request)
    for s in batch:
        status = read_response(s)
        if status != 200:
            raise OSError(f"status {status}")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: idle_conns.py PORT CONNECTIONS SERVER_PGID")
    port, want, pgid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    socks, error = [], ""
    rss0, pss0, procs = group_mem(pgid)
    try:
        while len(socks) < want:
            open_batch(port, min(BATCH, want - len(socks)), request, socks)
    except (OSError, ValueError, IndexError) as e:
        error = f"after {len(socks)} connections: {e}".replace(" ", "_")
    time.sleep(SETTLE)
    rss1, pss1, procs1 = group_mem(pgid)
    n = len(socks)
    line = (f"connections={n} wanted={want} rss_before={rss0} rss_after={rss1} "
            f"pss_before={pss0} pss_after={pss1} server_procs={procs1} "
            f"rss_per_conn={(rss1 - rss0) / n if n else 0:.0f} "
            f"pss_per_conn={(pss1 - pss0) / n if n else 0:.0f}")
    if error or procs1 != procs:
        line += f" error={error or 'processes_changed'}"
    print(line, flush=True)
    for s in socks:
        s.close()
    return 1 if error or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
