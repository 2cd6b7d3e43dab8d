"""One codebase, every engine: the task modules import and run unchanged on each."""

import threading
from datetime import timedelta

import django_rq
import pytest
import redis
from django.conf import settings as django_settings
from django.core import mail
from django.tasks import Task, TaskResultStatus
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import Task as BackportTask
from django_tasks_db.models import DBTaskResult

from accounts.models import Profile, SearchEntry
from accounts.tasks import send_confirmation_email, update_search_entry
from config.settings.base import task_queues
from notifications.models import Delivery, Endpoint, Event
from notifications.tasks import deliver_webhook
from peers.receiver import SilentReceiver
from peers.smtp import SMTPServer
from worker import retries

from .conftest import run_tasks
from .engines import make_scheduled_jobs_due, run_rq_worker, use_rq
from .tasks import record

pytestmark = pytest.mark.django_db(transaction=True)

ENGINES = ["immediate", "database", "rq"]


@pytest.fixture(params=ENGINES)
def engine(request):
    """Switch TASKS to one engine; return a function that runs a worker on it."""
    if request.param == "database":
        request.getfixturevalue("database_backend")
        return run_tasks
    if request.param == "rq":
        request.getfixturevalue("rq_backend")
        return lambda: run_rq_worker(task_queues)
    return lambda: None  # ImmediateBackend ran each task inside .enqueue().


def test_the_three_task_modules_run_unchanged(engine, make_user, receiver):
    user = make_user("ann@example.com")
    Profile.objects.create(user=user, display_name="Ann")
    endpoint = Endpoint.objects.create(owner=user, url=receiver.url, events=[])
    delivery = Delivery.objects.create(
        endpoint=endpoint, event=Event.TEST, payload={}, next_attempt_at=timezone.now()
    )

    results = [
        send_confirmation_email.enqueue(user.pk),
        update_search_entry.enqueue(user.pk),
        deliver_webhook.enqueue(delivery.pk),
    ]
    engine()

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert SearchEntry.objects.get(user=user).display_name == "Ann"
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert len(receiver.received) == 1
    for result in results:
        if result.task.get_backend().supports_get_result:  # Immediate's are final already.
            result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL
    assert [result.return_value for result in results] == ["sent", "indexed", "delivered"]


def test_a_worker_takes_email_before_search_in_queue_order(rq_backend, make_user):
    indexed, waiting = make_user("a@example.com", confirmed=True), make_user("b@example.com")
    Profile.objects.create(user=indexed, display_name="Indexed")
    first = update_search_entry.enqueue(indexed.pk)
    second = send_confirmation_email.enqueue(waiting.pk)

    run_rq_worker(django_settings.WORKER_PROCESSES["general"]["queues"])

    first.refresh()
    second.refresh()
    # Enqueued last, run first: the worker lists the email queue before search.
    assert second.finished_at < first.started_at


def task_named_by(value):
    """The task a string setting names by its dotted path, or None."""
    if not isinstance(value, str) or "." not in value or " " in value:
        return None
    try:
        found = import_string(value)
    except (ImportError, ValueError):
        return None
    return found if isinstance(found, Task | BackportTask) else None


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from strings_in(item)


def test_no_setting_names_a_task_by_its_dotted_path():
    # A task renamed or moved would silently drop out of such a setting; what a task may
    # do is declared beside it instead (worker/policies.py).
    named = {
        name: value
        for name in dir(django_settings)
        if name.isupper()
        for value in strings_in(getattr(django_settings, name))
        if task_named_by(value) is not None
    }
    assert named == {}


@pytest.mark.parametrize("engine_name", ["database", "rq"])
def test_email_refused_twice_for_now_is_sent_on_the_third_attempt(
    request, engine_name, make_user, settings
):
    if engine_name == "database":
        request.getfixturevalue("database_backend")
        work, make_due = run_tasks, make_database_retries_due
    else:
        request.getfixturevalue("rq_backend")
        work, make_due = (
            lambda: run_rq_worker(task_queues),
            lambda: make_scheduled_jobs_due(task_queues),
        )
    user = make_user("ann@example.com")
    try_later = "451 4.3.0 Mailbox busy, try again later"
    with SMTPServer(refusals=[try_later, try_later]) as server:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 5},
            }
        }
        first = send_confirmation_email.enqueue(user.pk)
        for _ in range(3):
            work()
            make_due()

    assert [message["To"] for message in server.messages] == ["ann@example.com"]
    latest = send_confirmation_email.get_result(retries.latest_id(first.id))
    assert latest.status == TaskResultStatus.SUCCESSFUL
    assert retries.attempt_number(latest) == 3
    assert "451" in retries.reason_for_retry(latest.id)


def make_database_retries_due():
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


def test_a_redis_that_never_answers_fails_the_enqueue_instead_of_holding_it(settings):
    # A request enqueues inside its thread: a Redis that accepts and never answers must
    # not hold that web thread for ever. redis-py (8 and later) gives up after 5 s unless
    # REDIS_URL says otherwise (?socket_timeout=...); the resend and reset pages then log
    # the failure and answer as usual (test_resend.py, test_password_reset.py).
    outcome = []

    def enqueue():
        try:
            send_confirmation_email.enqueue(1)
        except Exception as error:  # whatever it is, it must come
            outcome.append(error)

    with SilentReceiver() as silent:
        use_rq(settings, f"redis://127.0.0.1:{silent.listener.getsockname()[1]}/0")
        request = threading.Thread(target=enqueue, daemon=True)
        request.start()
        request.join(timeout=30)

    assert outcome, "the enqueue is still waiting for Redis"
    assert isinstance(outcome[0], redis.TimeoutError)


def test_rq_never_makes_a_task_due_before_its_run_after(rq_backend):
    run_after = timezone.now().replace(microsecond=500_000) + timedelta(seconds=10)
    result = record.using(run_after=run_after).enqueue(1, "/dev/null")

    # RQ's scheduler enqueues what is due at the current whole second of its clock.
    registry = django_rq.get_queue(record.queue_name).scheduled_job_registry
    second_it_falls_in = int(run_after.timestamp())
    assert result.id not in registry.get_jobs_to_schedule(second_it_falls_in)
    assert result.id in registry.get_jobs_to_schedule(second_it_falls_in + 1)
