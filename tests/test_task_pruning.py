"""Old task results are pruned: they are an execution log, not the record of what happened."""

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tasks_rq import Job

from worker.heartbeat import HeartbeatThread
from worker.models import Heartbeat, Recovery, Retry
from worker.tasks import prune_task_results, recover_dead_tasks

from . import tasks
from .engines import run_rq_worker

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("database_backend")
def test_prune_keeps_recent_and_unfinished_results(settings, tmp_path):
    old, recent, waiting = (tasks.record.enqueue(n, str(tmp_path / "log")) for n in range(3))
    long_ago = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS + 1)
    for result, finished in ((old, long_ago), (recent, timezone.now())):
        DBTaskResult.objects.filter(pk=result.id).update(
            status=TaskResultStatus.SUCCESSFUL, finished_at=finished
        )

    prune_task_results.call()

    assert {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)} == {
        recent.id,
        waiting.id,
    }


@pytest.mark.usefixtures("database_backend")
def test_prune_forgets_workers_dead_a_day_and_old_recoveries(settings):
    long_ago = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS + 1)
    for name, seen in (
        ("dead-long-ago", timezone.now() - timedelta(days=1, minutes=1)),
        ("dead-an-hour-ago", timezone.now() - timedelta(hours=1)),
    ):
        HeartbeatThread(name, name, ["default"], threads=1).beat()
        Heartbeat.objects.filter(pk=name).update(seen_at=seen)
        Recovery.objects.create(result_id=name, worker=name, task_path="t", rerun=True)
    Recovery.objects.filter(pk="dead-long-ago").update(recovered_at=long_ago)

    prune_task_results.call()

    assert list(Heartbeat.objects.values_list("pk", flat=True)) == ["dead-an-hour-ago"]
    assert list(Recovery.objects.values_list("pk", flat=True)) == ["dead-an-hour-ago"]


@pytest.mark.usefixtures("database_backend")
def test_prune_drops_old_links_between_retries(settings):
    long_ago = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS + 1)
    for n in range(2):
        Retry.objects.create(
            result_id=f"r{n}", next_result_id=f"r{n}+1", task_path="t", attempt=2, reason="451"
        )
    Retry.objects.filter(result_id="r0").update(created_at=long_ago)

    prune_task_results.call()

    assert list(Retry.objects.values_list("result_id", flat=True)) == ["r1"]


def test_the_recurring_jobs_of_the_queue_itself_run_on_rq(rq_backend, settings):
    long_ago = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS + 1)
    Retry.objects.create(result_id="r", next_result_id="r+1", task_path="t", attempt=2, reason="")
    Retry.objects.update(created_at=long_ago)

    assert prune_task_results.call() == "pruned"
    assert recover_dead_tasks.call() == "recovered 0"
    assert not Retry.objects.exists()


def test_rq_keeps_a_failed_task_for_the_retention_period_and_no_longer(rq_backend, settings):
    result = tasks.fail.enqueue()
    run_rq_worker([tasks.fail.queue_name])

    job = Job.fetch(result.id, connection=rq_backend)
    assert job.get_status() == "failed"
    retention = settings.TASK_RESULT_RETENTION_DAYS * 24 * 3600
    assert retention - 60 < rq_backend.ttl(job.key) <= retention
