"""The webhook tasks: one attempt at a delivery, the sweep that finds lost ones, pruning.

A failed attempt fails its task, and its @policy retries it when the delivery row says.
"""

import time
from datetime import timedelta
from functools import partial

from crontask import cron
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.tasks import TaskContext, task
from django.utils import timezone

from worker.policies import ExpectedFailure, policy

from . import attempts
from .models import Delivery


def enqueue_next_attempt(delivery: Delivery) -> None:
    """Enqueue the task for the delivery's next attempt, once this transaction commits."""
    next_attempt = deliver_webhook.using(run_after=delivery.next_attempt_at)
    # robust: an engine that is down is logged; sweep_deliveries finds the delivery.
    transaction.on_commit(partial(next_attempt.enqueue, delivery.pk), robust=True)


# How early a task may start, by the clocks of the hosts that scheduled and run it.
EARLY_TOLERANCE = timedelta(seconds=2)


def wait_until_due(delivery_id: int) -> None:
    """Sleep until the delivery is due, if that is no more than EARLY_TOLERANCE away: a
    task started early is not skipped, to wait minutes for the sweep."""
    due = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    early = (due - timezone.now()) if due is not None else timedelta(0)
    if timedelta(0) < early <= EARLY_TOLERANCE:
        time.sleep(early.total_seconds())


class DeliveryFailed(ExpectedFailure):
    """An attempt at a delivery that failed; `retry_at` is when the next is due, or None
    when the delivery has failed for good. Its message holds only our own words: what
    the receiver sent is in the delivery's log, never in the task's result or the logs."""

    def __init__(self, message: str, retry_at=None):
        super().__init__(message)
        self.retry_at = retry_at


def delivery_backoff(exception: BaseException, task_result) -> float | None:
    """Seconds until the next attempt the delivery row set; None once it failed for good,
    or for any other exception (its delivery stays pending, for the sweep)."""
    if not isinstance(exception, DeliveryFailed) or exception.retry_at is None:
        return None
    return max((exception.retry_at - timezone.now()).total_seconds(), 0.0)


@task(queue_name="webhooks", takes_context=True)
@policy(max_attempts=len(attempts.RETRY_SCHEDULE), backoff=delivery_backoff)
def deliver_webhook(context: TaskContext, delivery_id: int) -> str:
    """Make one attempt at a delivery; raise DeliveryFailed if it fails, for the policy to
    retry. Safe to run twice: the attempt claims the row first (under a lock, clearing
    next_attempt_at), so a duplicate task finds nothing due."""
    wait_until_due(delivery_id)
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
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return "failed: endpoint disabled"  # Not an attempt: nothing to retry.
        # The database's clock, not this host's: the sweep, on another host, compares it
        # with its own Now() to tell an attempt in flight from one whose worker died.
        Delivery.objects.filter(pk=delivery.pk).update(
            attempts=F("attempts") + 1,
            last_attempt_at=Now(),
            next_attempt_at=None,
            task_result_id=context.task_result.id,
        )
        delivery.refresh_from_db(fields=["attempts", "last_attempt_at", "next_attempt_at"])

    # Outside any transaction: no row stays locked while a slow receiver takes its time.
    attempt = attempts.send(delivery)
    with transaction.atomic():
        # The member may have deleted the endpoint, and its deliveries, meanwhile.
        if not Delivery.objects.select_for_update().filter(pk=delivery.pk).exists():
            return "skipped: deleted during the attempt"
        outcome = attempts.record(delivery, attempt)
    if delivery.status == Delivery.Status.DELIVERED:
        return outcome
    answer = f"HTTP {attempt.status_code}" if attempt.status_code else "no HTTP answer"
    raise DeliveryFailed(
        f"Delivery {delivery.pk}, attempt {delivery.attempts}: {answer}; {outcome}.",
        retry_at=delivery.next_attempt_at,
    )


def in_flight_grace() -> timedelta:
    """How long past its deadline an attempt still in flight has lost its worker (a live
    one records the outcome moments after): WORKER_DEAD_AFTER_SECONDS."""
    return timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)


def sweep_grace() -> timedelta:
    """How late a due delivery is when it has lost its task (or waits behind a long queue),
    and how long the sweep leaves one it requeued: twice WORKER_DEAD_AFTER_SECONDS."""
    return 2 * timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)


@cron("* * * * *")
@task(queue_name="webhooks")
def sweep_deliveries() -> str:
    """Put back on the queue every pending delivery that has lost its task: an attempt
    whose worker died counts as failed and is rescheduled; a delivery long due is
    enqueued again at once."""
    longest_attempt = timedelta(seconds=settings.WEBHOOKS_DELIVERY_TIMEOUT) + in_flight_grace()
    dead = Q(next_attempt_at__isnull=True, last_attempt_at__lt=Now() - longest_attempt)
    late = Q(next_attempt_at__lte=timezone.now() - sweep_grace())
    candidates = Delivery.objects.filter(dead | late, status=Delivery.Status.PENDING)
    rescheduled = requeued = 0
    for delivery_id in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            # Locked rows belong to an attempt that is claiming or recording right now.
            delivery = (
                Delivery.objects.select_for_update(skip_locked=True)
                .select_related("endpoint")
                .filter(pk=delivery_id, status=Delivery.Status.PENDING)
                .first()
            )
            if delivery is None:
                continue
            if delivery.next_attempt_at is None:
                attempts.record(
                    delivery, attempts.Attempt(error="The worker stopped during this attempt.")
                )
                rescheduled += 1
            else:
                # Due now, as it was; also keeps the next sweep from requeueing it again.
                delivery.next_attempt_at = timezone.now()
                delivery.save(update_fields=["next_attempt_at"])
                requeued += 1
            if delivery.next_attempt_at is not None:
                enqueue_next_attempt(delivery)
    return f"rescheduled {rescheduled}, requeued {requeued}"


@cron("43 * * * *")
@task(queue_name="default")
def prune_deliveries() -> str:
    """Delete finished deliveries whose last attempt (or creation, if none) is more than
    WEBHOOKS_DELIVERY_RETENTION_DAYS old."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOKS_DELIVERY_RETENTION_DAYS)
    finished = Delivery.objects.filter(
        Q(last_attempt_at__lt=cutoff) | Q(last_attempt_at__isnull=True, created_at__lt=cutoff)
    ).exclude(status=Delivery.Status.PENDING)
    deleted, _ = finished.delete()
    return f"deleted {deleted}"
