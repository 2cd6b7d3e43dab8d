"""Durations the site enforces, in words, so pages and mails never state a stale one."""

from django.conf import settings

from . import tokens

UNITS = [(24 * 60 * 60, "day"), (60 * 60, "hour"), (60, "minute"), (1, "second")]


def describe(seconds: float) -> str:
    """'3 days', '1 hour', '15 minutes': the largest unit that divides it exactly."""
    seconds = int(seconds)
    for size, name in UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def durations() -> dict[str, str]:
    """Every duration a page or a mail about accounts mentions."""
    limits = settings.RATE_LIMITS
    return {
        "confirmation_link_lifetime": describe(tokens.CONFIRMATION_MAX_AGE),
        "reset_link_lifetime": describe(settings.PASSWORD_RESET_TIMEOUT),
        "resend_window": describe(limits["resend"]["window_seconds"]),
        "signup_window": describe(limits["signup"]["window_seconds"]),
        "login_window": describe(limits["login"]["window_seconds"]),
        "password_reset_window": describe(limits["password_reset"]["window_seconds"]),
        "profile_save_window": describe(limits["profile_save"]["window_seconds"]),
    }
