"""Which attempts the site limits, and by what: the policies built on accounts/ratelimit.py.

Each check counts the attempt as it asks, so it must come before the expensive part (a
password hash, an email) and never after it.
"""

from django.conf import settings

from .ratelimit import allow, client_address


def login_allowed(request, email: str) -> bool:
    """Per client, then per account: a password guess, at the login pages or when confirming.

    A client over its own limit doesn't use up the account's budget, so one noisy client
    can't throttle an account for everyone else for longer than it takes to guess.
    """
    limits = settings.LOGIN_RATE_LIMIT
    window = limits["window_seconds"]
    return allow("login-client", client_address(request), limits["per_client"], window) and allow(
        "login-account", email.strip().lower(), limits["per_account"], window
    )


def signup_allowed(request) -> bool:
    limits = settings.SIGNUP_RATE_LIMIT
    return allow(
        "signup-client", client_address(request), limits["per_client"], limits["window_seconds"]
    )


def confirmation_email_allowed(email: str) -> bool:
    """Per address, shared by signup and resend, so neither can flood an inbox."""
    limits = settings.RESEND_RATE_LIMIT
    return allow("confirmation-email", email, limits["per_address"], limits["window_seconds"])


def resend_allowed(request, email: str) -> bool:
    limits = settings.RESEND_RATE_LIMIT
    client_ok = allow(
        "resend-client", client_address(request), limits["per_client"], limits["window_seconds"]
    )
    return client_ok and confirmation_email_allowed(email)


def password_reset_allowed(request, email: str) -> bool:
    limits = settings.PASSWORD_RESET_RATE_LIMIT
    window = limits["window_seconds"]
    return allow(
        "password-reset-client", client_address(request), limits["per_client"], window
    ) and allow("password-reset-address", email, limits["per_address"], window)
