"""Webhook deliveries to a real HTTP receiver, through the production worker path."""

import json
import logging
import socket
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.tasks import TaskResultStatus
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Profile
from notifications import attempts, events, signing, transport
from notifications.attempts import RETRY_SCHEDULE, retry_delay
from notifications.models import Delivery, Endpoint, Event
from notifications.tasks import deliver_webhook, sweep_deliveries
from peers.receiver import Answer, RawReceiver, Receiver
from worker.models import Retry

from .conftest import change_rate_limit, run_tasks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]


@pytest.fixture
def endpoint(member, receiver):
    return Endpoint.objects.create(
        owner=member, url=receiver.url, events=[Event.PROFILE_UPDATED, Event.EMAIL_CONFIRMED]
    )


def send_test_event(client, endpoint):
    response = client.post(reverse("notifications:send_test", args=[endpoint.pk]))
    assert response.status_code == 302
    return Delivery.objects.get(endpoint=endpoint, event=Event.TEST)


def make_due(delivery):
    """Skip the wait before a retry: what the clock would do in a few seconds or hours."""
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
        next_attempt_at=now
    )
    DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(run_after=now)


def test_test_event_arrives_signed(client, endpoint, receiver):
    delivery = send_test_event(client, endpoint)

    run_tasks()

    [request] = receiver.received
    assert request.signature_is_valid(endpoint.secret)
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == signing.USER_AGENT
    assert json.loads(request.body)["type"] == "webhook.test"
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.last_status_code == 200
    log = client.get(reverse("notifications:delivery_log", args=[endpoint.pk])).text
    assert "Delivered" in log and "data-poll-url" not in log


def test_profile_update_is_delivered_without_secrets(client, endpoint, receiver):
    response = client.post(
        reverse("accounts:profile"),
        {"display_name": "Ann Lee", "headline": "Engineer", "bio": "", "location": "Oslo"},
    )
    assert response.status_code == 302
    [delivery] = Delivery.objects.filter(endpoint=endpoint, event=Event.PROFILE_UPDATED)

    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    [request] = receiver.received
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.signature_is_valid(endpoint.secret)
    payload = json.loads(request.body)
    assert payload["type"] == "profile.updated"
    assert payload["data"]["display_name"] == "Ann Lee"
    assert "whsec_" not in request.body.decode() and "password" not in request.body.decode()


def test_profile_saved_while_the_task_engine_is_down_is_delivered_later(
    client, endpoint, receiver, engine_down, monkeypatch
):
    response = client.post(
        reverse("accounts:profile"),
        {"display_name": "Ann Lee", "headline": "", "bio": "", "location": ""},
    )
    assert response.status_code == 302  # Saved, and no 500 for a task that must wait.
    assert Profile.objects.get(user=endpoint.owner).display_name == "Ann Lee"

    monkeypatch.undo()  # The engine is back.
    [delivery] = Delivery.objects.filter(endpoint=endpoint, event=Event.PROFILE_UPDATED)
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert sweep_deliveries.call() == "rescheduled 0, requeued 1"
    run_tasks()
    [request] = receiver.received
    assert request.headers["webhook-id"] == delivery.webhook_id


def test_unsubscribed_and_inactive_endpoints_get_nothing(client, member, receiver):
    Endpoint.objects.create(owner=member, url=receiver.url, events=[Event.EMAIL_CONFIRMED])
    Endpoint.objects.create(
        owner=member, url=receiver.url, events=[Event.PROFILE_UPDATED], is_active=False
    )

    client.post(reverse("accounts:profile"), {"display_name": "Ann"})
    run_tasks()

    assert receiver.received == []
    assert not Delivery.objects.exists()


