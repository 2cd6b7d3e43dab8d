"""Standard Webhooks v1 signing: secrets, and the signature every delivery carries.

Spec: https://www.standardwebhooks.com/. The receiver recomputes the HMAC over
"{webhook-id}.{webhook-timestamp}.{body}" with the same secret and compares.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105  (a format marker, not a secret)
USER_AGENT = "TasksDemo-Webhooks/1.0"


def generate_secret() -> str:
    """A new endpoint secret: "whsec_" + base64 of 32 random bytes (the spec allows 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for one request."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def request_for(delivery) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt at `delivery`, signed now."""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(delivery.endpoint.secret, delivery.webhook_id, timestamp, body),
    }
    return body, headers
