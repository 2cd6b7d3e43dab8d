"""Emitting events: one delivery row per subscribed endpoint, sent by the worker."""

from functools import partial

from django.db import transaction
from django.utils import timezone

from .models import Delivery, Endpoint, Event
from .tasks import deliver_webhook


def emit(owner, event: Event, data: dict) -> list[Delivery]:
    """Record `event` for each of `owner`'s active endpoints subscribed to it.

    Call it inside the transaction that made the change: the deliveries are committed
    with it or not at all, and the delivery task is enqueued only after the commit.
    """
    return [
        deliver(endpoint, event, data)
        for endpoint in Endpoint.objects.filter(owner=owner, is_active=True)
        if event in endpoint.events
    ]


def deliver(endpoint: Endpoint, event: Event, data: dict) -> Delivery:
    """Record one delivery of `event` to `endpoint`, to be sent once the transaction commits."""
    now = timezone.now()
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event=event,
        payload={"type": str(event), "timestamp": now.isoformat(), "data": data},
        next_attempt_at=now,
    )
    transaction.on_commit(partial(deliver_webhook.enqueue, delivery.pk))
    return delivery


def redeliver(delivery: Delivery) -> None:
    """Start a failed delivery's attempts over, keeping its webhook-id."""
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save()
    transaction.on_commit(partial(deliver_webhook.enqueue, delivery.pk))


def profile_payload(profile) -> dict:
    """What receivers learn about a profile: its public fields, never secrets or passwords."""
    return {
        "user_id": profile.user_id,
        "display_name": profile.display_name,
        "headline": profile.headline,
        "bio": profile.bio,
        "location": profile.location,
    }