def test_failed_attempts_are_retried_with_backoff_and_the_same_id(client, endpoint, receiver):
    receiver.answer(Answer(status=500), Answer(status=502))
    delivery = send_test_event(client, endpoint)

    run_tasks()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 5 * 0.8 - 1 < wait <= 5 * 1.2
    # The attempt's task failed, and its policy's retry is the next attempt, when due.
    [failed] = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED)
    assert failed.exception_class_path == "notifications.tasks.DeliveryFailed"
    assert "attempt 1: HTTP 500; retrying in" in failed.traceback
    [retry] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert Retry.objects.get(result_id=failed.id).next_result_id == str(retry.id)
    late = (retry.run_after - delivery.next_attempt_at).total_seconds()
    assert 0 <= late < 1

    run_tasks()  # Not due yet: nothing happens.
    assert len(receiver.received) == 1

    make_due(delivery)
    run_tasks()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 300 * 0.8 - 1 < wait <= 300 * 1.2

    make_due(delivery)
    run_tasks()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempts == 3
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 1
    assert all(request.signature_is_valid(endpoint.secret) for request in receiver.received)


def test_an_attempt_that_starts_a_moment_early_is_made_when_due(endpoint, receiver):
    due = timezone.now() + timedelta(seconds=1)
    delivery = Delivery.objects.create(
        endpoint=endpoint, event=Event.TEST, payload={}, next_attempt_at=due
    )
    # Its task starts early: the host that scheduled it has a clock ahead of this one's.
    deliver_webhook.enqueue(delivery.pk)
    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.last_attempt_at >= due


def test_retry_schedule_and_jitter_bounds():
    for attempts_made, base in enumerate(RETRY_SCHEDULE):
        delays = [retry_delay(attempts_made) for _ in range(200)]
        assert all(base * 0.8 <= delay <= base * 1.2 for delay in delays)
        if base:
            assert len(set(delays)) > 1  # Jitter spreads retries out.
    assert retry_delay(len(RETRY_SCHEDULE)) is None
    assert RETRY_SCHEDULE[1:4] == [5, 300, 1800]


def test_a_delivery_fails_for_good_after_the_last_attempt(client, endpoint, receiver):
    receiver.answer(*[Answer(status=500)] * len(RETRY_SCHEDULE))
    delivery = send_test_event(client, endpoint)

    for _ in RETRY_SCHEDULE:
        run_tasks()
        make_due(delivery)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == len(RETRY_SCHEDULE)
    assert delivery.next_attempt_at is None
    # Eight failed attempts, each but the last followed by its retry, and nothing waiting.
    failed = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED)
    assert failed.count() == len(RETRY_SCHEDULE)
    failed_ids = [str(result.id) for result in failed]
    assert Retry.objects.filter(result_id__in=failed_ids).count() == len(RETRY_SCHEDULE) - 1
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    log = client.get(reverse("notifications:endpoint", args=[endpoint.pk])).text
    assert "Redeliver" in log

    client.post(reverse("notifications:redeliver", args=[endpoint.pk, delivery.pk]))
    run_tasks()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert receiver.received[-1].headers["webhook-id"] == delivery.webhook_id


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(client, endpoint, receiver, status):
    receiver.answer(Answer(status=status, headers={"Retry-After": "120"}))
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 118 < wait <= 120


def test_410_gone_disables_the_endpoint(client, endpoint, receiver):
    receiver.answer(Answer(status=410))
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert not endpoint.is_active
    assert "410 Gone" in endpoint.disabled_reason
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()


def test_slow_receiver_hits_the_time_out_and_is_retried(client, endpoint, receiver, settings):
    settings.WEBHOOKS_DELIVERY_TIMEOUT = 0.5
    receiver.answer(Answer(delay=2))
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_status_code is None
    assert delivery.last_error == "Timed out after 0.5 s."
    assert delivery.next_attempt_at is not None


def test_redirect_is_not_followed(client, endpoint, receiver):
    receiver.answer(Answer(status=302, headers={"Location": "http://169.254.169.254/"}))
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    assert len(receiver.received) == 1
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_status_code == 302
    assert "Redirects are not followed" in delivery.last_error


