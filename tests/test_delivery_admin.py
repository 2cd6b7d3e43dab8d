"""Staff can send failed deliveries again from the admin."""

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from notifications.models import Delivery, Endpoint, Event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]


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
