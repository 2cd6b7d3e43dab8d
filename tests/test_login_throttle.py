"""Password guessing, tried as an attacker would: at the site's login and at /admin/, and
from many addresses at once against the owner's known device."""

import hashlib
import time

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from accounts.devices import COOKIE_NAME, KNOWN_DEVICE_COOKIE_AGE, account_hash
from accounts.tokens import make_token
from safeguards import clients

from .conftest import PASSWORD, change_rate_limit
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
    limit = settings.RATE_LIMITS["login"]["per_account_and_client"]
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
    limit = settings.RATE_LIMITS["login"]["per_client"]
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
    change_rate_limit(settings, "login", per_account=5)
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
    change_rate_limit(settings, "login", per_account_and_client=1)
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
    limit = settings.RATE_LIMITS["login"]["per_client"]

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


def fill_account_cap(email, settings):
    """Spend an account's whole budget the way a spread-out guesser does: each address
    stays within its own share, so no per-client limit ever stops them."""
    limits = settings.RATE_LIMITS["login"]
    share = limits["per_account_and_client"]
    for n in range(limits["per_account"] // share):
        guesser = Client()
        for _ in range(share):
            log_in(guesser, "/accounts/login/", email, "guess", f"203.0.113.{n}")


def test_the_owner_on_a_known_device_gets_in_while_many_addresses_fill_the_account_cap(
    make_user, settings
):
    user = make_user("ann@example.com", confirmed=True)
    owner = Client()
    assert log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER).status_code == 302
    owner.post("/accounts/logout/")

    # Ten addresses, ten guesses each: the account-wide cap (100) is full.
    fill_account_cap("ann@example.com", settings)

    # From a browser that never logged in, even the owner's address is throttled...
    response = log_in(Client(), "/accounts/login/", "ann@example.com", PASSWORD, OWNER)
    assert response.status_code == 429
    # ...but the browser the owner logged in with before still gets in.
    response = log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER)
    assert response.status_code == 302
    assert owner.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize("way", ["admin login", "confirmation page", "password reset"])
def test_every_way_of_proving_the_password_makes_the_browser_a_known_device(
    make_user, settings, django_capture_on_commit_callbacks, way
):
    change_rate_limit(settings, "login", per_account=20)
    user = make_user("ann@example.com", confirmed=way != "confirmation page")
    user.is_staff = True
    user.save()
    owner, password = Client(), PASSWORD
    if way == "admin login":
        assert log_in(owner, "/admin/login/", "ann@example.com", PASSWORD, OWNER).status_code == 302
    elif way == "confirmation page":
        token = make_token(user)
        response = owner.post(
            f"/accounts/confirm/{token}/", {"password": PASSWORD}, REMOTE_ADDR=OWNER
        )
        assert response.status_code == 302
    else:
        with django_capture_on_commit_callbacks(execute=True):
            ask_for_reset(owner, "ann@example.com", OWNER)
        assert set_password(owner, reset_link(mail.outbox[-1])).status_code == 302
        password = NEW_PASSWORD
    owner.post("/accounts/logout/")

    fill_account_cap("ann@example.com", settings)

    assert (
        log_in(Client(), "/accounts/login/", "ann@example.com", password, OWNER).status_code == 429
    )
    assert log_in(owner, "/accounts/login/", "ann@example.com", password, OWNER).status_code == 302


def test_a_wrong_password_makes_no_known_device(make_user, settings):
    make_user("ann@example.com", confirmed=True)
    guesser = Client()

    response = log_in(guesser, "/accounts/login/", "ann@example.com", "guess", OWNER)

    assert COOKIE_NAME not in response.cookies
    fill_account_cap("ann@example.com", settings)
    assert (
        log_in(guesser, "/accounts/login/", "ann@example.com", PASSWORD, OWNER).status_code == 429
    )


def test_the_known_device_cookie_is_hidden_from_scripts_and_outlives_logout(make_user, settings):
    make_user("ann@example.com", confirmed=True)
    owner = Client()

    cookie = log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER).cookies[
        COOKIE_NAME
    ]

    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == KNOWN_DEVICE_COOKIE_AGE
    assert "ann@example.com" not in cookie.value
    assert not cookie["secure"]  # Tests run over plain HTTP, like development.
    # Logging out ends the session, not the browser's standing as a known device.
    assert COOKIE_NAME not in owner.post("/accounts/logout/").cookies
    assert owner.cookies[COOKIE_NAME].value == cookie.value
    # Production sends the session cookie over HTTPS only, and this one with it.
    settings.SESSION_COOKIE_SECURE = True
    response = log_in(Client(), "/accounts/login/", "ann@example.com", PASSWORD, OWNER)
    assert response.cookies[COOKIE_NAME]["secure"]


def test_a_cookie_for_another_account_or_a_forged_one_exempts_nothing(make_user, settings):
    make_user("ann@example.com", confirmed=True)
    make_user("mallory@example.com", confirmed=True)
    # The attacker logs in to an account of their own: a genuine cookie, for Mallory.
    attacker = Client()
    assert log_in(attacker, "/accounts/login/", "mallory@example.com", PASSWORD).status_code == 302
    own = attacker.cookies[COOKIE_NAME].value
    # ...and, having read this code, puts Ann's hash where Mallory's was.
    _, timestamp, signature = own.split(":")
    forged = f"{account_hash('ann@example.com')}:{timestamp}:{signature}"
    fill_account_cap("ann@example.com", settings)

    for n, cookie in enumerate([own, forged, "garbage", ""]):
        client = Client()
        client.cookies[COOKIE_NAME] = cookie
        response = log_in(client, "/accounts/login/", "ann@example.com", PASSWORD, f"192.0.2.{n}")
        assert response.status_code == 429


