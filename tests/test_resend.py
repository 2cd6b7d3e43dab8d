from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from worker import outbox

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def resend(client, email, client_ip="192.0.2.1"):
    return client.post(reverse("accounts:resend"), {"email": email}, REMOTE_ADDR=client_ip)


def test_resend_answers_the_same_for_known_and_unknown_addresses(client, make_user):
    make_user("ann@example.com")
    make_user("bob@example.com", confirmed=True)

    pages = {
        email: resend(client, email).text.replace(email, "ADDRESS")
        for email in ("ann@example.com", "bob@example.com", "nobody@example.com")
    }

    assert len(set(pages.values())) == 1
    assert "a new link is on its way" in pages["nobody@example.com"]
    # Only the account still waiting for confirmation actually gets mail.
    assert [message.to for message in mail.outbox] == [["ann@example.com"]]


def test_resent_link_confirms_the_address(client, make_user):
    user = make_user("ann@example.com")

    resend(client, "ANN@example.com")
    [message] = mail.outbox
    link = next(word for word in message.body.split() if "/accounts/confirm/" in word)
    client.post(link, {"password": PASSWORD})

    user.refresh_from_db()
    assert user.email_confirmed


def test_resend_is_rate_limited_per_address(client, make_user, settings):
    make_user("ann@example.com")
    limit = settings.RATE_LIMITS["resend"]["per_address"]

    statuses = [
        resend(client, "ann@example.com", client_ip=f"192.0.2.{n}").status_code
        for n in range(limit + 1)
    ]

    assert statuses == [200] * limit + [429]
    assert len(mail.outbox) == limit
    assert "Too many requests" in resend(client, "ann@example.com").text


def test_resend_is_rate_limited_per_client(client, settings):
    limit = settings.RATE_LIMITS["resend"]["per_client"]

    statuses = [resend(client, f"user{n}@example.com").status_code for n in range(limit + 1)]

    assert statuses == [200] * limit + [429]
    assert resend(client, "other@example.com", client_ip="198.51.100.7").status_code == 200


def test_resend_limits_the_client_behind_a_proxy(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    limit = settings.RATE_LIMITS["resend"]["per_client"]

    def via_router(email, forwarded_for):
        return client.post(
            reverse("accounts:resend"),
            {"email": email},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    # A client can't dodge the limit by inventing X-Forwarded-For entries of its own.
    statuses = [
        via_router(f"user{n}@example.com", f"203.0.113.{n}, 198.51.100.9").status_code
        for n in range(limit + 1)
    ]

    assert statuses[-1] == 429
    assert via_router("other@example.com", "198.51.100.10").status_code == 200


def test_resend_with_a_bad_address_explains(client):
    response = resend(client, "not an address")

    assert response.status_code == 200
    assert "Enter a valid email address." in response.text
    assert mail.outbox == []


def test_with_the_task_engine_down_known_and_unknown_addresses_still_look_alike(
    client, make_user, engine_down, monkeypatch, caplog
):
    # Only an account waiting for confirmation gets a task: if enqueueing it failed the
    # request, an outage would tell a stranger which addresses have one.
    make_user("ann@example.com")

    known = resend(client, "ann@example.com", client_ip="192.0.2.1")
    unknown = resend(client, "nobody@example.com", client_ip="192.0.2.2")

    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("ann@", "X@") == unknown.text.replace("nobody@", "X@")
    assert "the task engine is down" in caplog.text
    assert mail.outbox == []

    monkeypatch.undo()  # The engine is back; the outbox's minute job sends the mail.
    outbox.drain(grace=timedelta(0))
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert "/accounts/confirm/" in message.body
