"""Property-based tests: whatever a visitor sends, the site answers with a clear message,
never a 500, and never leaves a half-written record behind."""

import json
import socket
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Profile, User
from notifications.models import Endpoint, Event

pytestmark = pytest.mark.django_db

examples = settings(
    max_examples=60,
    deadline=None,
    # The same examples on every run, so CI is never red by luck; change a test (or raise
    # max_examples locally) to explore new inputs.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as browsers and scripts send it: any Unicode, NUL bytes included, sometimes long.
anything = st.text(max_size=300) | st.text(
    alphabet=st.characters(codec="utf-8"), min_size=250, max_size=400
)
emailish = st.emails().map(str) | anything


@contextmanager
def isolated():
    """Each example starts from the same database and cache as the first."""
    cache.clear()
    savepoint = transaction.savepoint_create()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)


def assert_handled(response, *allowed):
    assert response.status_code in allowed, response.status_code
    if response.status_code == 200 and response.request["REQUEST_METHOD"] == "POST":
        assert 'class="errorlist' in response.text or 'role="alert"' in response.text


@examples
@given(email=emailish, password1=anything, password2=anything)
def test_signup_input(client, email, password1, password2):
    with isolated():
        users = User.objects.count()
        response = client.post(
            reverse("accounts:signup"),
            {"email": email, "password1": password1, "password2": password2},
        )
        assert_handled(response, 200, 302)
        assert User.objects.count() == users + (response.status_code == 302)


@examples
@given(username=emailish, password=anything)
def test_login_input(client, make_user, username, password):
    with isolated():
        make_user("ann@example.com", confirmed=True)  # A real account to guess at.
        response = client.post(
            reverse("accounts:login"), {"username": username, "password": password}
        )
        assert_handled(response, 200)
        assert "_auth_user_id" not in client.session


@examples
@given(email=emailish)
def test_resend_input(client, email):
    with isolated():
        response = client.post(reverse("accounts:resend"), {"email": email})
        assert response.status_code in (200, 429)
        assert "errorlist" in response.text or "new link is on its way" in response.text


@examples
@given(token=st.text(min_size=1, max_size=400))
def test_confirmation_token_input(client, token):
    with isolated():
        response = client.get("/accounts/confirm/" + quote(token, safe="") + "/")
        assert response.status_code in (200, 400, 404)
        if response.status_code == 400:
            assert "Ask for a new email" in response.text


@examples
@given(display_name=anything, headline=anything, bio=st.text(max_size=2500), location=anything)
def test_profile_input(client, member, display_name, headline, bio, location):
    with isolated():
        before = list(Profile.objects.values())
        response = client.post(
            reverse("accounts:profile"),
            {"display_name": display_name, "headline": headline, "bio": bio, "location": location},
        )
        assert_handled(response, 200, 302)
        if response.status_code == 200:
            assert list(Profile.objects.values()) == before


@examples
@given(query=anything, page=anything)
def test_search_query_input(client, member, query, page):
    with isolated():
        response = client.get(reverse("people"), {"q": query, "page": page})
        assert response.status_code in (200, 404)


@examples
@given(password=anything)
def test_confirmation_page_input(client, make_user, password):
    from accounts.tokens import make_token

    with isolated():
        user = make_user("ann@example.com")
        response = client.post(
            reverse("accounts:confirm", kwargs={"token": make_token(user)}), {"password": password}
        )
        assert_handled(response, 200, 302, 429)
        user.refresh_from_db()
        assert user.email_confirmed == (response.status_code == 302)


@examples
@given(email=emailish)
def test_password_reset_request_input(client, email):
    with isolated():
        response = client.post(reverse("accounts:password_reset"), {"email": email})
        assert_handled(response, 200, 302, 429)


@examples
@given(uid=st.text(min_size=1, max_size=50), token=st.text(min_size=1, max_size=100))
def test_password_reset_token_input(client, make_user, uid, token):
    with isolated():
        make_user("ann@example.com", confirmed=True)
        path = f"/accounts/password-reset/{quote(uid, safe='')}/{quote(token, safe='')}/"
        response = client.get(path, follow=True)
        assert response.status_code in (200, 404)
        if response.status_code == 200:
            assert "This link doesn't work any more" in response.text


@examples
@given(password1=anything, password2=anything)
def test_set_password_input(client, make_user, password1, password2):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.http import urlsafe_base64_encode

    with isolated():
        user = make_user("ann@example.com", confirmed=True)
        uid = urlsafe_base64_encode(str(user.pk).encode())
        link = f"/accounts/password-reset/{uid}/{default_token_generator.make_token(user)}/"
        form_url = client.get(link)["Location"]
        response = client.post(form_url, {"new_password1": password1, "new_password2": password2})
        assert_handled(response, 200, 302)
        user.refresh_from_db()
        assert user.check_password(password1) == (response.status_code == 302)


@pytest.fixture
def no_dns(monkeypatch):
    """Names don't resolve here, so generated host names fail fast instead of timing out."""
    real = socket.getaddrinfo

    def resolve_literals_only(host, *args, **kwargs):
        try:
            return real(host, *args, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(socket, "getaddrinfo", resolve_literals_only)


@examples
@given(
    url=st.from_regex(r"\Ahttps?://[^\s]{0,60}\Z") | anything,
    events=st.lists(st.sampled_from([e.value for e in Event] + ["nope", ""]), max_size=4),
)
def test_webhook_registration_input(client, member, no_dns, url, events):
    with isolated():
        response = client.post(
            reverse("notifications:endpoints"), {"url": url, "events": events, "is_active": "on"}
        )
        assert_handled(response, 200, 302)
        assert Endpoint.objects.count() == (response.status_code == 302)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@examples
@given(
    body=st.binary(max_size=2000)
    | json_values.map(lambda value: json.dumps(value).encode())
    | json_values.map(lambda value: json.dumps({"csp-report": value}).encode())
)
def test_csp_report_input(client, body):
    with isolated():
        response = client.generic(
            "POST", reverse("csp_report"), body, content_type="application/csp-report"
        )
        assert response.status_code in (204, 400, 413)
