"""Email-confirmation tokens: signed, expiring after CONFIRMATION_MAX_AGE, good for one use.

A token is the user's id and address, signed and timestamped: no table of tokens.
"""

from django.core import signing

from .models import User

SALT = "accounts.email-confirmation"
# Seconds a confirmation link works; pages and mails word it (durations.py).
CONFIRMATION_MAX_AGE = 3 * 24 * 60 * 60


class TokenError(Exception):
    """The link cannot confirm anything: tampered, or for an account that no longer matches."""


class TokenExpired(TokenError):
    pass


class TokenUsed(TokenError):
    pass


def make_token(user: User) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=SALT)


def user_for_token(token: str) -> User:
    """Return the unconfirmed user this token confirms, or raise a TokenError saying why not."""
    try:
        data = signing.loads(token, salt=SALT, max_age=CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired as error:
        raise TokenExpired from error
    except signing.BadSignature as error:
        raise TokenError from error

    # A changed address or a deleted account voids the link.
    user = User.objects.filter(pk=data.get("user"), email=data.get("email")).first()
    if user is None:
        raise TokenError
    if user.email_confirmed:
        raise TokenUsed
    return user
