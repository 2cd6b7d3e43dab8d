"""Password guessing, tried as an attacker would: at the site's login and at /admin/."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from .conftest import PASSWORD
from .test_password_reset import NEW_PASSWORD, ask_for_reset, reset_link, set_password

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.20"


def log_in(client, path, email, password, client_ip=ATTACKER):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=client_ip)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_thirty_wrong_passwords_are_throttled_and_the_owner_still_gets_in(
    make_user, settings, path
):
    user = make_user("ann@example.com", confirmed=True)
    user.is_staff = True  # So /admin/ would let the owner in.
    user.save()
    limit = settings.LOGIN_RATE_LIMIT["per_account_and_client"]
    attacker = Client()

    responses = [log_in(attacker, path, "ann@example.com", f"guess-{n}") for n in range(30)]

    throttled = [r for r in responses if "Too many login attempts" in r.text]
    assert len(throttled) == 30 - limit
    assert all("Too many login attempts" not in r.text for r in responses[:limit])
    if path == "/accounts/login/":
        assert [r.status_code for r in responses] == [200] * limit + [429] * (30 - limit)
    # Even the right password is refused while the account is throttled: the attacker
    # can't learn it by trying it late in the window.
    assert "_auth_user_id" not in attacker.session
    assert "Too many login attempts" in log_in(attacker, path, "ann@example.com", PASSWORD).text

    # Throttled, not locked: the stranger used up only their own share of the account's
    # budget, so the owner, from their own address, logs in as usual.
    owner = Client()
    response = log_in(owner, path, "ann@example.com", PASSWORD, client_ip=OWNER)
    assert response.status_code == 302
    assert owner.session["_auth_user_id"] == str(user.pk)


def test_one_client_guessing_many_accounts_is_throttled(make_user, settings):
    make_user("ann@example.com", confirmed=True)
    limit = settings.LOGIN_RATE_LIMIT["per_client"]
    attacker = Client()

    statuses = [
        log_in(attacker, "/accounts/login/", f"user{n}@example.com", "guess").status_code
        for n in range(limit + 1)
    ]

    assert statuses == [200] * limit + [429]
    # A spoofed X-Forwarded-For is not a new client: no proxy is configured.
    response = attacker.post(
        "/accounts/login/",
        {"username": "ann@example.com", "password": PASSWORD},
        REMOTE_ADDR=ATTACKER,
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert response.status_code == 429
    # Someone else still logs in meanwhile.
    owner = Client()
    assert log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER).status_code == 302


def test_guesses_from_many_clients_slow_the_account_until_the_owner_resets(
    make_user, settings, django_capture_on_commit_callbacks
):
    settings.LOGIN_RATE_LIMIT = {**settings.LOGIN_RATE_LIMIT, "per_account": 5}
    make_user("ann@example.com", confirmed=True)
    for n in range(5):  # One guess from each of five addresses: no client is over its limit.
        log_in(Client(), "/accounts/login/", "ann@example.com", "guess", f"203.0.113.{n}")
    owner = Client()
    assert log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER).status_code == 429

    with django_capture_on_commit_callbacks(execute=True):
        ask_for_reset(owner, "ann@example.com", OWNER)
    set_password(owner, reset_link(mail.outbox[-1]))

    response = log_in(Client(), "/accounts/login/", "ann@example.com", NEW_PASSWORD, OWNER)
    assert response.status_code == 302


def test_throttled_login_never_reaches_the_password_hasher(make_user, settings, hasher_calls):
    make_user("ann@example.com", confirmed=True)
    settings.LOGIN_RATE_LIMIT = {**settings.LOGIN_RATE_LIMIT, "per_account_and_client": 1}
    attacker = Client()
    log_in(attacker, reverse("accounts:login"), "ann@example.com", "first-guess")
    hasher_calls.clear()

    for path in ("/accounts/login/", "/admin/login/"):
        response = log_in(attacker, path, "ann@example.com", "another-guess")
        assert "Too many login attempts" in response.text

    assert hasher_calls == []


def test_unknown_and_known_addresses_cost_one_hash_each(make_user, hasher_calls):
    make_user("ann@example.com", confirmed=True)
    hasher_calls.clear()

    log_in(Client(), "/accounts/login/", "ann@example.com", "wrong-password")
    known = len(hasher_calls)
    log_in(Client(), "/accounts/login/", "nobody@example.com", "wrong-password")

    assert known == 1
    assert len(hasher_calls) == 2


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_address_logs_in_however_it_is_capitalised(make_user, path):
    user = make_user("ann@example.com", confirmed=True)
    user.is_staff = True
    user.save()

    response = log_in(Client(), path, " Ann@Example.COM ", PASSWORD, OWNER)

    assert response.status_code == 302


def test_an_ipv6_client_hopping_addresses_in_its_64_is_one_client(make_user, settings):
    make_user("ann@example.com", confirmed=True)
    limit = settings.LOGIN_RATE_LIMIT["per_client"]

    statuses = [
        log_in(
            Client(), "/accounts/login/", f"user{n}@example.com", "guess", f"2001:db8:1:2::{n:x}"
        ).status_code
        for n in range(limit + 1)
    ]

    assert statuses == [200] * limit + [429]
    # The next /64 is someone else.
    owner = Client()
    response = log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, "2001:db8:1:3::1")
    assert response.status_code == 302
