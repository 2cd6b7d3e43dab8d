"""Finished deliveries are pruned once old: every event makes a row per endpoint."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Delivery, Endpoint, Event
from notifications.tasks import prune_deliveries

pytestmark = pytest.mark.django_db


def test_prune_deletes_old_finished_deliveries_and_keeps_the_rest(make_user, settings):
    endpoint = Endpoint.objects.create(
        owner=make_user("ann@example.com"),
        url="https://example.com/hooks",
        events=[Event.PROFILE_UPDATED],
    )
    long_ago = timezone.now() - timedelta(days=settings.WEBHOOKS_DELIVERY_RETENTION_DAYS + 1)
    deliveries = {}
    for name, status, created in [
        ("old delivered", Delivery.Status.DELIVERED, long_ago),
        ("old failed", Delivery.Status.FAILED, long_ago),
        ("old pending", Delivery.Status.PENDING, long_ago),
        ("recent delivered", Delivery.Status.DELIVERED, timezone.now()),
    ]:
        delivery = Delivery.objects.create(
            endpoint=endpoint, event=Event.PROFILE_UPDATED, payload={}, status=status
        )
        Delivery.objects.filter(pk=delivery.pk).update(created_at=created)
        deliveries[delivery.pk] = name

    prune_deliveries.call()

    kept = {deliveries[pk] for pk in Delivery.objects.values_list("pk", flat=True)}
    assert kept == {"old pending", "recent delivered"}


def test_a_delivery_sent_again_by_hand_counts_from_its_last_attempt(make_user, settings):
    # Redelivered from its page 40 days after its event: it is as fresh as any other.
    endpoint = Endpoint.objects.create(
        owner=make_user("ann@example.com"),
        url="https://example.com/hooks",
        events=[Event.PROFILE_UPDATED],
    )
    retention = timedelta(days=settings.WEBHOOKS_DELIVERY_RETENTION_DAYS)
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event=Event.PROFILE_UPDATED,
        payload={},
        status=Delivery.Status.DELIVERED,
        last_attempt_at=timezone.now() - timedelta(minutes=5),
    )
    stale = Delivery.objects.create(
        endpoint=endpoint,
        event=Event.PROFILE_UPDATED,
        payload={},
        status=Delivery.Status.FAILED,
        last_attempt_at=timezone.now() - retention - timedelta(hours=1),
    )
    Delivery.objects.filter(pk__in=[delivery.pk, stale.pk]).update(
        created_at=timezone.now() - retention - timedelta(days=10)
    )

    prune_deliveries.call()

    assert list(Delivery.objects.values_list("pk", flat=True)) == [delivery.pk]
