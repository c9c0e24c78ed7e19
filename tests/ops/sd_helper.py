"""sd_helper.py: a fake systemd notification socket for the systemd tests:
a SOCK_DGRAM Unix socket (a path, or an abstract name for "@..."), read by
a thread that keeps every datagram with the monotonic time it came."""

import os
import socket
import threading
import time

from ops_helper import h


class NotifySocket:
    """Bind address (a path, or "@name" for an abstract socket) and record
    every message as (time.monotonic(), {field: value}, raw text)."""

    def __init__(self, address):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@")
                       else address)
        self.sock.settimeout(0.2)
        self.lock = threading.Lock()
        self.messages = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.stop_ev.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            fields = {}
            for line in text.split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            with self.lock:
                self.messages.append((time.monotonic(), fields, text))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, key, value=None, after=0, timeout=30.0):
        """The first message from index `after` on with key (= value):
        (index, time, fields)."""
        def found():
            for i, (t, f, _) in enumerate(self.snapshot()):
                if i >= after and key in f and (value is None or
                                                f[key] == value):
                    return (i, t, f)
            return None
        return h.wait_until(found, timeout, interval=0.01,
                            what="%s=%s on the notify socket"
                            % (key, value if value is not None else "*"))

    def count(self, key, since=0.0):
        return sum(1 for t, f, _ in self.snapshot()
                   if key in f and t >= since)

    def close(self):
        self.stop_ev.set()
        self.thread.join(5)
        self.sock.close()
        if not self.address.startswith("@"):
            try:
                os.unlink(self.address)
            except OSError:
                pass


class Env:
    """Set environment variables for the servers started inside; restore
    them after (None removes one)."""

    def __init__(self, **values):
        self.values = values
        self.saved = {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

