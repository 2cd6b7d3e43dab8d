"""One webhook HTTP request, sent to an address ssrf.resolve() has just approved.

Standard library only, because the lesson is in the details a general HTTP client hides:
connect to the checked IP address (not the name, which could resolve differently a
second time), still send the right Host header and TLS server name, never follow
redirects, bound the total time, and read at most MAX_RESPONSE_BYTES of the answer.
"""

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import ssrf

CONNECT_TIMEOUT = 3.0
TOTAL_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a fixed IP address, whatever host name the URL names."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP address; the certificate is still checked against the host name."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST `body` to `url`. Raises ssrf.UnsafeURL, OSError (refused, reset, time-out) or
    http.client.HTTPException (not HTTP)."""
    scheme, host, port = ssrf.target(url)
    address = ssrf.resolve(host, port)[0]
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    deadline = time.monotonic() + TOTAL_TIMEOUT
    connection_class = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
    connection = connection_class(host, port, address, timeout=CONNECT_TIMEOUT)
    try:
        connection.request("POST", path, body=body, headers=headers)
        # From here on every read may use only what is left of the total budget. Keep
        # the socket: the connection lets go of it once the response headers are read.
        sock = connection.sock
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        response = connection.getresponse()
        content = b""
        while len(content) < MAX_RESPONSE_BYTES and not response.isclosed():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"No complete answer within {TOTAL_TIMEOUT:g} s.")
            sock.settimeout(remaining)
            chunk = response.read1(MAX_RESPONSE_BYTES - len(content))
            if not chunk:
                break
            content += chunk
        return Response(status=response.status, headers=response.headers, body=content)
    finally:
        connection.close()
