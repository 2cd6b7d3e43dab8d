"""The recurring jobs and the worker's health check, run in-process."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import search
from accounts.models import Profile, SearchEntry
from accounts.tasks import check_search_index, send_confirmation_email
from notifications.models import Delivery, Endpoint, Event
from notifications.tasks import sweep_deliveries
from worker.heartbeat import HeartbeatThread, default_worker_id
from worker.models import Heartbeat
from worker.tasks import prune_task_results, recover_dead_tasks

from . import tasks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]


def running_task(task_result, worker_id, started_ago=timedelta(0)):
    row = DBTaskResult.objects.get(pk=task_result.id)
    row.claim(worker_id)
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=timezone.now() - started_ago)
    return row


def test_dead_workers_tasks_are_failed_and_safe_ones_rerun(make_user, tmp_path):
    user = make_user()
    email = running_task(send_confirmation_email.enqueue(user.pk), "gone:1")
    other = running_task(tasks.record.enqueue(1, str(tmp_path / "log")), "gone:1")
    busy = running_task(tasks.record.enqueue(2, str(tmp_path / "log")), "alive:1")
    HeartbeatThread("alive:1").beat()

    assert recover_dead_tasks.call() == "recovered 2"

    statuses = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert statuses[email.pk] == statuses[other.pk] == "FAILED"
    assert statuses[busy.pk] == "RUNNING"  # Its worker is alive, just busy.
    [rerun] = DBTaskResult.objects.filter(status="READY")
    assert rerun.task_path == "accounts.tasks.send_confirmation_email"
    assert rerun.args_kwargs["args"] == [user.pk]


def test_prune_keeps_recent_and_unfinished_results(settings, tmp_path):
    old, recent, waiting = (tasks.record.enqueue(n, str(tmp_path / "log")) for n in range(3))
    long_ago = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS + 1)
    for result, finished in ((old, long_ago), (recent, timezone.now())):
        DBTaskResult.objects.filter(pk=result.id).update(status="SUCCESSFUL", finished_at=finished)

    prune_task_results.call()

    assert {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)} == {
        recent.id,
        waiting.id,
    }


def test_sweep_requeues_a_due_delivery_whose_task_was_lost(member):
    endpoint = Endpoint.objects.create(owner=member, url="https://93.184.215.14/", events=[])
    lost = Delivery.objects.create(
        endpoint=endpoint,
        event=Event.TEST,
        payload={},
        next_attempt_at=timezone.now() - timedelta(minutes=5),
    )
    # Due in five minutes and without a task: a retry the sweep must leave alone.
    Delivery.objects.create(
        endpoint=endpoint,
        event=Event.TEST,
        payload={},
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )

    assert sweep_deliveries.call() == "rescheduled 0, requeued 1"

    [task] = DBTaskResult.objects.filter(task_path="notifications.tasks.deliver_webhook")
    assert task.args_kwargs["args"] == [lost.pk]
    assert sweep_deliveries.call() == "rescheduled 0, requeued 0"  # Now it has a live task.


def test_index_check_repairs_missing_stale_and_extra_entries(make_user):
    missing, stale, gone = (make_user(f"{n}@example.com", confirmed=True) for n in "abc")
    for user in (missing, stale, gone):
        Profile.objects.create(user=user, display_name=f"Old {user.email}")
    search.rebuild_entries([stale.pk, gone.pk])
    SearchEntry.objects.filter(user=missing).delete()
    SearchEntry.objects.filter(user=stale).update(indexed_at=timezone.now() - timedelta(hours=1))
    Profile.objects.filter(user=stale).update(display_name="New name", updated_at=timezone.now())
    Profile.objects.filter(user=gone).delete()

    assert check_search_index.call() == "repaired 3"

    assert dict(SearchEntry.objects.values_list("user_id", "display_name")) == {
        missing.pk: "Old a@example.com",
        stale.pk: "New name",
    }
    assert check_search_index.call() == "repaired 0"


def test_worker_health(settings, tmp_path):
    with pytest.raises(CommandError, match="No worker on .* has sent a heartbeat"):
        call_command("worker_health")

    worker_id = default_worker_id()
    HeartbeatThread(worker_id).beat()
    call_command("worker_health")  # Healthy: no exception.

    running_task(
        tasks.record.enqueue(1, str(tmp_path / "log")),
        worker_id,
        started_ago=timedelta(seconds=settings.WORKER_STUCK_AFTER_SECONDS + 1),
    )
    with pytest.raises(CommandError, match="tests.tasks.record has been running"):
        call_command("worker_health")

    DBTaskResult.objects.all().delete()
    late = tasks.record.enqueue(2, str(tmp_path / "log"))
    DBTaskResult.objects.filter(pk=late.id).update(
        enqueued_at=timezone.now() - timedelta(seconds=settings.WORKER_MAX_QUEUE_WAIT_SECONDS + 1)
    )
    with pytest.raises(CommandError, match="1 ready task"):
        call_command("worker_health")

    Heartbeat.objects.all().delete()


def test_admin_retries_failed_deliveries(client, make_user):
    staff = make_user("staff@example.com", confirmed=True)
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    endpoint = Endpoint.objects.create(owner=staff, url="https://93.184.215.14/", events=[])
    failed = Delivery.objects.create(
        endpoint=endpoint, event=Event.TEST, payload={}, status=Delivery.Status.FAILED, attempts=8
    )

    response = client.post(
        reverse("admin:notifications_delivery_changelist"),
        {"action": "retry_failed", "_selected_action": [failed.pk]},
        follow=True,
    )

    assert "1 deliveries queued again" in response.text
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.PENDING
    assert failed.attempts == 0
    assert DBTaskResult.objects.filter(task_path="notifications.tasks.deliver_webhook").exists()
