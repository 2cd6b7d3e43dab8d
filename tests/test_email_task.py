"""The confirmation email as a task: its guarantees, and the production path via db_worker."""

import re
import socket
import ssl

import pytest
import redis
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import OperationalError
from django.tasks import Task, TaskResultStatus
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.mail import reason_to_show
from accounts.tasks import send_confirmation_email
from config.settings.base import task_queues
from peers.smtp import SMTPServer
from worker.models import Retry

from .conftest import PASSWORD, run_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_task_is_safe_to_run_twice(make_user):
    user = make_user()

    assert send_confirmation_email.call(user.pk) == "sent"
    user.confirm_email()
    assert send_confirmation_email.call(user.pk) == "skipped: already confirmed"

    assert len(mail.outbox) == 1


def test_task_run_twice_before_confirmation_sends_two_links_and_either_confirms(client, make_user):
    # At least once means sometimes twice (a worker killed after sending): the member
    # gets two mails, and whichever link they click works, once.
    user = make_user()
    assert send_confirmation_email.call(user.pk) == "sent"
    assert send_confirmation_email.call(user.pk) == "sent"

    first, second = (
        re.search(r"/accounts/confirm/[^/\s]+/", message.body)[0] for message in mail.outbox
    )
    assert client.get(second).status_code == 200
    assert client.post(first, {"password": PASSWORD}).status_code == 302
    user.refresh_from_db()
    assert user.email_confirmed
    assert "This link has already been used" in client.post(second, {"password": PASSWORD}).text


def test_task_skips_deleted_and_deactivated_users(make_user):
    user = make_user()
    user.is_active = False
    user.save()

    assert send_confirmation_email.call(user.pk) == "skipped: no active user"
    assert send_confirmation_email.call(user.pk + 1000) == "skipped: no active user"
    assert mail.outbox == []


@pytest.mark.usefixtures("database_backend")
def test_signup_leaves_a_task_for_the_worker_which_sends_the_email(client, signup):
    signup("ann@example.com")

    [row] = DBTaskResult.objects.all()
    assert row.status == TaskResultStatus.READY
    assert row.task_path == "accounts.tasks.send_confirmation_email"
    assert row.queue_name == "email"
    assert mail.outbox == []

    run_tasks()

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    result = send_confirmation_email.get_result(str(row.id))
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "sent"


@pytest.mark.usefixtures("database_backend")
def test_inbox_page_follows_the_email_task_until_it_is_sent(client, signup):
    signup("ann@example.com")

    page = client.get(reverse("accounts:check_inbox"))
    assert "Confirmation email: <strong>Waiting for a worker</strong>" in page.text
    assert 'data-poll-url="/accounts/signup/done/status/"' in page.text

    run_tasks()

    fragment = client.get(reverse("accounts:email_status"))
    assert fragment.text.strip().startswith('<p id="email-status"')
    assert "<html" not in fragment.text
    assert "Confirmation email: <strong>Sent</strong>" in fragment.text
    assert "data-poll-url" not in fragment.text


@pytest.mark.usefixtures("database_backend")
def test_status_page_tells_a_stranger_nothing_about_who_has_an_account(make_user):
    make_user("taken@example.com", confirmed=True)
    make_user("pending@example.com")

    def watch_signup(email):
        """What a stranger sees: the status fragment before and after the worker runs,
        and which task ran, on which queue."""
        visitor = Client()
        visitor.post(
            reverse("accounts:signup"),
            {"email": email, "password1": PASSWORD, "password2": PASSWORD},
        )
        before = visitor.get(reverse("accounts:email_status")).text
        [row] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        run_tasks()
        after = visitor.get(reverse("accounts:email_status")).text
        return before, after, row.task_path, row.queue_name

    seen = {
        email: watch_signup(email)
        for email in ("new@example.com", "taken@example.com", "pending@example.com")
    }

    assert seen["taken@example.com"] == seen["new@example.com"] == seen["pending@example.com"]
    before, after, task_path, queue = seen["new@example.com"]
    assert "<strong>Waiting for a worker</strong>" in before
    assert "<strong>Sent</strong>" in after
    assert task_path == "accounts.tasks.send_confirmation_email"
    # The owner of the taken address hears about the attempt.
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects["taken@example.com"] == "Someone tried to sign up with your address"
    assert subjects["new@example.com"] == "Confirm your email address"


def smtp_at(settings, port):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


