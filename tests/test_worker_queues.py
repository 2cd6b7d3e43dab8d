"""Queues and process types: defined once in settings, served in order, none forgotten."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.tasks import TaskResultStatus, task
from django.tasks.exceptions import InvalidTask
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.tasks import send_confirmation_email, update_search_entry
from worker.checks import (
    check_every_process_type_has_a_procfile_line,
    check_every_queue_is_served,
)
from worker.engines.database import ThreadedWorker

from . import tasks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]


def status_of(result_id):
    return DBTaskResult.objects.get(pk=result_id).status


def worker(settings, process_type="general"):
    return ThreadedWorker(
        queues=settings.WORKER_PROCESSES[process_type]["queues"],
        threads=1,
        process_id="test:1/0001",
        batch=True,
    )


def test_worker_takes_email_before_default_before_search(settings, make_user, tmp_path):
    user = make_user()
    index = update_search_entry.enqueue(user.pk)
    chore = tasks.record.enqueue(1, str(tmp_path / "log"))
    email = send_confirmation_email.enqueue(user.pk)

    taken = [str(claimed.pk) for _ in range(3) for claimed in worker(settings).claim(1)]

    assert taken == [email.id, chore.id, index.id]


def test_one_claim_takes_queues_in_order_then_priority_then_age(settings, make_user, tmp_path):
    user = make_user()
    log = str(tmp_path / "log")
    low = tasks.record.using(priority=-5).enqueue(1, log)
    older = tasks.record.enqueue(2, log)
    newer = tasks.record.enqueue(3, log)
    urgent = tasks.record.using(priority=10).enqueue(4, log)
    index = update_search_entry.enqueue(user.pk)
    email = send_confirmation_email.using(priority=-10).enqueue(user.pk)
    later = tasks.record.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(5, log)
    due = tasks.record.using(run_after=timezone.now() - timedelta(seconds=1)).enqueue(6, log)

    taken = [str(claimed.pk) for claimed in worker(settings).claim(10)]

    # A retry whose time has come goes before its priority's tasks that had none.
    assert taken == [email.id, urgent.id, due.id, older.id, newer.id, low.id, index.id]
    assert later.id not in taken
    # Taken means running, by this worker.
    assert {status_of(each) for each in taken} == {TaskResultStatus.RUNNING}


def test_a_claim_of_one_takes_the_highest_priority_of_the_retries_come_due(settings, tmp_path):
    log = str(tmp_path / "log")
    past = timezone.now() - timedelta(minutes=1)
    tasks.record.using(run_after=past - timedelta(minutes=1)).enqueue(1, log)
    urgent = tasks.record.using(run_after=past, priority=50).enqueue(2, log)
    tasks.record.enqueue(3, log)

    [taken] = worker(settings).claim(1)

    assert str(taken.pk) == urgent.id


def test_each_process_type_takes_only_its_own_queues(settings, make_user):
    user = make_user()
    email = send_confirmation_email.enqueue(user.pk)

    assert worker(settings, "webhooks").claim(5) == []
    assert [str(claimed.pk) for claimed in worker(settings).claim(5)] == [email.id]


def test_check_fails_when_no_process_type_serves_a_tasks_queue(settings):
    settings.WORKER_PROCESSES = {
        name: {**process, "queues": [q for q in process["queues"] if q != "search"]}
        for name, process in settings.WORKER_PROCESSES.items()
    }

    errors = check_every_queue_is_served(None)

    assert {error.id for error in errors} == {"worker.E001"}
    assert "accounts.tasks.update_search_entry uses queue 'search'" in errors[0].msg
    with pytest.raises(SystemCheckError, match="worker.E001"):
        call_command("check")


def test_check_fails_when_two_process_types_serve_one_queue(settings):
    settings.WORKER_PROCESSES = {
        **settings.WORKER_PROCESSES,
        "spare": {"queues": ["email"], "threads": 1},
    }

    assert [error.id for error in check_every_queue_is_served(None)] == ["worker.E002"]


def test_every_site_task_is_served_as_shipped():
    assert check_every_queue_is_served(None) == []


def test_every_process_type_has_its_line_in_each_procfile_as_shipped():
    assert check_every_process_type_has_a_procfile_line(None) == []


def test_check_fails_when_a_procfile_and_the_process_types_disagree(settings, tmp_path):
    (tmp_path / "Procfile").write_text(
        "web: gunicorn config.wsgi\n"
        "general: python manage.py runworker --reload --worker-id host-1 general\n"
        "mail: python manage.py runworker mail\n"
    )
    settings.BASE_DIR = tmp_path
    settings.WORKER_PROCESSES = {
        **settings.WORKER_PROCESSES,
        "reports": {"queues": ["reports"], "threads": 1},
    }

    errors = check_every_process_type_has_a_procfile_line(None)

    assert [(error.id, error.msg.split(",")[0]) for error in errors] == [
        ("worker.E003", "Procfile runs `runworker mail`"),
        (
            "worker.E004",
            "Process type 'reports' has no line in Procfile: nothing would run its queues.",
        ),
        (
            "worker.E004",
            "Process type 'webhooks' has no line in Procfile: nothing would run its queues.",
        ),
    ]


def test_runworker_refuses_an_unknown_process_type():
    with pytest.raises(CommandError, match="'mail' is not a process type"):
        call_command("runworker", "mail")


def test_a_task_on_an_unlisted_queue_fails_at_definition():
    with pytest.raises(InvalidTask, match="reports"):
        task(queue_name="reports")(tasks.record.func)
