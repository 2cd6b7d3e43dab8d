"""A paused queue on RQ: its workers leave its jobs in Redis until it is resumed."""

import django_rq
import pytest
from django.db import OperationalError
from django.tasks import TaskResultStatus
from django_tasks_rq import Job
from rq import SimpleWorker

from accounts.tasks import send_confirmation_email, update_search_entry
from config.settings.base import task_queues
from worker import pausing
from worker.engines.rq import Queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("rq_backend")]


def run_rq_worker_with_the_sites_queue_class():
    SimpleWorker(
        [django_rq.get_queue(name, job_class=Job, queue_class=Queue) for name in task_queues],
        connection=django_rq.get_connection(task_queues[0]),
        job_class=Job,
        queue_class=Queue,
    ).work(burst=True, logging_level="WARNING")


def test_an_rq_worker_leaves_a_paused_queue_alone_until_it_is_resumed(make_user, mailoutbox):
    user = make_user()
    pausing.pause("email")
    email = send_confirmation_email.enqueue(user.pk)
    index = update_search_entry.enqueue(user.pk)

    run_rq_worker_with_the_sites_queue_class()

    assert mailoutbox == []
    assert send_confirmation_email.get_result(email.id).status == TaskResultStatus.READY
    assert update_search_entry.get_result(index.id).status == TaskResultStatus.SUCCESSFUL

    pausing.resume("email")
    run_rq_worker_with_the_sites_queue_class()

    assert len(mailoutbox) == 1


def test_a_worker_keeps_the_last_paused_queues_while_the_database_is_away(monkeypatch):
    pausing.pause("email")
    assert pausing.recently_paused() == {"email"}
    monkeypatch.setattr(pausing, "REFRESH_SECONDS", 0)

    def unreachable():
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(pausing, "paused_queues", unreachable)

    assert pausing.recently_paused() == {"email"}


def test_a_worker_that_never_learned_the_paused_queues_takes_them_all_as_paused(
    monkeypatch, settings
):
    monkeypatch.setattr(pausing, "_known", (-pausing.REFRESH_SECONDS, None))

    def unreachable():
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr(pausing, "paused_queues", unreachable)

    assert pausing.recently_paused() == set(settings.TASKS["default"]["QUEUES"])


def test_looking_at_the_queues_leaves_a_dead_workers_job_to_the_workers(make_user):
    from worker.engines import rq

    job_id = send_confirmation_email.enqueue(make_user().pk).id
    queue = django_rq.get_queue("email", job_class=Job, queue_class=Queue)
    job = Job.fetch(job_id, connection=queue.connection)
    queue.remove(job)
    # Started by a worker that is gone: its entry in the started registry has expired.
    queue.connection.zadd(queue.started_job_registry.key, {job_id: 1})

    [stats] = rq.queue_stats(["email"])

    assert stats.running == 1
    assert queue.started_job_registry.get_job_count(cleanup=False) == 1
    assert Job.fetch(job_id, connection=queue.connection).get_status() != "failed"
