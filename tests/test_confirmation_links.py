"""Confirmation links: the page a link opens, the button that confirms, and the attacks
the design stops (a pre-hijacked address, a mail scanner opening links)."""

import time

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from accounts import tokens
from accounts.models import User
from accounts.tokens import make_token

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER_PASSWORD = "attackers-own-passphrase"
VICTIM_PASSWORD = "victims-own-passphrase"


def link(token):
    return reverse("accounts:confirm", kwargs={"token": token})


def confirm(client, token, password=PASSWORD):
    return client.post(link(token), {"password": password})


def logs_in(email, password) -> bool:
    response = Client().post(reverse("accounts:login"), {"username": email, "password": password})
    return response.status_code == 302


def test_link_opens_a_page_whose_button_confirms_the_address_once(client, make_user):
    user = make_user()
    token = make_token(user)

    page = client.get(link(token))
    assert page.status_code == 200
    assert "Confirm my address" in page.text
    assert '<label for="id_password">Password</label>' in page.text
    user.refresh_from_db()
    assert not user.email_confirmed

    first = confirm(client, token)
    second = confirm(client, token)

    assert first.status_code == 302
    assert first["Location"] == reverse("accounts:login")
    user.refresh_from_db()
    assert user.email_confirmed
    assert second.status_code == 200
    assert "This link has already been used" in second.text
    assert reverse("accounts:login") in second.text


def test_a_scanner_opening_the_link_confirms_nothing_and_the_click_still_works(client, make_user):
    user = make_user()
    token = make_token(user)

    # Mail scanners and link previews fetch links with GET and HEAD, often more than once.
    scanner = Client()
    for _ in range(3):
        assert scanner.get(link(token)).status_code == 200
        assert scanner.head(link(token)).status_code == 200
    user.refresh_from_db()
    assert not user.email_confirmed

    assert confirm(client, token).status_code == 302
    user.refresh_from_db()
    assert user.email_confirmed


@pytest.mark.django_db(transaction=True)  # Mail is enqueued on commit.
def test_pre_hijacked_address_stays_the_owners(client, signup):
    # The attacker signs up first with the victim's address and a password of their own.
    attacker = Client()
    attacker.post(
        reverse("accounts:signup"),
        {
            "email": "victim@example.com",
            "password1": ATTACKER_PASSWORD,
            "password2": ATTACKER_PASSWORD,
        },
    )
    # The victim signs up later, and gets mail: the first signup's link and a note.
    signup("victim@example.com", VICTIM_PASSWORD)
    tokens = [
        word.rsplit("/", 2)[-2]
        for message in mail.outbox
        for word in message.body.split()
        if "/accounts/confirm/" in word
    ]
    assert tokens, "the first signup's confirmation link went to the victim's inbox"

    # The victim follows the link, with their own password: it doesn't confirm the
    # attacker's account for them, and the page offers a password of their own instead.
    response = confirm(client, tokens[0], VICTIM_PASSWORD)
    assert response.status_code == 200
    assert "set a new password instead" in response.text
    assert reverse("accounts:password_reset") in response.text
    assert not User.objects.get(email="victim@example.com").email_confirmed
    assert not logs_in("victim@example.com", ATTACKER_PASSWORD)

    # A password reset, mailed to the victim, confirms the address with their password.
    client.post(reverse("accounts:password_reset"), {"email": "victim@example.com"})
    reset_link = next(
        word for word in mail.outbox[-1].body.split() if "/accounts/password-reset/" in word
    )
    set_password = client.get(reset_link, follow=True).redirect_chain[-1][0]
    client.post(set_password, {"new_password1": VICTIM_PASSWORD, "new_password2": VICTIM_PASSWORD})

    assert User.objects.get(email="victim@example.com").email_confirmed
    assert logs_in("victim@example.com", VICTIM_PASSWORD)
    assert not logs_in("victim@example.com", ATTACKER_PASSWORD)


def test_link_without_the_password_confirms_nothing(client, make_user):
    user = make_user()
    token = make_token(user)

    for password in ("", "wrong-password", PASSWORD + " "):
        response = confirm(client, token, password)
        assert response.status_code == 200
        assert 'class="errorlist' in response.text

    user.refresh_from_db()
    assert not user.email_confirmed


def test_password_guesses_on_the_confirmation_page_are_throttled(client, make_user, settings):
    user = make_user()
    token = make_token(user)
    limit = settings.RATE_LIMITS["login"]["per_account_and_client"]

    statuses = [confirm(client, token, f"guess-{n}").status_code for n in range(limit + 1)]

    assert statuses == [200] * limit + [429]
    assert "Too many login attempts" in confirm(client, token).text


def test_tampered_link_gets_a_clear_page(client, make_user):
    user = make_user()
    token = make_token(user)
    payload, rest = token.split(":", 1)
    forged = signing.dumps({"user": user.pk + 1, "email": user.email}).split(":", 1)[0]

    for bad in (payload + "x:" + rest, forged + ":" + rest, "garbage", "a:b:c", "%00"):
        for response in (client.get(link(bad)), confirm(client, bad)):
            assert response.status_code == 400
            assert "This link isn't valid" in response.text
            assert reverse("accounts:resend") in response.text
    user.refresh_from_db()
    assert not user.email_confirmed


def test_expired_link_offers_a_new_email(client, make_user, monkeypatch):
    monkeypatch.setattr(tokens, "CONFIRMATION_MAX_AGE", 2 * 60 * 60)
    user = make_user()
    issued = time.time() - tokens.CONFIRMATION_MAX_AGE - 1
    with monkeypatch.context() as past:
        past.setattr(signing.time, "time", lambda: issued)
        token = make_token(user)

    response = confirm(client, token)

    assert response.status_code == 400
    assert "This link has expired" in response.text
    # The page states the lifetime tokens.py gives, not a fixed one.
    assert "Confirmation links work for 2 hours" in response.text
    assert reverse("accounts:resend") in response.text
    user.refresh_from_db()
    assert not user.email_confirmed


def test_link_for_a_changed_address_is_void(client, make_user):
    user = make_user("old@example.com")
    token = make_token(user)
    user.email = "new@example.com"
    user.save()

    response = confirm(client, token)

    assert response.status_code == 400
    user.refresh_from_db()
    assert not user.email_confirmed
