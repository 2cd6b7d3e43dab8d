"""What a mail server's answers mean: which failures to retry, and when; and which part of
a refusal a member may read."""

import re
import smtplib

from django.db import InterfaceError, OperationalError

from worker import retries
from worker.policies import jittered

# Seconds before each retry of a mail that failed for a passing reason: the first soon (a
# blip), the last about two and a half hours after the first try.
SMTP_RETRY_DELAYS = [10, 60, 5 * 60, 30 * 60, 2 * 3600]


def is_transient(exception: BaseException) -> bool:
    """True for failures that may pass: no connection, a time-out, a 4xx answer, or the
    site's own database going away while the task ran. A 5xx answer is final."""
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
    """Seconds before retrying a mail task after `exception`, or None not to retry: the
    backoff of the mail tasks' policy (worker/policies.py)."""
    if not is_transient(exception):
        return None
    attempt = retries.attempt_number(task_result)
    if attempt > len(SMTP_RETRY_DELAYS):
        return None
    return jittered(SMTP_RETRY_DELAYS[attempt - 1])


# smtplib's refusal of a recipient, as a traceback's last line or a retry's reason reads:
# SMTPRecipientsRefused: {'a@b.example': (550, b'5.1.1 No such user')}. Only RFC 3463
# statuses about the address or its mailbox are the visitor's: X.1.Y except X.1.7 and X.1.8
# (our sender), and X.2.Y. Others (X.3.Y, X.7.Y: our host, relaying) name our set-up.
RECIPIENT_REFUSED = re.compile(
    r"^(?:smtplib\.)?SMTPRecipientsRefused: \{.*?\((\d{3}), b?['\"]"
    r"([245]\.(?:1\.(?:[0-69]|10)|2\.\d{1,3})\b.*?)['\"]\)"
)


def reason_to_show(error: str) -> str:
    """What anyone who signed up may read of why their mail didn't go: the server's refusal
    of the address they typed. Any other error can name our hosts, so it stays in the logs."""
    if error == retries.WORKER_DIED_REASON:  # Our own words, written for this page.
        return error
    if answer := RECIPIENT_REFUSED.search(error):
        return f"{answer[1]} {answer[2]}"[:300]
    return "a problem on our side"
