"""Known devices: a browser that has proved an account's password before.

Guesses spread over many addresses can fill an account's login cap (accounts/throttles.py),
and a full cap would keep the owner out too. So the browser the owner logged in with
carries a cookie saying so, and shows it with the next login: the throttle then gives
that device a share of its own instead of the account-wide cap. This is the "device
cookie" of OWASP's guidance on login throttling.

The cookie holds a hash of the account's address, signed with SECRET_KEY and timestamped
(Django's signed cookies), so no one can make one without having logged in, and one made
for an attacker's own account exempts no other. It outlives logout: that is its point.
"""

from django.conf import settings
from django.utils.crypto import salted_hmac

COOKIE_NAME = "known_device"
SALT = "accounts.known-device"
# A browser stays a known device this long after its latest login (each renews the cookie).
KNOWN_DEVICE_COOKIE_AGE = 90 * 24 * 60 * 60


def remember(request, user) -> None:
    """Tell the browser behind `request` that it is a known device for `user`'s account.

    Called where a password (or a mailed reset link) has just been proved; the middleware
    below puts the cookie on the response.
    """
    request.known_device_for = user.email


def known_device_key(request, email: str) -> str | None:
    """The cookie showing this browser has logged in to `email`'s account, or None.

    A cookie that is forged, expired, or for another account is None: no exemption.
    """
    value = request.get_signed_cookie(
        COOKIE_NAME, default=None, salt=SALT, max_age=KNOWN_DEVICE_COOKIE_AGE
    )
    return request.COOKIES[COOKIE_NAME] if value == account_hash(email) else None


def account_hash(email: str) -> str:
    # Not the address, nor a plain hash of it: a signed cookie is readable, and one seen
    # on a shared computer must not confirm a guessed address. Keyed with SECRET_KEY.
    return salted_hmac(SALT, email.strip().lower(), algorithm="sha256").hexdigest()


class KnownDeviceMiddleware:
    """Sets the cookie for a request that called remember().

    Logins, the site's and /admin/'s alike, remember the device from the user_logged_in
    signal (accounts/receivers.py), which has the request but no response to set it on.
    """

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
