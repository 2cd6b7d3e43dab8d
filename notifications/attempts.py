"""One attempt at a delivery: sending it, and what its outcome does to the delivery.

send() never raises: whatever a receiver answers (or fails to), record() gets an Attempt.
"""

import email.utils
import http.client
import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone

from worker.policies import jittered

from . import signing, ssrf, transport
from .models import Delivery, Endpoint

logger = logging.getLogger(__name__)

# Seconds before each attempt (Standard Webhooks' suggested schedule): the first at once,
# the last about 28 hours after the event. After the last, the delivery fails.
RETRY_SCHEDULE = [0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
# A Retry-After header is obeyed up to this long.
MAX_RETRY_AFTER = 24 * 3600
RETRY_AFTER_STATUSES = {429, 503}
# After an attempt timed out its endpoint rests this long: deliveries due meanwhile are not
# sent, each a failed attempt. Shorter than the 5-minute retry (4 at the earliest, jittered).
REST_AFTER_TIMEOUT = 3 * 60

# What an attempt changes on its delivery.
OUTCOME_FIELDS = [
    "status",
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "last_response",
]


@dataclass
class Attempt:
    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None
    response: str = ""
    timed_out: bool = False


def retry_delay(attempts_made: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt, or None if `attempts_made` used up the schedule."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    return jittered(RETRY_SCHEDULE[attempts_made])


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date; None if neither."""
    if not value:
        return None
    value = value.strip()
    # isdigit() alone accepts "²" and other digits float() refuses.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # No zone, or "-0000" ("zone unknown"): HTTP dates are always GMT.
        when = when.replace(tzinfo=UTC)
    return max((when - timezone.now()).total_seconds(), 0.0)


def send(delivery: Delivery) -> Attempt:
    """POST the delivery to its endpoint once, within WEBHOOKS_DELIVERY_TIMEOUT. Never raises."""
    timeout = settings.WEBHOOKS_DELIVERY_TIMEOUT
    resting_until = delivery.endpoint.resting_until
    if resting_until is not None and resting_until > timezone.now():
        # Counts as an attempt, so the delivery keeps its schedule and still ends.
        return Attempt(
            error=f"Not sent: an earlier attempt got no answer within {timeout:g} s, so "
            f"this endpoint rests until {resting_until:%Y-%m-%d %H:%M:%S %Z}."
        )
    try:
        body, headers = signing.request_for(delivery)
        response = transport.post(delivery.endpoint.url, body, headers, timeout=timeout)
        retry_after = None
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
    except ssrf.UnsafeURL as refused:
        return Attempt(error=str(refused))
    except TimeoutError:
        return Attempt(error=f"Timed out after {timeout:g} s.", timed_out=True)
    except (OSError, http.client.HTTPException) as failure:
        return Attempt(error=f"{type(failure).__name__}: {failure}")
    except Exception:
        # An answer nobody foresaw, or a bug here: the attempt still counts and is retried,
        # and the traceback goes to the log for us rather than to the member.
        logger.exception("Webhook attempt for delivery %s failed unexpectedly", delivery.pk)
        return Attempt(error="This attempt failed on our side; it will be retried.")
    return Attempt(status_code=response.status, retry_after=retry_after, response=response.excerpt)


def record(delivery: Delivery, attempt: Attempt) -> str:
    """Save what `attempt` means for `delivery`: delivered, failed, or the next_attempt_at
    of a retry, which the caller's task policy (or the sweep) enqueues."""
    delivery.last_status_code = attempt.status_code
    # Exception texts can carry the receiver's bytes: keep them printable and short.
    delivery.last_error = transport.readable(attempt.error)[:500]
    delivery.last_response = attempt.response
    delivery.next_attempt_at = None
    status_code = attempt.status_code

    if attempt.timed_out:
        rest = timedelta(seconds=REST_AFTER_TIMEOUT)
        Endpoint.objects.filter(pk=delivery.endpoint_id).update(resting_until=timezone.now() + rest)

    if status_code is not None and 200 <= status_code < 300:
        delivery.status = Delivery.Status.DELIVERED
        delivery.save(update_fields=OUTCOME_FIELDS)
        return "delivered"

    if status_code == 410:
        # 410 Gone: the receiver says this endpoint no longer exists. Stop sending to it.
        endpoint = delivery.endpoint
        endpoint.is_active = False
        endpoint.disabled_reason = f"The receiver answered 410 Gone on {timezone.now():%Y-%m-%d}."
        endpoint.save(update_fields=["is_active", "disabled_reason"])
        delivery.status = Delivery.Status.FAILED
        delivery.save(update_fields=OUTCOME_FIELDS)
        return "failed: endpoint gone"

    if status_code is not None and 300 <= status_code < 400:
        delivery.last_error = "Redirects are not followed; point the endpoint at the final URL."

    delay = retry_delay(delivery.attempts, attempt.retry_after)
    if delay is None:
        delivery.status = Delivery.Status.FAILED
        delivery.save(update_fields=OUTCOME_FIELDS)
        return "failed: attempts used up"

    delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    delivery.save(update_fields=OUTCOME_FIELDS)
    return f"retrying in {delay:.0f} s"
