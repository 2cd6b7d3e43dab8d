"""Webhook attempts: what the deadline costs, and that a dripping receiver can't outlast it.

Run alone with `uv run python -m bench.deadline`. Receivers are local servers on 127.0.0.1.
"""

import socket
import socketserver
import statistics
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import django
from django.conf import settings

from bench.report import print_table
from bench.scratch import receiver

BUDGET = 10.0
DRIP_SECONDS = 30.0


class Honest(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Dripping(socketserver.BaseRequestHandler):
    """Status line, then one header byte every 0.1 s for DRIP_SECONDS."""

    def handle(self):
        sock: socket.socket = self.request
        try:
            sock.recv(65536)
            sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            stop = time.monotonic() + DRIP_SECONDS
            while time.monotonic() < stop:
                sock.sendall(b"a")
                time.sleep(0.1)
        except OSError:
            pass  # The sender hung up: the deadline did its job.


def rows() -> list[tuple[str, str, str]]:
    if not settings.configured:
        settings.configure(WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=True)
        django.setup()
    from notifications import transport

    durations = []
    with receiver(ThreadingHTTPServer(("127.0.0.1", 0), Honest)) as honest:
        for _ in range(300):
            started = time.perf_counter()
            transport.post(honest, b"{}", {"Content-Type": "application/json"}, timeout=BUDGET)
            durations.append(time.perf_counter() - started)

    watchdogs = []
    for _ in range(1000):
        started = time.perf_counter()
        with transport.Deadline(BUDGET):
            pass
        watchdogs.append(time.perf_counter() - started)

    dripping_server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Dripping)
    with receiver(dripping_server) as dripping:
        started = time.monotonic()
        try:
            transport.post(dripping, b"{}", {}, timeout=BUDGET)
            outcome = "answered"
        except TimeoutError:
            outcome = "timed out"
        held = time.monotonic() - started

    return [
        (
            "webhook attempt to a local receiver, p50",
            f"{statistics.median(durations) * 1000:.2f} ms",
            "note: the whole attempt, watchdog included",
        ),
        (
            "deadline watchdog (timer start + cancel), p50",
            f"{statistics.median(watchdogs) * 1e6:.0f} µs",
            "note: the price of the deadline per attempt",
        ),
        (
            f"receiver dripping a header byte every 0.1 s for {DRIP_SECONDS:g} s",
            f"{outcome} after {held:.2f} s",
            f"<= {BUDGET:g} s + 0.5 s (before: held until the receiver stopped)",
        ),
    ]


if __name__ == "__main__":
    print_table(rows())
