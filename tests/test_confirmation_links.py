import time

import pytest
from django.core import signing
from django.urls import reverse

from accounts.tokens import make_token

pytestmark = pytest.mark.django_db


def confirm(client, token):
    return client.get(reverse("accounts:confirm", kwargs={"token": token}))


def test_link_confirms_the_address_once(client, make_user):
    user = make_user()
    token = make_token(user)

    first = confirm(client, token)
    second = confirm(client, token)

    assert first.status_code == 302
    user.refresh_from_db()
    assert user.email_confirmed
    assert second.status_code == 200
    assert "This link has already been used" in second.text
    assert reverse("accounts:login") in second.text


def test_tampered_link_gets_a_clear_page(client, make_user):
    user = make_user()
    token = make_token(user)
    payload, rest = token.split(":", 1)
    forged = signing.dumps({"user": user.pk + 1, "email": user.email}).split(":", 1)[0]

    for bad in (payload + "x:" + rest, forged + ":" + rest, "garbage", "a:b:c", "%00"):
        response = confirm(client, bad)
        assert response.status_code == 400
        assert "This link isn't valid" in response.text
        assert reverse("accounts:resend") in response.text
    user.refresh_from_db()
    assert not user.email_confirmed


def test_expired_link_offers_a_new_email(client, make_user, monkeypatch, settings):
    user = make_user()
    issued = time.time() - settings.EMAIL_CONFIRMATION_MAX_AGE - 1
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    token = make_token(user)
    monkeypatch.undo()

    response = confirm(client, token)

    assert response.status_code == 400
    assert "This link has expired" in response.text
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
