"""Logs keep no confirmation or reset token, in messages or in tracebacks."""

import io
import logging

from safeguards.redaction import RedactSecretPaths

TOKEN = "MQ:1vXyZ:secret-token"


def logged(emit) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretPaths())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_logged_message_keeps_no_token():
    output = logged(lambda logger: logger.warning("Bad Request: /accounts/confirm/%s/", TOKEN))
    assert TOKEN not in output
    assert "/accounts/confirm/[redacted]/" in output


def test_a_logged_traceback_keeps_no_token():
    def emit(logger):
        try:
            raise ValueError(f"550 bounced: https://example.com/accounts/confirm/{TOKEN}/")
        except ValueError:
            logger.exception("event=task_finished_receiver_failed id=1")

    output = logged(emit)
    assert "ValueError: 550 bounced" in output
    assert TOKEN not in output
    assert "/accounts/confirm/[redacted]/" in output
