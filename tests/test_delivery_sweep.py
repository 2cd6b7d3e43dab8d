"""The delivery sweep puts back on the queue a due delivery whose task was lost."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from notifications.models import Delivery, Endpoint, Event
from notifications.tasks import sweep_deliveries

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]


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
