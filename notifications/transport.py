"""One webhook HTTP request, sent to the address ssrf.resolve() has just approved.

Standard library only: the lesson is in what a general HTTP client hides (docs/webhooks.md).
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from . import ssrf

# How much of an answer is kept: enough for a receiver's error message.
EXCERPT_CHARS = 500
# UTF-8 needs at most 4 bytes a character.
EXCERPT_BYTES = 4 * EXCERPT_CHARS
# Characters a request target may carry as they are; anything else (non-ASCII, spaces,
# control characters) is percent-encoded. "%" stays, so existing escapes aren't doubled.
URL_SAFE = "/:@!$&'()*+,;=?%~"


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    excerpt: str  # The start of the body, decoded; written by the receiver, so hostile.


class Deadline:
    """One wall-clock budget for everything a request does: when it is spent, a timer shuts
    the socket down, ending whatever call is blocked on it (socket time-outs restart with
    every call). Resolving and connecting get what is left as their own time-out."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._sock = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._timer.cancel()
            self._sock = None  # From here on the watchdog never touches the socket.

    def remaining(self) -> float:
        left = self.ends_at - time.monotonic()
        if left <= 0:
            raise self.error()
        return left

    def error(self) -> TimeoutError:
        return TimeoutError(f"No complete answer within {self.seconds:g} s.")

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shut(sock)

    def _expire(self):
        with self._lock:
            self.expired = True
            if self._sock is not None:
                self._shut(self._sock)

    @staticmethod
    def _shut(sock):
        # Already closed or never connected: nothing left to end.
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown, also for an SSLSocket: the TLS layer's version
            # would tear down its state under the thread that is still reading.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a fixed IP address, whatever host name the URL names."""

    def __init__(self, host, port, address, deadline: Deadline):
        super().__init__(host, port, timeout=deadline.remaining())
        self.address = address
        self.deadline = deadline

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.deadline.remaining())
        self.deadline.watch(self.sock)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """HTTPS to a fixed IP address; the certificate is still checked against the host name."""

    default_port = http.client.HTTPS_PORT

    def connect(self):
        super().connect()
        context = ssl.create_default_context()
        # The handshake runs after the watchdog has the TLS socket, so a receiver that
        # drips its certificate is cut off at the deadline like any other slow answer.
        self.sock = context.wrap_socket(
            self.sock, server_hostname=self.host, do_handshake_on_connect=False
        )
        self.deadline.watch(self.sock)
        self.sock.do_handshake()


def request_target(url: str) -> str:
    """The path and query to send, percent-encoded: http.client refuses non-ASCII."""
    parts = urlsplit(url)
    target = quote(parts.path or "/", safe=URL_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=URL_SAFE)
    return target


def readable(text: str) -> str:
    """`text` without control characters (PostgreSQL refuses NUL in text columns)."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """POST `body` to `url`, all of it (resolving included) within `timeout` seconds.

    Raises ssrf.UnsafeURL, TimeoutError, OSError (refused, reset) or
    http.client.HTTPException (not HTTP).
    """
    with Deadline(timeout) as deadline:
        scheme, host, port = ssrf.target(url)
        address = ssrf.resolve(host, port, deadline.remaining())[0]
        connection_class = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
        connection = connection_class(host, port, address, deadline)
        try:
            connection.request("POST", request_target(url), body=body, headers=headers)
            response = connection.getresponse()
            start = response.read(EXCERPT_BYTES)
        except Exception as error:
            if deadline.expired:
                raise deadline.error() from error
            raise
        finally:
            connection.close()
        # The watchdog's shutdown can look like an answer that simply ended early.
        if deadline.expired:
            raise deadline.error()
    excerpt = readable(start.decode("utf-8", errors="replace")[:EXCERPT_CHARS])
    return Response(status=response.status, headers=response.headers, excerpt=excerpt)
