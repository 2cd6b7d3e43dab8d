"""Durations that settings define, in words, so pages and mails never state a stale one."""

from django.conf import settings

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
    return {
        "confirmation_link_lifetime": describe(settings.EMAIL_CONFIRMATION_MAX_AGE),
        "reset_link_lifetime": describe(settings.PASSWORD_RESET_TIMEOUT),
        "resend_window": describe(settings.RESEND_RATE_LIMIT["window_seconds"]),
        "signup_window": describe(settings.SIGNUP_RATE_LIMIT["window_seconds"]),
        "login_window": describe(settings.LOGIN_RATE_LIMIT["window_seconds"]),
        "password_reset_window": describe(settings.PASSWORD_RESET_RATE_LIMIT["window_seconds"]),
        "profile_save_window": describe(settings.PROFILE_SAVE_RATE_LIMIT["window_seconds"]),
    }
