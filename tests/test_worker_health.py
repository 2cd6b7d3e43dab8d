"""`manage.py worker_health <process type>`: a container HEALTHCHECK for worker processes."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models.functions import Now
from django_tasks_db.models import DBTaskResult

from worker.heartbeat import HeartbeatThread, default_worker_id, new_process_id
from worker.models import Heartbeat

from . import tasks

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_backend")]


def beat(queues):
    worker_id = default_worker_id()
    process_id = new_process_id(worker_id)
    HeartbeatThread(worker_id, process_id, queues, threads=2).beat()
    return process_id


def test_health_needs_a_live_worker_of_that_process_type_on_this_host(settings):
    no_worker = f"No worker serving {','.join(settings.WORKER_PROCESSES['general']['queues'])} on "
    with pytest.raises(CommandError, match=no_worker):
        call_command("worker_health", "general")

    beat(settings.WORKER_PROCESSES["webhooks"]["queues"])
    call_command("worker_health", "webhooks")
    with pytest.raises(CommandError, match=no_worker):
        call_command("worker_health", "general")  # The webhooks process doesn't count.

    beat(settings.WORKER_PROCESSES["general"]["queues"])
    call_command("worker_health", "general")
    call_command("worker_health")  # Any process type.

    Heartbeat.objects.update(seen_at=Now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS))
    with pytest.raises(CommandError, match="No worker on .* has sent a heartbeat in 60 s"):
        call_command("worker_health")


def test_health_fails_on_a_task_stuck_for_days(settings, tmp_path):
    process_id = beat(settings.WORKER_PROCESSES["general"]["queues"])
    row = DBTaskResult.objects.get(pk=tasks.record.enqueue(1, str(tmp_path / "log")).id)
    row.claim(process_id)
    # More than a day: timedelta.seconds alone would report 3600.
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=Now() - timedelta(days=2, hours=1))

    with pytest.raises(CommandError, match=r"tests.tasks.record has been running for 1764\d\d s"):
        call_command("worker_health", "general")


def test_health_fails_when_ready_tasks_wait_too_long(settings, tmp_path):
    beat(settings.WORKER_PROCESSES["general"]["queues"])
    beat(settings.WORKER_PROCESSES["webhooks"]["queues"])
    late = tasks.record.enqueue(2, str(tmp_path / "log"))
    waited = timedelta(seconds=settings.WORKER_MAX_QUEUE_WAIT_SECONDS + 1)
    DBTaskResult.objects.filter(pk=late.id).update(enqueued_at=Now() - waited)

    with pytest.raises(CommandError, match="1 ready task"):
        call_command("worker_health", "general")
    call_command("worker_health", "webhooks")  # Not its queue.
