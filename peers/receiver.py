"""A real HTTP server on 127.0.0.1 that plays a webhook receiver in tests.

It checks signatures with its own code, written from the Standard Webhooks spec, so a
bug in notifications/signing.py can't hide by agreeing with itself.
"""

import base64
import contextlib
import hashlib
import hmac
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .serving import Served


@dataclass
class Answer:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Received:
    headers: dict
    body: bytes
    path: str = "/"

    def signature_is_valid(self, secret: str) -> bool:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}.".encode()
        expected = base64.b64encode(hmac.new(key, signed + self.body, hashlib.sha256).digest())
        return any(
            hmac.compare_digest(expected.decode(), candidate.removeprefix("v1,"))
            for candidate in self.headers["webhook-signature"].split()
        )


class Receiver(Served):
    """Answers each POST with the next of `answers`, once they are used up with 200 after
    `delay` seconds (a receiver's usual time to answer)."""

    def __init__(self, port: int = 0, delay: float = 0.0):
        self.received: list[Received] = []
        self.answers: list[Answer] = []
        self.usual = Answer(delay=delay)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body, self.path)
                )
                answer = receiver.answers.pop(0) if receiver.answers else receiver.usual
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                # The sender may stop reading past its limit, as it should.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(answer.body)

            def log_message(self, *args):
                pass

        super().__init__(ThreadingHTTPServer(("127.0.0.1", port), Handler))
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def answer(self, *answers: Answer):
        self.answers.extend(answers)


class RawReceiver(Served):
    """A TCP server on 127.0.0.1 that answers every connection with `behave(connection)`:
    for receivers no HTTP server library would play, such as one that drips bytes."""

    def __init__(self, behave: Callable):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                # The sender hanging up is how these conversations are meant to end.
                with contextlib.suppress(OSError):
                    behave(self.request)

        super().__init__(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler))
        # A dripping conversation may outlast the test: closing doesn't wait for it.
        self.server.block_on_close = False

    def url(self, scheme="http"):
        return f"{scheme}://127.0.0.1:{self.port}/hooks"


class SilentReceiver:
    """Accepts connections and never answers: the worst webhook receiver there is."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=500)
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"
        self.connections = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self.accept, daemon=True)

    def accept(self):
        while not self.closing.is_set():
            with contextlib.suppress(TimeoutError):
                self.connections.append(self.listener.accept()[0])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.closing.set()
        self.thread.join()
        self.listener.close()
        for held in self.connections:
            held.close()
