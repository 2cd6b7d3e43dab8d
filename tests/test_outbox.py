"""Nothing lost between the commit and the queue: mail asked for while the task engine is
down, or by a process that dies right after its commit, still goes out (worker/outbox.py)."""

import socket
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.db.models import F
from django.tasks import Task
from django.tasks.exceptions import InvalidTask
from django.urls import reverse
from django.utils import timezone

from accounts.tasks import send_confirmation_email
from config.settings.base import task_queues
from worker import outbox
from worker.models import OutboxTask
from worker.tasks import enqueue_outbox

from .conftest import run_tasks
from .engines import run_rq_worker, use_rq

pytestmark = pytest.mark.django_db(transaction=True)


def a_minute_passes():
    """Every recorded task is now older than the grace the minute job leaves the request."""
    OutboxTask.objects.update(created_at=F("created_at") - timedelta(minutes=1))


def engine_back(monkeypatch):
    """Undo the `engine_down` fixture's patch: .enqueue() reaches the engine again."""
    monkeypatch.undo()


def test_signup_while_the_task_engine_is_down_gets_its_mail_once_it_is_back(
    signup, engine_down, monkeypatch, caplog
):
    response = signup("ann@example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:check_inbox")
    assert mail.outbox == []
    assert "event=outbox_enqueue_failed task=accounts.tasks.send_confirmation_email" in caplog.text

    a_minute_passes()
    assert enqueue_outbox.call() == "enqueued 0"  # Still down: the mail waits.

    engine_back(monkeypatch)
    assert enqueue_outbox.call() == "enqueued 1"

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert message.subject == "Confirm your email address"


def test_signup_while_redis_is_down_gets_its_mail_once_it_is_back(signup, rq_backend, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    use_rq(settings, f"redis://127.0.0.1:{port}/15")  # Nothing listens there.

    response = signup("ann@example.com")

    assert response.status_code == 302
    use_rq(settings)  # Redis is back.
    a_minute_passes()
    assert enqueue_outbox.call() == "enqueued 1"
    run_rq_worker(task_queues)

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]


@pytest.mark.django_db(transaction=False)
def test_a_process_that_dies_right_after_the_signup_commits_still_sends_the_mail(
    signup, django_capture_on_commit_callbacks
):
    # The test's own transaction never commits, so the signup's after-commit callback is
    # kept, never run: what a process killed right after its commit leaves behind.
    with django_capture_on_commit_callbacks(execute=False) as never_run:
        response = signup("ann@example.com")

    assert response.status_code == 302
    assert len(never_run) == 1
    assert mail.outbox == []

    enqueue_outbox.call()
    assert mail.outbox == []  # The request that wrote it may still be enqueueing it.

    a_minute_passes()
    enqueue_outbox.call()

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]


def test_the_minute_job_sends_no_second_mail_for_a_signup_already_enqueued(signup):
    signup("ann@example.com")
    assert len(mail.outbox) == 1

    a_minute_passes()
    enqueue_outbox.call()
    enqueue_outbox.call()

    assert len(mail.outbox) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks to skip")
def test_the_minute_job_passes_over_a_task_the_request_is_enqueueing_right_now(make_user):
    user = make_user("ann@example.com")
    OutboxTask.objects.create(task_path=send_confirmation_email.module_path, args=[user.pk])
    a_minute_passes()
    locked, release = threading.Event(), threading.Event()

    def request_enqueueing():
        # The row's lock, held as a request holds it while it enqueues the task.
        try:
            with transaction.atomic():
                OutboxTask.objects.select_for_update().get()
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    request = threading.Thread(target=request_enqueueing)
    request.start()
    try:
        assert locked.wait(10)
        assert enqueue_outbox.call() == "enqueued 0"
    finally:
        release.set()
        request.join()
    assert mail.outbox == []

    # Had the request failed to enqueue it, the next minute's job does.
    assert enqueue_outbox.call() == "enqueued 1"
    assert len(mail.outbox) == 1