def test_only_the_start_of_an_oversized_answer_is_read(receiver):
    receiver.answer(Answer(body=b"x" * (5 * 1024 * 1024)))

    response = transport.post(receiver.url, b"{}", {}, timeout=5)

    assert response.status == 200
    assert response.excerpt == "x" * transport.EXCERPT_CHARS


def test_the_receivers_answer_is_shown_escaped_in_the_delivery_log(client, endpoint, receiver):
    hostile = '<script>alert("hi")</script> \x00 Invalid payload: \xff'.encode("latin-1")
    receiver.answer(Answer(status=422, body=hostile))
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    assert delivery.last_status_code == 422
    assert delivery.last_response.startswith('<script>alert("hi")</script> \ufffd Invalid payload:')
    log = client.get(reverse("notifications:delivery_log", args=[endpoint.pk])).text
    assert "&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;" in log
    assert "<script>alert" not in log


def test_refused_connection_is_recorded_and_retried(client, member, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    endpoint = Endpoint.objects.create(owner=member, url=url, events=[])
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    assert "ConnectionRefusedError" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=3)


def test_receiver_down_for_a_while_then_up_gets_the_delivery(client, member, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    receiver = Receiver()
    # Nothing listens yet: the port is reserved, but the server isn't accepting.
    receiver.server.socket.close()
    endpoint = Endpoint.objects.create(owner=member, url=receiver.url, events=[])
    delivery = send_test_event(client, endpoint)

    for _ in range(2):
        run_tasks()
        make_due(delivery)
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert "ConnectionRefusedError" in delivery.last_error

    with Receiver(port=receiver.port) as back_up:
        run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempts == 3
    [request] = back_up.received
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.signature_is_valid(endpoint.secret)


def http_date(when, zone):
    return when.strftime("%a, %d %b %Y %H:%M:%S") + zone


@pytest.mark.parametrize(
    ("retry_after", "expected_wait"),
    [
        ("²", 5),  # Not an ASCII digit: ignored, the schedule decides.
        ("12 3", 5),
        (lambda now: http_date(now + timedelta(seconds=120), ""), 120),  # No zone: GMT.
        (lambda now: http_date(now + timedelta(seconds=120), " -0000"), 120),
        (lambda now: http_date(now + timedelta(seconds=120), " GMT"), 120),
        ("Fri, 31 Feb 2026 10:00:00 GMT", 5),  # No such day.
    ],
)
def test_odd_retry_after_is_a_failed_attempt_that_is_retried(
    client, endpoint, receiver, retry_after, expected_wait
):
    if callable(retry_after):
        retry_after = retry_after(timezone.now())
    receiver.answer(Answer(status=503, headers={"Retry-After": retry_after}))
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_status_code == 503
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert expected_wait * 0.8 - 3 < wait <= expected_wait * 1.2
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1
    # A failed attempt, not a crash: the task says what the receiver answered.
    [failed] = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED)
    assert failed.exception_class_path == "notifications.tasks.DeliveryFailed"


def test_a_url_path_with_non_ascii_characters_is_percent_encoded(client, member, receiver):
    endpoint = Endpoint.objects.create(
        owner=member, url=receiver.url + "/café?team=Zürich", events=[]
    )
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    [request] = receiver.received
    assert request.path == "/hooks/caf%C3%A9?team=Z%C3%BCrich"


def test_any_other_error_in_an_attempt_is_logged_and_retried(
    client, endpoint, receiver, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise ValueError("something nobody foresaw")

    monkeypatch.setattr(transport, "post", broken)
    delivery = send_test_event(client, endpoint)

    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert delivery.last_error == "This attempt failed on our side; it will be retried."
    assert "something nobody foresaw" in caplog.text  # The traceback is for us, in the log.
    [failed] = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED)
    assert failed.exception_class_path == "notifications.tasks.DeliveryFailed"
    [retry] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert 0 <= (retry.run_after - delivery.next_attempt_at).total_seconds() < 1


