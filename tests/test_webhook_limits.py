"""Abuse limits: how many endpoints a member keeps, and how much they can send by hand."""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from notifications import throttle
from notifications.models import Delivery, Endpoint, Event

from .conftest import change_rate_limit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_backend")]


def register(client, url):
    return client.post(
        reverse("notifications:endpoints"),
        {"url": url, "events": [Event.PROFILE_UPDATED], "is_active": "on"},
    )


def test_a_member_keeps_at_most_the_configured_number_of_endpoints(client, member, monkeypatch):
    monkeypatch.setattr(throttle, "MAX_ENDPOINTS_PER_MEMBER", 2)
    for n in range(2):
        assert register(client, f"https://93.184.215.14/hook{n}").status_code == 302

    response = register(client, "https://93.184.215.14/one-too-many")

    assert response.status_code == 200
    assert "You already have 2 endpoints, the most a member can have." in response.text
    assert Endpoint.objects.filter(owner=member).count() == 2


def test_one_event_makes_at_most_the_configured_number_of_deliveries(client, member, monkeypatch):
    monkeypatch.setattr(throttle, "MAX_ENDPOINTS_PER_MEMBER", 2)
    # More than the cap, as endpoints made in the admin or before the cap could be.
    for n in range(3):
        Endpoint.objects.create(
            owner=member, url=f"https://93.184.215.14/{n}", events=[Event.PROFILE_UPDATED]
        )

    response = client.post(reverse("accounts:profile"), {"display_name": "Ann"})

    assert response.status_code == 302
    assert Delivery.objects.count() == 2


def test_test_events_are_rate_limited_with_a_clear_message(client, member, settings):
    change_rate_limit(settings, "webhook_manual_send", count=2, window_seconds=600)
    endpoint = Endpoint.objects.create(owner=member, url="https://93.184.215.14/", events=[])
    send_test = reverse("notifications:send_test", args=[endpoint.pk])

    for _ in range(2):
        client.post(send_test)
    response = client.post(send_test, follow=True)

    assert response.status_code == 200
    assert "You can send 2 deliveries by hand" in response.text
    assert "in 10 minutes" in response.text
    assert Delivery.objects.filter(endpoint=endpoint).count() == 2


def test_redeliveries_count_against_the_same_limit(client, member, settings):
    change_rate_limit(settings, "webhook_manual_send", count=2, window_seconds=600)
    endpoint = Endpoint.objects.create(owner=member, url="https://93.184.215.14/", events=[])
    client.post(reverse("notifications:send_test", args=[endpoint.pk]))
    failed = [
        Delivery.objects.create(
            endpoint=endpoint, event=Event.TEST, payload={}, status=Delivery.Status.FAILED
        )
        for _ in range(2)
    ]

    client.post(reverse("notifications:redeliver", args=[endpoint.pk, failed[0].pk]))
    response = client.post(
        reverse("notifications:redeliver", args=[endpoint.pk, failed[1].pk]), follow=True
    )

    assert "You can send 2 deliveries by hand" in response.text
    statuses = [Delivery.objects.get(pk=delivery.pk).status for delivery in failed]
    assert statuses == [Delivery.Status.PENDING, Delivery.Status.FAILED]


def test_the_limit_is_per_member_and_frees_up_as_the_window_moves(
    client, member, make_user, settings, monkeypatch
):
    change_rate_limit(settings, "webhook_manual_send", count=1, window_seconds=600)
    endpoint = Endpoint.objects.create(owner=member, url="https://93.184.215.14/", events=[])
    send_test = reverse("notifications:send_test", args=[endpoint.pk])
    client.post(send_test)
    client.post(send_test)
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1

    other = make_user("other@example.com", confirmed=True)
    theirs = Endpoint.objects.create(owner=other, url="https://93.184.215.14/", events=[])
    client.force_login(other)
    client.post(reverse("notifications:send_test", args=[theirs.pk]))
    assert Delivery.objects.filter(endpoint=theirs).count() == 1

    # Ten minutes later the first member's window is over.
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    client.force_login(member)
    client.post(send_test)
    assert Delivery.objects.filter(endpoint=endpoint).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent connections: PostgreSQL"
)
def test_presses_at_the_same_instant_are_counted_one_by_one(member, settings):
    change_rate_limit(settings, "webhook_manual_send", count=3)
    presses = 8
    together = threading.Barrier(presses)
    allowed = []

    def press():
        try:
            with transaction.atomic():
                together.wait()
                allowed.append(throttle.manual_send_allowed(member))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press) for _ in range(presses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(allowed) == [False] * 5 + [True] * 3
    assert not throttle.manual_send_allowed(member)  # And the count kept every press.
