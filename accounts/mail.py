"""What a mail server's answers mean: which failures to retry, and when; and which part of
a refusal a member may read."""

import re
import smtplib

from django.db import InterfaceError, OperationalError

from worker import retries
from worker.policies import jittered

# How long to wait before each retry of an email that failed for a passing reason. The
# first retry comes soon (a blip), the last about two and a half hours after the first try.
SMTP_RETRY_DELAYS = [10, 60, 5 * 60, 30 * 60, 2 * 3600]


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
    attempt = retries.attempt_number(task_result)
    if attempt > len(SMTP_RETRY_DELAYS):
        return None
    return jittered(SMTP_RETRY_DELAYS[attempt - 1])


# How smtplib reports the mail server refusing the recipient, in a traceback's last line
# or a retry's reason: SMTPRecipientsRefused: {'a@b.example': (550, b'5.1.1 No such user')}.
# Only an answer about the address or its mailbox (RFC 3463 enhanced status X.1.Y: no
# such mailbox, bad syntax, but not X.1.7 and X.1.8, our sender; X.2.Y: mailbox full or
# disabled) is the visitor's. A server also refuses recipients for reasons of ours (our
# client host, our sender, relaying: X.7.Y; its own system: X.3.Y), naming our set-up.
RECIPIENT_REFUSED = re.compile(
    r"^(?:smtplib\.)?SMTPRecipientsRefused: \{.*?\((\d{3}), b?['\"]"
    r"([245]\.(?:1\.(?:[0-69]|10)|2\.\d{1,3})\b.*?)['\"]\)"
)


def reason_to_show(error: str) -> str:
    """What anyone who signed up may read of why their mail didn't go.

    The mail server's refusal of the address they typed says what was wrong (a typo gets
    "550 No such user"). Any other error's text is ours, a mail server's answer about
    anything else included (our login, our sender): it can name the mail provider, the
    database's host or an internal address, so it stays in the logs.
    """
    if error == retries.WORKER_DIED_REASON:  # Our own words, written for this page.
        return error
    if answer := RECIPIENT_REFUSED.search(error):
        return f"{answer[1]} {answer[2]}"[:300]
    return "a problem on our side"
