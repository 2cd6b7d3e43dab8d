"""Which attempts the site limits, and by what (safeguards/ratelimit.py counts them).

Each check counts the attempt, so it goes before the expensive part (a hash, a mail).
"""

from django.conf import settings

from safeguards.clients import client_address
from safeguards.ratelimit import allow, forget

from .devices import known_device_key


def login_allowed(request, email: str) -> bool:
    """A password guess, at the login pages or when confirming: per client, per account from
    that client, then per account from everywhere (or, from a known device, per device).

    Each check runs only if the one before passed: a client over its limit counts no more.
    """
    limits = settings.RATE_LIMITS["login"]
    window = limits["window_seconds"]
    client, account = client_address(request), email.strip().lower()
    if not (
        allow("login-client", client, limits["per_client"], window)
        and allow(
            "login-account-client", f"{account} {client}", limits["per_account_and_client"], window
        )
    ):
        return False
    # Strangers spread over ten addresses fill the account-wide cap, for the owner too, so a
    # known device is counted on its own; past its share, it meets the cap like anyone.
    device = known_device_key(request, account)
    if device and allow("login-device", device, limits["per_known_device"], window):
        return True
    return allow("login-account", account, limits["per_account"], window)


def forget_login_attempts(email: str) -> None:
    """Lift the account-wide login throttle: its owner has just set a new password."""
    forget("login-account", email.strip().lower())


def signup_allowed(request) -> bool:
    limits = settings.RATE_LIMITS["signup"]
    return allow(
        "signup-client", client_address(request), limits["per_client"], limits["window_seconds"]
    )


def confirmation_email_allowed(email: str) -> bool:
    """Per address, shared by signup and resend, so neither can flood an inbox."""
    limits = settings.RATE_LIMITS["resend"]
    return allow("confirmation-email", email, limits["per_address"], limits["window_seconds"])


def resend_allowed(request, email: str) -> bool:
    limits = settings.RATE_LIMITS["resend"]
    client_ok = allow(
        "resend-client", client_address(request), limits["per_client"], limits["window_seconds"]
    )
    return client_ok and confirmation_email_allowed(email)


def password_reset_allowed(request, email: str) -> bool:
    limits = settings.RATE_LIMITS["password_reset"]
    window = limits["window_seconds"]
    return allow(
        "password-reset-client", client_address(request), limits["per_client"], window
    ) and allow("password-reset-address", email, limits["per_address"], window)


def profile_save_allowed(user) -> bool:
    """Each save is a webhook event: a member saving in a loop would fill the webhooks queue."""
    limits = settings.RATE_LIMITS["profile_save"]
    return allow("profile-save", str(user.pk), limits["per_member"], limits["window_seconds"])