def test_a_known_device_is_forgotten_after_the_cookie_age(make_user, settings, monkeypatch):
    make_user("ann@example.com", confirmed=True)
    owner = Client()
    long_ago = time.time() - KNOWN_DEVICE_COOKIE_AGE - 1
    monkeypatch.setattr(signing.time, "time", lambda: long_ago)
    assert log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER).status_code == 302
    monkeypatch.undo()
    owner.post("/accounts/logout/")

    fill_account_cap("ann@example.com", settings)

    assert log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER).status_code == 429


def test_a_known_device_still_has_only_one_clients_share_of_guesses(make_user, settings):
    make_user("ann@example.com", confirmed=True)
    owner = Client()
    log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER)
    thief = Client()  # Has copied the owner's cookie.
    thief.cookies[COOKIE_NAME] = owner.cookies[COOKIE_NAME].value
    share = settings.RATE_LIMITS["login"]["per_account_and_client"]

    statuses = [
        log_in(thief, "/accounts/login/", "ann@example.com", f"guess-{n}").status_code
        for n in range(share + 1)
    ]

    assert statuses == [200] * share + [429]


def test_a_copied_cookie_is_one_device_wherever_it_is_used_from(make_user, settings):
    make_user("ann@example.com", confirmed=True)
    owner = Client()
    log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER)
    cookie = owner.cookies[COOKIE_NAME].value
    fill_account_cap("ann@example.com", settings)
    share = settings.RATE_LIMITS["login"]["per_known_device"]

    statuses = []
    for n in range(2 * share):  # One guess from each of many addresses, with the cookie.
        thief = Client()
        thief.cookies[COOKIE_NAME] = cookie
        statuses.append(
            log_in(
                thief, "/accounts/login/", "ann@example.com", "guess", f"192.0.2.{n}"
            ).status_code
        )

    # One client's share in all, then the account-wide cap, which the guessers filled.
    assert statuses == [200] * share + [429] * share


def test_the_known_device_cookie_does_not_confirm_a_guessed_address(make_user):
    make_user("ann@example.com", confirmed=True)
    owner = Client()
    log_in(owner, "/accounts/login/", "ann@example.com", PASSWORD, OWNER)

    cookie = owner.cookies[COOKIE_NAME].value
    assert "ann@example.com" not in cookie
    assert hashlib.sha256(b"ann@example.com").hexdigest() not in cookie


@pytest.mark.parametrize(
    "entries",
    [
        [f"198.51.100.7:{port}" for port in range(40000, 40031)],
        [f"[2001:db8:1:2::7]:{port}" for port in range(40000, 40031)],
        [f"not-an-address-{n}" for n in range(31)],
    ],
)
def test_a_proxy_entry_with_a_port_or_no_address_is_not_a_new_client_each_time(
    make_user, settings, entries
):
    settings.TRUSTED_PROXY_COUNT = 1
    limit = settings.RATE_LIMITS["login"]["per_client"]

    statuses = [
        Client()
        .post(
            "/accounts/login/",
            {"username": f"user{n}@example.com", "password": "guess"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=entry,
        )
        .status_code
        for n, entry in enumerate(entries)
    ]

    assert statuses == [200] * limit + [429]


@pytest.fixture
def proxy_warning(caplog):
    """The warnings about an unconfigured proxy logged during the test."""
    clients._warn_once.cache_clear()
    yield lambda: [r for r in caplog.records if "TRUSTED_PROXY_COUNT is 0" in r.getMessage()]
    clients._warn_once.cache_clear()


def log_in_through(client, forwarded_for, remote_addr):
    client.post(
        reverse("accounts:login"),
        {"username": "someone@example.com", "password": "wrong"},
        HTTP_X_FORWARDED_FOR=forwarded_for,
        REMOTE_ADDR=remote_addr,
    )


def test_a_site_behind_a_proxy_it_does_not_trust_says_so_once(client, settings, proxy_warning):
    # Behind a router with the count left at 0, every visitor is the router: the log is
    # where the operator learns why one stranger's guesses stopped everyone's logins.
    settings.TRUSTED_PROXY_COUNT = 0
    log_in_through(client, "198.51.100.7", "10.0.0.3")
    log_in_through(client, "198.51.100.8", "10.0.0.3")

    assert len(proxy_warning()) == 1


def test_no_proxy_warning_for_a_stranger_sending_the_header_or_a_counted_proxy(
    client, settings, proxy_warning
):
    settings.TRUSTED_PROXY_COUNT = 0
    # A public address sending the header itself (Python counts the documentation
    # ranges as private, so this is a real one).
    log_in_through(client, "10.0.0.1", "93.184.216.34")
    settings.TRUSTED_PROXY_COUNT = 1
    log_in_through(client, "198.51.100.7", "10.0.0.3")

    assert proxy_warning() == []