def make_retries_due():
    """Let the retries waiting for their backoff run now, as if the wait were over."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


class BrokenMailer(BaseEmailBackend):
    """Fails the way a misconfigured site does, with our own infrastructure in the text."""

    error: Exception

    def send_messages(self, email_messages):
        raise BrokenMailer.error


@pytest.mark.usefixtures("database_backend")
@pytest.mark.parametrize(
    "error, label",
    [
        # An OSError: retried, so the page says Retrying and why.
        (ssl.SSLCertVerificationError("certificate is not valid for 'smtp.internal.example'"),
         "Retrying"),
        # Anything else: failed at once.
        (RuntimeError('connection to server at "10.0.0.5", port 5432 failed'), "Failed"),
    ],
)  # fmt: skip
def test_inbox_page_never_shows_our_own_error_text(client, signup, settings, error, label):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.BrokenMailer"}}
    BrokenMailer.error = error
    signup("ann@example.com")

    run_tasks()

    fragment = client.get(reverse("accounts:email_status")).text
    assert f"Confirmation email: <strong>{label}</strong>" in fragment
    assert "a problem on our side" in fragment
    assert "internal.example" not in fragment and "10.0.0.5" not in fragment


@pytest.mark.usefixtures("database_backend")
def test_inbox_page_shows_a_failed_email(client, signup, settings):
    # A permanent refusal (5xx): sending again would get the same answer, so no retry.
    with SMTPServer(refusals=["550 5.1.1 No such user here"]) as server:
        smtp_at(settings, server.port)
        signup("ann@example.com")

        run_tasks()

    fragment = client.get(reverse("accounts:email_status"))
    assert "Confirmation email: <strong>Failed</strong>" in fragment.text
    assert reverse("accounts:resend") in fragment.text
    assert "data-poll-url" not in fragment.text
    assert "550" in fragment.text and "No such user here" in fragment.text
    assert server.messages == []
    assert not DBTaskResult.objects.filter(status="READY").exists()  # Not retried.


@pytest.mark.usefixtures("database_backend")
def test_email_refused_twice_for_now_is_sent_on_the_third_attempt(client, signup, settings):
    try_later = "452 4.2.2 Mailbox full, try again later"
    with SMTPServer(refusals=[try_later, try_later]) as server:
        smtp_at(settings, server.port)
        signup("ann@example.com")

        run_tasks()
        fragment = client.get(reverse("accounts:email_status")).text
        assert "Confirmation email: <strong>Retrying</strong>" in fragment
        assert "452 4.2.2 Mailbox full" in fragment
        assert "data-poll-url" in fragment  # The page keeps following the email.
        # The retry waits its backoff: a worker pass now runs nothing.
        run_tasks()
        assert server.messages == []

        make_retries_due()
        run_tasks()
        assert "<strong>Retrying</strong>" in client.get(reverse("accounts:email_status")).text

        make_retries_due()
        run_tasks()

    [message] = server.messages
    assert message["To"] == "ann@example.com"
    fragment = client.get(reverse("accounts:email_status")).text
    assert "Confirmation email: <strong>Sent</strong>" in fragment
    assert "data-poll-url" not in fragment
    assert DBTaskResult.objects.filter(status="FAILED").count() == 2


def fails_once(error, then):
    """A stand-in that raises `error` the first time it is called, then calls `then`."""
    calls = []

    def call(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise error
        return then(*args, **kwargs)

    return call


@pytest.mark.usefixtures("database_backend")
def test_email_cut_off_by_a_database_restart_is_sent_by_a_retry(signup, monkeypatch):
    from accounts import tasks

    signup("ann@example.com")
    shutting_down = OperationalError("the database system is shutting down")
    monkeypatch.setattr(tasks, "send_email", fails_once(shutting_down, tasks.send_email))
    run_tasks()
    assert mail.outbox == []
    assert DBTaskResult.objects.filter(status="READY").exists()  # A retry, waiting its turn.

    make_retries_due()
    run_tasks()
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]


def run_db_worker():
    """django-tasks-db's own db_worker, batched. Its failures send task_finished outside
    any transaction, as RQ's worker does: the path where a retry waits out an outage."""
    call_command("db_worker", queue_name=",".join(task_queues), batch=True, verbosity=0)


@pytest.mark.usefixtures("database_backend")
@pytest.mark.parametrize("blinks", ["the database", "the task engine"])
def test_a_retry_is_recorded_when_its_bookkeeping_meets_an_outage(
    signup, settings, monkeypatch, blinks
):
    with SMTPServer(refusals=["451 4.3.0 Try again later"]) as server:
        smtp_at(settings, server.port)
        signup("ann@example.com")
        if blinks == "the database":
            lost = OperationalError("server closed the connection unexpectedly")
            monkeypatch.setattr(Retry.objects, "create", fails_once(lost, Retry.objects.create))
        else:
            lost = redis.exceptions.ConnectionError("Connection refused")
            monkeypatch.setattr(Task, "enqueue", fails_once(lost, Task.enqueue))
        run_db_worker()
        assert Retry.objects.count() == 1

        make_retries_due()
        run_db_worker()
    [message] = server.messages
    assert message["To"] == "ann@example.com"


