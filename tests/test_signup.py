import re

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from accounts.models import User

from .conftest import PASSWORD

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

    response = client.get(link, follow=True)

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
    # The confirmed owner gets nothing; the unconfirmed one gets a fresh link.
    assert sorted(message.to[0] for message in mail.outbox) == [
        "bob@example.com",
        "cat@example.com",
    ]
    assert not User.objects.get(email="bob@example.com").check_password("another-long-passphrase")


def test_signup_page_labels_its_fields(client):
    response = client.get(reverse("accounts:signup"))

    for label in ("Email", "Password", "Password confirmation"):
        assert re.search(rf"<label for=\"\w+\">{label}</label>", response.text)