@pytest.mark.usefixtures("database_backend")
def test_inbox_page_says_waiting_for_a_worker_while_the_email_is_in_the_outbox(
    client, signup, engine_down, monkeypatch
):
    signup("ann@example.com")

    page = client.get(reverse("accounts:check_inbox"))
    assert page.status_code == 200
    assert "Confirmation email: <strong>Waiting for a worker</strong>" in page.text
    assert 'data-poll-url="/accounts/signup/done/status/"' in page.text

    engine_back(monkeypatch)
    a_minute_passes()
    enqueue_outbox.call()
    fragment = client.get(reverse("accounts:email_status")).text
    assert "Confirmation email: <strong>Waiting for a worker</strong>" in fragment  # Queued.

    run_tasks()

    fragment = client.get(reverse("accounts:email_status")).text
    assert "Confirmation email: <strong>Sent</strong>" in fragment
    assert "data-poll-url" not in fragment
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]


def test_a_task_renamed_since_it_was_recorded_does_not_hold_up_the_mail_behind_it(
    signup, engine_down, monkeypatch, caplog
):
    OutboxTask.objects.create(task_path="accounts.tasks.send_welcome_email", args=[1])
    signup("ann@example.com")
    engine_back(monkeypatch)
    a_minute_passes()

    assert enqueue_outbox.call() == "enqueued 1"

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert "task=accounts.tasks.send_welcome_email" in caplog.text


def test_a_task_the_engine_refuses_does_not_hold_up_the_mail_behind_it(
    signup, engine_down, monkeypatch, caplog
):
    OutboxTask.objects.create(task_path=send_confirmation_email.module_path, args=[-1])
    signup("ann@example.com")
    engine_back(monkeypatch)
    enqueue = Task.enqueue

    def refuse_the_first(task, *args, **kwargs):
        if args == (-1,):  # As for a task whose queue the backend no longer lists.
            raise InvalidTask("Queue 'email' is not valid for backend")
        return enqueue(task, *args, **kwargs)

    monkeypatch.setattr(Task, "enqueue", refuse_the_first)
    a_minute_passes()

    assert enqueue_outbox.call() == "enqueued 1"
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert "InvalidTask" in caplog.text
    # Logged every minute, but no reason for a health check to restart a worker.
    OutboxTask.objects.update(created_at=F("created_at") - timedelta(minutes=6))
    assert outbox.problems() == []


def test_enqueued_and_refused_tasks_are_pruned_after_the_retention_period_waiting_ones_kept(
    settings,
):
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    before, after = cutoff - timedelta(hours=1), cutoff + timedelta(hours=1)
    path = send_confirmation_email.module_path
    OutboxTask.objects.create(task_path=path, created_at=before, enqueued_at=before)
    OutboxTask.objects.create(task_path=path, created_at=before, last_error="ImportError")
    waiting = OutboxTask.objects.create(task_path=path, created_at=before)
    recent = OutboxTask.objects.create(task_path=path, created_at=before, enqueued_at=after)

    assert outbox.prune(cutoff) == 2

    assert set(OutboxTask.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}


def test_a_task_with_options_of_its_own_is_refused_rather_than_enqueued_without_them():
    with pytest.raises(ValueError, match=r"not task\.using\(\.\.\.\)"):
        outbox.enqueue_on_commit(send_confirmation_email.using(priority=10), 1)


def test_worker_health_reports_tasks_left_waiting_in_the_outbox(signup, engine_down):
    from django.core.management import CommandError, call_command

    signup("ann@example.com")
    OutboxTask.objects.update(created_at=F("created_at") - timedelta(minutes=6))

    with pytest.raises(CommandError, match="1 task.* waited in the outbox"):
        call_command("worker_health", "general")


def test_a_backlog_is_enqueued_in_order_a_share_per_run(tmp_path, monkeypatch):
    # What a long outage leaves: more rows than one read, more work than one minute.
    log = tmp_path / "runs.log"
    long_ago = timezone.now() - timedelta(hours=1)
    for number in range(5):
        OutboxTask.objects.create(
            task_path="tests.tasks.record", args=[number, str(log)], created_at=long_ago
        )
    monkeypatch.setattr(outbox, "BATCH", 2)
    ticks = iter(range(0, 10_000, 20))  # Each look at the clock finds 20 s gone.
    monkeypatch.setattr(outbox.time, "monotonic", lambda: next(ticks))

    runs = [int(enqueue_outbox.call().split()[1])]
    while runs[-1]:
        runs.append(int(enqueue_outbox.call().split()[1]))
    assert 0 < runs[0] < 5  # The time budget ended the first run, not the backlog.
    assert sum(runs) == 5
    assert log.read_text().split() == ["0", "1", "2", "3", "4"]