def test_sweep_reschedules_an_attempt_whose_worker_died_and_no_other(endpoint, settings):
    in_flight = timedelta(seconds=settings.WEBHOOKS_DELIVERY_TIMEOUT)
    dead, alive = (
        Delivery.objects.create(
            endpoint=endpoint,
            event=Event.TEST,
            payload={},
            attempts=1,
            next_attempt_at=None,
            last_attempt_at=timezone.now() - started_ago,
        )
        for started_ago in (in_flight + timedelta(minutes=2), in_flight / 2)
    )

    assert sweep_deliveries.call() == "rescheduled 1, requeued 0"

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.last_error == "The worker stopped during this attempt."
    assert dead.status == Delivery.Status.PENDING
    [retry] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert retry.args_kwargs["args"] == [dead.pk]
    assert retry.run_after == dead.next_attempt_at
    assert alive.next_attempt_at is None and alive.last_error == ""
    assert sweep_deliveries.call() == "rescheduled 0, requeued 0"


def test_emit_records_deliveries_in_one_insert_each_with_its_own_id(member, receiver):
    endpoints = [
        Endpoint.objects.create(owner=member, url=receiver.url, events=[Event.PROFILE_UPDATED])
        for _ in range(3)
    ]
    profile = Profile.objects.create(user=member, display_name="Ann")

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        deliveries = events.emit(member, Event.PROFILE_UPDATED, profile.public_data())

    inserts = [
        q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "notifications_delivery"')
    ]
    assert len(inserts) == 1
    assert {d.endpoint for d in deliveries} == set(endpoints)
    ids = {d.webhook_id for d in Delivery.objects.all()}
    assert len(ids) == 3 and all(webhook_id.startswith("msg_") for webhook_id in ids)


def test_endpoint_deleted_during_an_attempt_ends_the_task_quietly(
    client, endpoint, receiver, monkeypatch
):
    delivery = send_test_event(client, endpoint)
    send = attempts.send

    def send_while_the_member_deletes_the_endpoint(delivery):
        attempt = send(delivery)
        client.post(reverse("notifications:delete", args=[endpoint.pk]))
        return attempt

    monkeypatch.setattr(attempts, "send", send_while_the_member_deletes_the_endpoint)

    run_tasks()

    assert not Delivery.objects.filter(pk=delivery.pk).exists()
    [result] = DBTaskResult.objects.filter(task_path=deliver_webhook.module_path)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "skipped: deleted during the attempt"


def test_a_member_saving_in_a_loop_cannot_flood_the_webhooks_queue(
    client, endpoint, receiver, settings
):
    change_rate_limit(settings, "profile_save", per_member=3)
    profile = reverse("accounts:profile")

    statuses = [client.post(profile, {"display_name": f"Ann {n}"}).status_code for n in range(5)]

    assert statuses == [302] * 3 + [429] * 2
    assert "saved your profile many times" in client.post(profile, {"display_name": "x"}).text
    assert Delivery.objects.filter(event=Event.PROFILE_UPDATED).count() == 3


def test_what_a_receiver_sends_stays_out_of_the_task_result_and_the_logs(
    client, member, settings, caplog
):
    forged = 'msg="ok" level=CRITICAL logger=django.security.csrf'

    def answer_with_forged_log_fields(connection):
        connection.recv(65536)
        connection.sendall(f"HTTP/1.1 2x0 {forged}\r\n\r\n".encode())

    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with RawReceiver(answer_with_forged_log_fields) as receiver:
        endpoint = Endpoint.objects.create(owner=member, url=receiver.url(), events=[])
        delivery = send_test_event(client, endpoint)
        with caplog.at_level(logging.INFO):
            run_tasks()

    delivery.refresh_from_db()
    assert forged in delivery.last_error  # The member's own log says what came back.
    [failed] = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED)
    assert forged not in failed.traceback
    assert forged not in caplog.text
    # A failed attempt is an outcome, not a bug: one warning line each, no traceback.
    task_lines = [r for r in caplog.records if r.name in ("django.tasks", "worker.tasks")]
    assert task_lines and not any(r.exc_info or r.levelno > logging.WARNING for r in task_lines)
