"""Password reset: Django's views and forms, with the mail sent by a task after commit."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from worker import outbox

from .conftest import run_tasks

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-brand-new-passphrase"


def ask_for_reset(client, email, client_ip="192.0.2.1"):
    return client.post(reverse("accounts:password_reset"), {"email": email}, REMOTE_ADDR=client_ip)


def reset_link(message):
    return re.search(r"http://\S+/accounts/password-reset/\S+/\S+/", message.body).group(0)


def set_password(client, link, password=NEW_PASSWORD):
    """Follow the mailed link (which hides its token behind a redirect) and choose a password."""
    page = client.get(link, follow=True)
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def logs_in(email, password) -> bool:
    response = Client().post(reverse("accounts:login"), {"username": email, "password": password})
    return response.status_code == 302


def test_pages_label_their_fields(client, make_user):
    make_user("ann@example.com", confirmed=True)
    request_page = client.get(reverse("accounts:password_reset"))
    assert '<label for="id_email">Email</label>' in request_page.text

    ask_for_reset(client, "ann@example.com")
    form = client.get(reset_link(mail.outbox[0]), follow=True)

    assert '<label for="id_new_password1">New password</label>' in form.text
    assert '<label for="id_new_password2">New password confirmation</label>' in form.text


def test_reset_sets_the_password_and_the_old_one_stops_working(client, make_user):
    make_user("ann@example.com", confirmed=True)

    response = ask_for_reset(client, "Ann@Example.com")
    assert response["Location"] == reverse("accounts:password_reset_done")
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert message.subject == "Set a new password"
    assert reset_link(message) in message.alternatives[0][0]

    done = set_password(client, reset_link(message))

    assert done["Location"] == reverse("accounts:password_reset_complete")
    assert logs_in("ann@example.com", NEW_PASSWORD)
    assert not logs_in("ann@example.com", "correct-horse-battery-staple")


def test_unknown_address_gets_the_same_answer_and_no_mail(client, make_user):
    make_user("ann@example.com", confirmed=True)

    known = ask_for_reset(client, "ann@example.com")
    unknown = ask_for_reset(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert [message.to for message in mail.outbox] == [["ann@example.com"]]


def test_link_works_once(client, make_user):
    make_user("ann@example.com", confirmed=True)
    ask_for_reset(client, "ann@example.com")
    link = reset_link(mail.outbox[0])

    set_password(client, link)
    again = Client().get(link, follow=True)

    assert "This link doesn't work any more" in again.text
    assert 'name="new_password1"' not in again.text


def test_link_expires(client, make_user, monkeypatch, settings):
    make_user("ann@example.com", confirmed=True)
    ask_for_reset(client, "ann@example.com")
    link = reset_link(mail.outbox[0])

    later = datetime.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    response = Client().get(link, follow=True)

    assert "This link doesn't work any more" in response.text
    assert "Password links work once, for 1 hour" in response.text


def test_reset_logs_out_every_other_session(client, make_user):
    user = make_user("ann@example.com", confirmed=True)
    laptop = Client()
    laptop.force_login(user)
    assert laptop.get(reverse("accounts:profile")).status_code == 200

    ask_for_reset(client, "ann@example.com")
    set_password(client, reset_link(mail.outbox[0]))

    response = laptop.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_reset_confirms_an_unconfirmed_address(client, make_user):
    make_user("ann@example.com")

    ask_for_reset(client, "ann@example.com")
    set_password(client, reset_link(mail.outbox[0]))

    assert User.objects.get(email="ann@example.com").email_confirmed
    assert logs_in("ann@example.com", NEW_PASSWORD)


def test_reset_is_rate_limited_per_address_and_per_client(client, make_user, settings):
    make_user("ann@example.com", confirmed=True)
    limits = settings.RATE_LIMITS["password_reset"]

    per_address = [
        ask_for_reset(client, "ann@example.com", client_ip=f"192.0.2.{n}").status_code
        for n in range(limits["per_address"] + 1)
    ]
    per_client = [
        ask_for_reset(client, f"user{n}@example.com", client_ip="198.51.100.9").status_code
        for n in range(limits["per_client"] + 1)
    ]

    assert per_address == [302] * limits["per_address"] + [429]
    assert per_client == [302] * limits["per_client"] + [429]
    assert len(mail.outbox) == limits["per_address"]
    refused = ask_for_reset(client, "ann@example.com")
    assert "Too many requests. Please wait 1 hour" in refused.text


@pytest.mark.usefixtures("database_backend")
def test_reset_mail_is_a_task_on_the_email_queue_enqueued_on_commit(client, make_user):
    make_user("ann@example.com", confirmed=True)

    ask_for_reset(client, "ann@example.com")

    [row] = DBTaskResult.objects.all()
    assert row.task_path == "accounts.tasks.send_password_reset_email"
    assert row.queue_name == "email"
    assert mail.outbox == []  # The request didn't send it; the worker will.

    run_tasks()

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]


def test_with_the_task_engine_down_known_and_unknown_addresses_still_look_alike(
    client, make_user, engine_down, monkeypatch, caplog
):
    make_user("ann@example.com", confirmed=True)

    known = ask_for_reset(client, "ann@example.com", client_ip="192.0.2.1")
    unknown = ask_for_reset(client, "nobody@example.com", client_ip="192.0.2.2")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert "the task engine is down" in caplog.text
    assert mail.outbox == []

    monkeypatch.undo()  # The engine is back; the outbox's minute job sends the mail.
    outbox.drain(grace=timedelta(0))
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert message.subject == "Set a new password"