@pytest.mark.usefixtures("database_backend")
def test_a_failure_whose_retry_cannot_be_recorded_is_left_for_recovery(
    signup, settings, monkeypatch
):
    from worker import recovery
    from worker.engines.database import ThreadedWorker

    with SMTPServer(refusals=["451 4.3.0 Try again later"]) as server:
        smtp_at(settings, server.port)
        signup("ann@example.com")
        lost = OperationalError("server closed the connection unexpectedly")
        monkeypatch.setattr(Retry.objects, "create", fails_once(lost, Retry.objects.create))
        worker = ThreadedWorker(queues=task_queues, threads=1, process_id="host:1/a", batch=True)
        [claimed] = worker.claim(1)
        # The database goes away between the failure and its retry: neither is written.
        with pytest.raises(OperationalError):
            worker.run_task(claimed)
        assert DBTaskResult.objects.get(pk=claimed.pk).status == TaskResultStatus.RUNNING

        assert recovery.recover(claimed.pk)  # Once the database is back.
        make_retries_due()
        run_tasks()
    [message] = server.messages
    assert message["To"] == "ann@example.com"


@pytest.mark.usefixtures("database_backend")
def test_email_retries_wait_longer_each_time_and_stop(signup, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    smtp_at(settings, port)  # Nothing listens there: every connection is refused.
    signup("ann@example.com")

    waits = []
    for _ in range(10):
        run_tasks()
        ready = DBTaskResult.objects.filter(status="READY").first()
        if ready is None:
            break
        waits.append((ready.run_after - ready.enqueued_at).total_seconds())
        make_retries_due()

    # 10 s, 1 min, 5 min, 30 min, 2 h, each give or take the jitter; then it gives up.
    assert len(waits) == 5
    for wait, planned in zip(waits, [10, 60, 300, 1800, 7200], strict=True):
        assert planned * 0.79 <= wait <= planned * 1.21
    assert DBTaskResult.objects.filter(status="FAILED").count() == 6


@pytest.mark.usefixtures("database_backend")
def test_other_visitors_cannot_see_the_email_task(client, signup):
    signup("ann@example.com")

    stranger = Client()
    fragment = stranger.get(reverse("accounts:email_status"))

    assert fragment.status_code == 200
    assert "Confirmation email" not in fragment.text
    # While the visitor who signed up does see it.
    assert "Confirmation email" in client.get(reverse("accounts:email_status")).text


def test_development_mail_file_has_a_clickable_link(make_user, settings, tmp_path):
    settings.MAILERS = {
        "default": {
            "BACKEND": "config.mail.ReadableFileEmailBackend",
            "OPTIONS": {"file_path": tmp_path},
        }
    }
    user = make_user()

    send_confirmation_email.call(user.pk)

    [mail_file] = tmp_path.iterdir()
    text = mail_file.read_text()
    link = re.search(r"http://\S+/accounts/confirm/\S+/$", text, re.MULTILINE).group(0)
    assert "=\n" not in link
    assert Client().post(link, {"password": PASSWORD}).status_code == 302


def test_confirmation_email_goes_out_over_smtp(make_user, settings):
    user = make_user()
    with SMTPServer() as server:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 5},
            }
        }
        send_confirmation_email.call(user.pk)

    [message] = server.messages
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Confirm your email address"
    text = message.get_body(("plain",)).get_content()
    assert "/accounts/confirm/" in text
    assert message.get_body(("html",)) is not None


@pytest.mark.parametrize(
    "error",
    [
        "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')",
        "smtplib.SMTPSenderRefused: (553, b'sender rejected', 'noreply@example.com')",
        "SMTPServerDisconnected: (421, 'smtp-relay.internal.example closing')",
        "ConnectionRefusedError: (111, 'Connection refused to db.internal:5432')",
        # Refused at RCPT, but for our client host, our sender or relaying, not the address.
        "SMTPRecipientsRefused: {'a@example.com': (554, b'5.7.1 <unknown[10.0.3.7]>: Client "
        "host rejected: Access denied')}",
        "SMTPRecipientsRefused: {'a@example.com': (554, b'5.7.1 <a@example.com>: Relay access "
        "denied')}",
        "SMTPRecipientsRefused: {'a@example.com': (550, b'Sender verify failed')}",
    ],
)
def test_only_the_servers_refusal_of_the_address_is_shown(error):
    # Mail servers answer about our own set-up too: those answers are ours to read.
    assert reason_to_show(error) == "a problem on our side"
    refused = "smtplib.SMTPRecipientsRefused: {'ann@exmaple.com': (550, b'5.1.1 No such user')}"
    assert reason_to_show(refused) == "550 5.1.1 No such user"
    assert reason_to_show(refused.removeprefix("smtplib.")) == "550 5.1.1 No such user"
