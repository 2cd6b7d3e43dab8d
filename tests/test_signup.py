import re

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from accounts.models import User
from worker.models import OutboxTask

from .conftest import PASSWORD, change_rate_limit

pytestmark = pytest.mark.django_db(transaction=True)


def confirmation_link(message):
    return re.search(r"http://\S+/accounts/confirm/\S+/", message.body).group(0)


def test_signup_sends_confirmation_after_commit(client, signup):
    response = signup("Ann@Example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:check_inbox")
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert message.subject == "Confirm your email address"
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert confirmation_link(message) in html


def test_confirmation_link_lets_the_member_log_in(client, signup):
    signup("ann@example.com")
    link = confirmation_link(mail.outbox[0])

    assert "Confirm my address" in client.get(link).text
    response = client.post(link, {"password": PASSWORD}, follow=True)

    assert response.redirect_chain == [(reverse("accounts:login"), 302)]
    assert "Your email address is confirmed" in response.text
    response = client.post(
        reverse("accounts:login"), {"username": "ann@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "ann@example.com" in client.get(reverse("home")).text


def test_new_account_cannot_log_in_before_confirming(client, signup):
    signup("ann@example.com")

    response = client.post(
        reverse("accounts:login"), {"username": "ann@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert "Please confirm your email address first" in response.text
    assert "_auth_user_id" not in client.session


def test_rolled_back_signup_sends_nothing(client):
    class RolledBack(Exception):
        pass

    # Whatever rolls the signup back (here, an enclosing transaction that fails after the
    # view returns), the email was only ever promised on commit, so it never goes out.
    with pytest.raises(RolledBack), transaction.atomic():
        response = client.post(
            reverse("accounts:signup"),
            {"email": "ann@example.com", "password1": PASSWORD, "password2": PASSWORD},
        )
        assert response.status_code == 302
        raise RolledBack

    assert not User.objects.exists()
    assert not OutboxTask.objects.exists()  # Nothing for the minute job to send later.
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("email", "password", "confirmation", "error"),
    [
        ("not-an-address", PASSWORD, PASSWORD, "Enter a valid email address."),
        ("ann@example.com", PASSWORD, PASSWORD + "x", "The two password fields didn’t match."),
        ("ann@example.com", "12345678", "12345678", "This password is too common."),
        ("ann@example.com", "short", "short", "This password is too short."),
    ],
)
def test_signup_with_bad_input_explains_and_saves_nothing(
    signup, email, password, confirmation, error
):
    response = signup(email, password, confirmation)

    assert response.status_code == 200
    assert error in response.text
    assert not User.objects.exists()
    assert mail.outbox == []


def test_signup_for_an_existing_address_looks_like_a_new_one(signup, make_user):
    make_user("ann@example.com", confirmed=True)
    make_user("bob@example.com")

    taken_confirmed = signup("ann@example.com", "another-long-passphrase")
    taken_unconfirmed = signup("bob@example.com", "another-long-passphrase")
    new = signup("cat@example.com", "another-long-passphrase")

    assert taken_confirmed["Location"] == taken_unconfirmed["Location"] == new["Location"]
    assert User.objects.count() == 3
    # Every signup mails the address: a link for the new one, a note for the owners.
    by_address = {message.to[0]: message for message in mail.outbox}
    assert sorted(by_address) == ["ann@example.com", "bob@example.com", "cat@example.com"]
    assert by_address["cat@example.com"].subject == "Confirm your email address"
    for owner in ("ann@example.com", "bob@example.com"):
        note = by_address[owner]
        assert note.subject == "Someone tried to sign up with your address"
        assert "/accounts/login/" in note.body
        assert "/accounts/password-reset/" in note.body
        assert "/accounts/confirm/" not in note.body
    # The existing accounts keep the password their first signup chose.
    assert not User.objects.get(email="bob@example.com").check_password("another-long-passphrase")
    assert User.objects.get(email="bob@example.com").check_password(PASSWORD)


def test_taken_and_new_addresses_cost_one_password_hash_each(signup, make_user, hasher_calls):
    make_user("ann@example.com", confirmed=True)
    hasher_calls.clear()

    signup("ann@example.com", "another-long-passphrase")
    taken = list(hasher_calls)
    signup("new@example.com", "another-long-passphrase")

    # A taken address answers no faster than a new one: both hash the password once.
    assert taken == ["another-long-passphrase"]
    assert hasher_calls == ["another-long-passphrase"] * 2


def test_signup_is_limited_per_client(signup, client, settings):
    limit = settings.RATE_LIMITS["signup"]["per_client"]

    statuses = [signup(f"victim+{n}@example.com").status_code for n in range(limit + 5)]

    assert statuses == [302] * limit + [429] * 5
    assert len(mail.outbox) == limit
    assert User.objects.count() == limit
    assert "Too many signups from here" in signup("victim+99@example.com").text
    # Another client is not affected.
    other = client.post(
        reverse("accounts:signup"),
        {"email": "other@example.com", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR="198.51.100.7",
    )
    assert other.status_code == 302


def test_spoofed_forwarded_for_does_not_dodge_the_signup_limit(client, settings):
    # No proxy is configured (the default, in production too), so the header is the
    # client's own invention and must be ignored.
    assert settings.TRUSTED_PROXY_COUNT == 0
    limit = settings.RATE_LIMITS["signup"]["per_client"]

    statuses = [
        client.post(
            reverse("accounts:signup"),
            {"email": f"victim+{n}@example.com", "password1": PASSWORD, "password2": PASSWORD},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(limit + 1)
    ]

    assert statuses[-1] == 429
    assert len(mail.outbox) == limit


def test_throttled_signup_costs_no_password_hash(signup, settings, hasher_calls):
    change_rate_limit(settings, "signup", per_client=1)
    signup("first@example.com")
    assert len(hasher_calls) == 1

    response = signup("second@example.com")

    assert response.status_code == 429
    assert len(hasher_calls) == 1
