"""Known devices: a signed cookie on a browser that has proved an account's password.

The login throttle gives such a browser a share of its own instead of the account-wide
cap, which strangers can fill (OWASP's "device cookie"; docs/accounts.md). The cookie
outlives logout: that is its point.
"""

from django.conf import settings
from django.utils.crypto import salted_hmac

COOKIE_NAME = "known_device"
SALT = "accounts.known-device"
# A browser stays a known device this long after its latest login (each renews the cookie).
KNOWN_DEVICE_COOKIE_AGE = 90 * 24 * 60 * 60


def remember(request, user) -> None:
    """Make the browser behind `request` a known device for `user`'s account (the
    middleware below sets the cookie). Call it only once a password or reset link is proved."""
    request.known_device_for = user.email


def known_device_key(request, email: str) -> str | None:
    """The cookie showing this browser has logged in to `email`'s account; None for a
    cookie that is missing, forged, expired, or for another account."""
    value = request.get_signed_cookie(
        COOKIE_NAME, default=None, salt=SALT, max_age=KNOWN_DEVICE_COOKIE_AGE
    )
    return request.COOKIES[COOKIE_NAME] if value == account_hash(email) else None


def account_hash(email: str) -> str:
    # Not the address, nor a plain hash of it: a signed cookie is readable, and one seen
    # on a shared computer must not confirm a guessed address. Keyed with SECRET_KEY.
    return salted_hmac(SALT, email.strip().lower(), algorithm="sha256").hexdigest()


class KnownDeviceMiddleware:
    """Sets the cookie for a request that called remember(): the user_logged_in receiver
    (accounts/receivers.py) has the request but no response to set it on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        email = getattr(request, "known_device_for", None)
        if email is not None:
            response.set_signed_cookie(
                COOKIE_NAME,
                account_hash(email),
                salt=SALT,
                max_age=KNOWN_DEVICE_COOKIE_AGE,
                # Sent over HTTPS only wherever the session cookie is (production).
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
