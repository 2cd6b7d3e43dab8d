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
