"""Mail: a development backend whose links you can click, and when to retry a failed send."""

import email.policy
import random
import smtplib

from django.core.mail.backends.filebased import EmailBackend
from django.db import InterfaceError, OperationalError

from worker.retries import attempt_number

# Lines up to the RFC 5322 limit stay as they are, instead of being wrapped with
# quoted-printable "=" breaks that cut the confirmation link in two.
READABLE = email.policy.default.clone(max_line_length=998)


class ReadableFileEmailBackend(EmailBackend):
    def write_message(self, message):
        self.stream.write(message.message(policy=READABLE).as_bytes() + b"\n")
        self.stream.write(b"-" * 79 + b"\n")


# How long to wait before each retry of an email that failed for a passing reason. The
# first retry comes soon (a blip), the last about two and a half hours after the first try.
SMTP_RETRY_DELAYS = [10, 60, 5 * 60, 30 * 60, 2 * 3600]
# Each wait is stretched or shrunk by up to this fraction, so that mails which failed
# together (the provider's outage) don't all come back at the same second.
JITTER = 0.2


def is_transient(exception: BaseException) -> bool:
    """True for failures that may pass: no connection, a time-out, a 4xx answer, or the
    site's own database going away (a restart, a failover) while the task ran.

    A 5xx answer is permanent (no such mailbox, message refused): sending again would
    get the same answer.
    """
    if isinstance(exception, OperationalError | InterfaceError):
        return True
    if isinstance(exception, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exception.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exception, smtplib.SMTPResponseException):
        return 400 <= exception.smtp_code < 500
    if isinstance(exception, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exception, smtplib.SMTPException):
        return False  # The server doesn't support what we asked for: no use retrying.
    # Connection refused or reset, a DNS failure, a time-out (TimeoutError).
    return isinstance(exception, OSError)


def smtp_backoff(exception: BaseException, task_result) -> float | None:
    """Seconds before retrying a mail task after `exception`, or None not to retry.

    The backoff of a task policy (worker/policies.py) for tasks that send mail.
    """
    if not is_transient(exception):
        return None
    attempt = attempt_number(task_result)
    if attempt > len(SMTP_RETRY_DELAYS):
        return None
    return SMTP_RETRY_DELAYS[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
