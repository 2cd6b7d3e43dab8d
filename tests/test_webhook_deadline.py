"""No receiver, however slow or hostile, holds a delivery past its deadline.

Each receiver here keeps every single read short (a byte at a time), which per-read socket
time-outs never catch; only a deadline for the whole attempt ends it. Each one stops by
itself after DRIP_SECONDS, so a broken deadline shows up as a slow, failing test rather
than a hung one.
"""

import socket
import threading
import time

import pytest
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from notifications import ssrf, transport
from notifications.models import Delivery, Endpoint, Event
from peers.receiver import RawReceiver, SilentReceiver

from .conftest import run_tasks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]

BUDGET = 0.5
# Generous on purpose: the claim is "ends near the deadline", not a timing target.
MARGIN = 3.0
DRIP_SECONDS = 8.0
assert BUDGET + MARGIN < DRIP_SECONDS


def drip(prefix: bytes, unit: bytes, interval: float = 0.05):
    """A receiver that reads the request, sends `prefix`, then `unit` again and again."""

    def behave(connection: socket.socket):
        connection.recv(65536)
        connection.sendall(prefix)
        stop = time.monotonic() + DRIP_SECONDS
        while time.monotonic() < stop:
            connection.sendall(unit)
            time.sleep(interval)

    return behave


HOSTILE = {
    # A header line that never ends, one byte at a time.
    "dripping headers": ("http", drip(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")),
    # A chunk-size line that never ends.
    "dripping chunk size": (
        "http",
        drip(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"0"),
    ),
    # http.client skips any number of interim answers, waiting for the real one.
    "endless 100 Continue": ("http", drip(b"", b"HTTP/1.1 100 Continue\r\n\r\n")),
    # A TLS record header announcing 16 KiB of handshake, then its bytes one by one.
    "slow TLS handshake": ("https", drip(b"\x16\x03\x03\x40\x00", b"\x00")),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_receiver_is_cut_off_at_the_deadline_and_retried(client, member, settings, name):
    scheme, behave = HOSTILE[name]
    settings.WEBHOOKS_DELIVERY_TIMEOUT = BUDGET
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with RawReceiver(behave) as receiver:
        endpoint = Endpoint.objects.create(owner=member, url=receiver.url(scheme), events=[])
        client.post(reverse("notifications:send_test", args=[endpoint.pk]))
        delivery = Delivery.objects.get(endpoint=endpoint)

        started = time.monotonic()
        run_tasks()
        elapsed = time.monotonic() - started

    assert elapsed < BUDGET + MARGIN, f"{name}: the attempt took {elapsed:.1f} s"
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert delivery.last_error == f"Timed out after {BUDGET:g} s."
    [retry] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert 0 <= (retry.run_after - delivery.next_attempt_at).total_seconds() < 1


@pytest.fixture
def slow_dns(monkeypatch):
    """getaddrinfo that answers only when the test is over, as a dead resolver might."""
    released = threading.Event()
    real = socket.getaddrinfo

    def hanging(host, *args, **kwargs):
        if host == "slow.example":
            released.wait(30)
        return real("127.0.0.1", *args[:1], type=socket.SOCK_STREAM)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    yield
    released.set()


@pytest.mark.usefixtures("slow_dns")
def test_registration_waits_for_dns_only_a_couple_of_seconds(client, member, monkeypatch):
    monkeypatch.setattr(ssrf, "REGISTRATION_DNS_TIMEOUT", 0.3)

    started = time.monotonic()
    response = client.post(
        reverse("notifications:endpoints"),
        {"url": "https://slow.example/hook", "events": [Event.PROFILE_UPDATED]},
    )

    assert time.monotonic() - started < 0.3 + MARGIN
    assert response.status_code == 200
    assert "slow.example didn&#x27;t resolve within 0.3 s" in response.text
    assert not Endpoint.objects.exists()


@pytest.mark.usefixtures("slow_dns")
def test_resolving_counts_against_the_delivery_deadline(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        transport.post("http://slow.example/hook", b"{}", {}, timeout=BUDGET)

    assert time.monotonic() - started < BUDGET + MARGIN


def test_a_receiver_sending_endless_headers_is_a_failed_attempt(client, member, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True

    def headers_without_end(connection):
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-More: yes\r\n" * 200)

    with RawReceiver(headers_without_end) as receiver:
        endpoint = Endpoint.objects.create(owner=member, url=receiver.url(), events=[])
        client.post(reverse("notifications:send_test", args=[endpoint.pk]))
        run_tasks()

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_error == "HTTPException: got more than 100 headers"
    assert delivery.next_attempt_at is not None


def test_an_endpoint_that_never_answers_rests_instead_of_holding_a_thread_per_delivery(
    client, member, settings
):
    settings.WEBHOOKS_DELIVERY_TIMEOUT = BUDGET
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with SilentReceiver() as receiver:
        endpoint = Endpoint.objects.create(owner=member, url=receiver.url, events=[])
        send_test = reverse("notifications:send_test", args=[endpoint.pk])
        client.post(send_test)
        run_tasks()  # Times out: the endpoint rests; the retry is due in 5 s.
        client.post(send_test)
        run_tasks()
        connections_while_resting = len(receiver.connections)

        # Saving the endpoint as it is doesn't end the rest (or a member could end each
        # one); saving it with a new URL does, and the next delivery is sent at once.
        edit = reverse("notifications:endpoint", args=[endpoint.pk])
        form = {"url": receiver.url, "events": [Event.PROFILE_UPDATED], "is_active": "on"}
        client.post(edit, form)
        client.post(send_test)
        run_tasks()
        connections_after_resaving = len(receiver.connections)
        saved = client.post(edit, {**form, "url": receiver.url.replace("/hooks", "/fixed")})
        client.post(send_test)
        run_tasks()  # Times out again: another rest.
        connections_after_saving = len(receiver.connections)

        # Or the rest runs out.
        Endpoint.objects.filter(pk=endpoint.pk).update(resting_until=timezone.now())
        client.post(send_test)
        run_tasks()

        assert connections_while_resting == 1
        assert connections_after_resaving == 1
        assert saved.status_code == 302
        assert connections_after_saving == 2
        assert len(receiver.connections) == 3
    second = Delivery.objects.filter(endpoint=endpoint).order_by("pk")[1]
    assert second.status == Delivery.Status.PENDING
    assert second.attempts == 1
    assert second.last_error.startswith("Not sent: an earlier attempt got no answer")
    assert second.next_attempt_at is not None
