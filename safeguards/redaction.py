"""Logs without the tokens that confirmation and reset links carry in their path (and, as
the Referer, in whatever their page loads next). Both logs that name paths use it:
gunicorn's access log, and Django's (a refused link logs "Bad Request: path").
"""

import logging
import re

from gunicorn.glogging import Logger

SECRET_IN_PATH = re.compile(r"(/accounts/confirm/|/accounts/password-reset/[^/?\s\"]+/)[^/?\s\"]+")


def redact(text: str) -> str:
    return SECRET_IN_PATH.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    """gunicorn's logger (config/gunicorn.py), with every access-log field redacted."""

    def atoms(self, resp, req, environ, request_time):
        return {
            name: redact(value) if isinstance(value, str) else value
            for name, value in super().atoms(resp, req, environ, request_time).items()
        }


class RedactSecretPaths(logging.Filter):
    """A filter for the LOGGING handlers (config/settings/base.py): the message, and the
    traceback of a logged exception (a mail server's refusal can quote a link)."""

    def filter(self, record):
        message = record.getMessage()
        if (redacted := redact(message)) != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set, instead of formatting exc_info.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
