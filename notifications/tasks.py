"""Webhook delivery, with retries on the Standard Webhooks schedule."""

import email.utils
import http.client
import json
import logging
import random
import time
from datetime import timedelta
from functools import partial

from crontask import cron
from django.conf import settings
from django.db import transaction
from django.tasks import TaskContext, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult  # noqa: TID251  The sweep is being rewritten (issue 10).

from . import signing, ssrf, transport
from .models import Delivery

logger = logging.getLogger(__name__)

# Seconds to wait before each attempt: the first at once, the last about 28 hours after
# the event (Standard Webhooks' suggested schedule). After the last, the delivery fails.
RETRY_SCHEDULE = [0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
# Each wait is stretched or shrunk by up to this fraction, so that the retries of many
# deliveries that failed together (a receiver's outage) don't all arrive at once.
JITTER = 0.1
# A Retry-After header is obeyed up to this long.
MAX_RETRY_AFTER = 24 * 3600
RETRY_AFTER_STATUSES = {429, 503}


def retry_delay(attempts_made: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt, or None if `attempts_made` used up the schedule."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    return RETRY_SCHEDULE[attempts_made] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - timezone.now()).total_seconds(), 0.0)


def request_for(delivery: Delivery) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": settings.WEBHOOKS_USER_AGENT,
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(
            delivery.endpoint.secret, delivery.webhook_id, timestamp, body
        ),
    }
    return body, headers


@task(queue_name="webhooks", takes_context=True)
def deliver_webhook(context: TaskContext, delivery_id: int) -> str:
    """Make one attempt at a delivery and schedule the next if it fails.

    Safe to run twice: an attempt first claims the delivery (clearing next_attempt_at
    under a row lock), so a duplicate task finds nothing due and does nothing.
    """
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .select_related("endpoint")
            .filter(
                pk=delivery_id,
                status=Delivery.Status.PENDING,
                next_attempt_at__lte=timezone.now(),
            )
            .first()
        )
        if delivery is None:
            return "skipped: not due"
        if not delivery.endpoint.is_active:
            delivery.status = Delivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.last_error = "Endpoint disabled."
            delivery.save()
            return "failed: endpoint disabled"
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.next_attempt_at = None
        delivery.task_result_id = context.task_result.id
        delivery.save()

    # The HTTP request happens outside any transaction: no row stays locked while a slow
    # receiver takes its time.
    body, headers = request_for(delivery)
    status_code, error, retry_after = None, "", None
    try:
        response = transport.post(delivery.endpoint.url, body, headers)
    except ssrf.UnsafeURL as refused:
        error = str(refused)
    except TimeoutError:
        error = f"Timed out after {transport.TOTAL_TIMEOUT:g} s."
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"[:500]
    else:
        status_code = response.status
        if status_code in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return record_outcome(delivery, status_code, error, retry_after)


def record_outcome(delivery, status_code, error, retry_after) -> str:
    delivery.last_status_code = status_code
    delivery.last_error = error
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = Delivery.Status.DELIVERED
        delivery.save()
        return "delivered"

    if status_code == 410:
        # 410 Gone: the receiver says this endpoint no longer exists. Stop sending to it.
        endpoint = delivery.endpoint
        endpoint.is_active = False
        endpoint.disabled_reason = f"The receiver answered 410 Gone on {timezone.now():%Y-%m-%d}."
        endpoint.save(update_fields=["is_active", "disabled_reason"])
        delivery.status = Delivery.Status.FAILED
        delivery.save()
        return "failed: endpoint gone"

    if status_code is not None and 300 <= status_code < 400:
        delivery.last_error = "Redirects are not followed; point the endpoint at the final URL."

    delay = retry_delay(delivery.attempts, retry_after)
    if delay is None:
        delivery.status = Delivery.Status.FAILED
        delivery.save()
        return "failed: attempts used up"

    delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    with transaction.atomic():
        delivery.save()
        retry = deliver_webhook.using(run_after=delivery.next_attempt_at)
        transaction.on_commit(partial(retry.enqueue, delivery.pk))
    return f"retrying in {delay:.0f} s"


def deliveries_with_live_tasks() -> set[int]:
    """Ids of the deliveries that a waiting or running deliver_webhook task is for."""
    return {
        arguments["args"][0]
        for arguments in DBTaskResult.objects.filter(
            task_path=deliver_webhook.module_path, status__in=["READY", "RUNNING"]
        ).values_list("args_kwargs", flat=True)
    }


# A due delivery this late with no task was lost; a younger one may be an enqueue that is
# still on its way from an on-commit callback.
SWEEP_GRACE = timedelta(seconds=30)


@cron("* * * * *")
@task(queue_name="webhooks")
def sweep_deliveries() -> str:
    """Put back on the queue every pending delivery that no live task is working on.

    Two ways a delivery loses its task: the worker died during an attempt (the attempt
    stays "in flight" with no next_attempt_at), or a due retry's task is gone (never
    enqueued because the process stopped first, or pruned). The first counts as a failed
    attempt and is rescheduled on the retry schedule; the second is enqueued at once.
    """
    # Read before the deliveries: a delivery only changes state while its task runs, so
    # one pending now without a task in this set has none.
    live = deliveries_with_live_tasks()
    rescheduled = requeued = 0
    candidates = Delivery.objects.filter(status=Delivery.Status.PENDING).exclude(pk__in=live)
    for delivery_id in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            delivery = (
                Delivery.objects.select_for_update(skip_locked=True)
                .select_related("endpoint")
                .filter(pk=delivery_id, status=Delivery.Status.PENDING)
                .first()
            )
            if delivery is None:
                continue
            if delivery.next_attempt_at is None:
                record_outcome(delivery, None, "The worker stopped during this attempt.", None)
                rescheduled += 1
            elif delivery.next_attempt_at <= timezone.now() - SWEEP_GRACE:
                transaction.on_commit(partial(deliver_webhook.enqueue, delivery.pk))
                requeued += 1
    return f"rescheduled {rescheduled}, requeued {requeued}"
