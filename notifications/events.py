"""Recording events: one delivery row per subscribed endpoint, sent later by the worker."""

from functools import partial

from django.db import transaction
from django.utils import timezone

from . import throttle
from .models import Delivery, Endpoint, Event
from .tasks import deliver_webhook


def emit(owner, event: Event, data: dict) -> list[Delivery]:
    """Record a delivery of `event` for each of `owner`'s active endpoints subscribed to it,
    at most MAX_ENDPOINTS_PER_MEMBER. Call it inside the transaction that made the change:
    the deliveries commit with it, and their tasks are enqueued after the commit (an enqueue
    that fails is logged, and sweep_deliveries finds the delivery)."""
    endpoints = [
        endpoint
        for endpoint in Endpoint.objects.filter(owner=owner, is_active=True)
        if event in endpoint.events
    ][: throttle.MAX_ENDPOINTS_PER_MEMBER]
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [new_delivery(endpoint, event, data, now) for endpoint in endpoints]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(deliver_webhook.enqueue, delivery.pk), robust=True)
    return deliveries


def record_delivery(endpoint: Endpoint, event: Event, data: dict) -> Delivery:
    """Record one delivery of `event` to `endpoint`, to be sent once the transaction commits."""
    delivery = new_delivery(endpoint, event, data, timezone.now())
    delivery.save()
    transaction.on_commit(partial(deliver_webhook.enqueue, delivery.pk), robust=True)
    return delivery


def new_delivery(endpoint, event, data, now) -> Delivery:
    return Delivery(
        endpoint=endpoint,
        event=event,
        payload={"type": str(event), "timestamp": now.isoformat(), "data": data},
        next_attempt_at=now,
    )


def redeliver(delivery: Delivery) -> None:
    """Start a failed delivery's attempts over, keeping its webhook-id."""
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    transaction.on_commit(partial(deliver_webhook.enqueue, delivery.pk), robust=True)
