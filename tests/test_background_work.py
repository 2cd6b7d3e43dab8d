"""The operator's view of the background work: queues paused and resumed, failed tasks
retried or discarded, one at a time or all that match, by staff allowed to, on the record."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import OperationalError
from django.db.models.functions import Now
from django.tasks import TaskResultStatus
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from accounts.tasks import send_confirmation_email, update_search_entry
from peers.smtp import SMTPServer
from worker import failures, pausing
from worker.heartbeat import HeartbeatThread
from worker.models import Failure, Heartbeat, Retry
from worker.tasks import recover_dead_tasks

from .conftest import run_tasks
from .test_email_task import smtp_at

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]

OVERVIEW = reverse("admin:worker_backgroundwork_changelist")
FAILED = reverse("admin:worker_failed")
ACT = reverse("admin:worker_failed_act")


@pytest.fixture
def staff(make_user):
    """Staff allowed to view and to act: a client logged in as them."""

    def login(*permissions):
        user = make_user(f"staff{len(permissions)}@example.com", confirmed=True)
        user.is_staff = True
        user.save()
        for codename in permissions:
            user.user_permissions.add(Permission.objects.get(codename=codename))
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.fixture
def operator(staff):
    return staff("view_backgroundwork", "change_backgroundwork")


@pytest.fixture
def refused_mail(settings):
    """A mail server that refuses every recipient for good, so the mail fails for good."""
    with SMTPServer(refusals=["550 5.1.1 No such user"] * 20) as server:
        smtp_at(settings, server.port)
        yield server


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each row in the body of the page's table `table_id`."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)[1]
    return [
        [
            re.sub(r"<[^>]+>|\s+", " ", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def fail_for_good(make_user, n=1):
    users = [make_user(f"member{i}@example.com") for i in range(n)]
    for user in users:
        send_confirmation_email.enqueue(user.pk)
    run_tasks()
    return users


def test_a_task_that_fails_for_good_is_listed_and_a_retry_sends_it(
    operator, make_user, refused_mail, settings
):
    [user] = fail_for_good(make_user)
    page = operator.get(FAILED).text
    assert "send_confirmation_email" in page
    assert ">Retry</button>" in page and ">Discard</button>" in page

    # The mail server is fixed; staff press Retry.
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    [failure] = failures.open_failures()
    response = operator.post(ACT, {"result_id": failure.result_id, "action": "retry"})
    assert response.status_code == 302
    run_tasks()

    [message] = mail.outbox
    assert message.to == [user.email]
    assert not failures.open_failures().exists()
    # The retry is the next attempt in the task's chain, and the history says who.
    link = Retry.objects.get(result_id=failure.result_id)
    assert link.attempt == 2 and "Retried by" in link.reason
    entry = LogEntry.objects.get()
    assert entry.user.is_staff and entry.object_id == failure.result_id
    assert "Retried send_confirmation_email" in entry.change_message


def test_a_retry_the_task_engine_refuses_stays_on_the_list(
    operator, make_user, refused_mail, monkeypatch
):
    fail_for_good(make_user, n=2)

    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(DatabaseBackend, "enqueue", unreachable)
    response = operator.post(ACT, {"action": "retry", "confirmed": "yes", "queue": "email"})

    assert response.status_code == 302
    assert "didn&#x27;t answer" in operator.get(FAILED).text
    assert failures.open_failures().count() == 2
    assert not Retry.objects.exists() and not LogEntry.objects.exists()


def test_discard_takes_a_failure_off_the_list_and_keeps_its_result(
    operator, make_user, refused_mail
):
    fail_for_good(make_user)
    [failure] = failures.open_failures()

    operator.post(ACT, {"result_id": failure.result_id, "action": "discard"})

    assert "No failed tasks" in operator.get(FAILED).text
    assert DBTaskResult.objects.get(pk=failure.result_id).status == TaskResultStatus.FAILED
    assert "Discarded send_confirmation_email" in LogEntry.objects.get().change_message


def test_a_bulk_retry_confirms_the_count_then_retries_only_what_matches(
    operator, make_user, refused_mail
):
    fail_for_good(make_user, n=3)
    other = make_user("other@example.com")
    Failure.objects.create(
        result_id="not-a-mail",
        task_path=update_search_entry.module_path,
        queue_name="search",
        args=[other.pk],
        exception_class="builtins.ValueError",
        message="boom",
        attempt=1,
        max_attempts=1,
    )
    chosen = {"task": send_confirmation_email.module_path, "action": "retry"}

    confirm = operator.post(ACT, chosen)
    assert confirm.status_code == 200
    assert "Retry 3 failed tasks (send_confirmation_email)?" in confirm.text
    assert not Retry.objects.exists()  # Asking changed nothing.

    operator.post(ACT, {**chosen, "confirmed": "yes"})

    assert Retry.objects.count() == 3
    assert [f.task_name for f in failures.open_failures()] == ["update_search_entry"]
    assert "Retried 3 failed task(s): send_confirmation_email" in (
        LogEntry.objects.get().change_message
    )


def test_a_paused_queue_keeps_its_tasks_until_resumed(operator, make_user):
    user = make_user()
    operator.post(reverse("admin:worker_pause", args=["email"]))
    email = send_confirmation_email.enqueue(user.pk)
    index = update_search_entry.enqueue(user.pk)

    run_tasks()

    assert mail.outbox == []
    assert send_confirmation_email.get_result(email.id).status == TaskResultStatus.READY
    assert (
        update_search_entry.get_result(index.id).status == TaskResultStatus.SUCCESSFUL
    )  # Others run.
    page = operator.get(OVERVIEW).text
    assert "paused" in page and ">Resume</button>" in page

    operator.post(reverse("admin:worker_resume", args=["email"]))
    run_tasks()

    assert len(mail.outbox) == 1
    assert [e.change_message for e in LogEntry.objects.order_by("pk")] == [
        "Paused the email queue.",
        "Resumed the email queue.",
    ]


def test_the_overview_shows_live_and_dead_workers_and_what_recovery_did(
    operator, make_user, settings
):
    user = make_user()
    live, dead = "web-1:1/aaaa", "web-2:1/bbbb"
    HeartbeatThread("web-1:1", live, ["email", "default", "search"], threads=3).beat()
    HeartbeatThread("web-2:1", dead, ["email", "default", "search"], threads=3).beat()
    DBTaskResult.objects.get(pk=send_confirmation_email.enqueue(user.pk).id).claim(live)
    orphan = send_confirmation_email.enqueue(user.pk)
    DBTaskResult.objects.get(pk=orphan.id).claim(dead)
    dead_after = timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS + 1)
    Heartbeat.objects.filter(pk=dead).update(seen_at=Now() - dead_after)
    recover_dead_tasks.call()
    operator.post(reverse("admin:worker_pause", args=["webhooks"]))

    page = operator.get(OVERVIEW).text

    rows = table_rows(page, "workers")
    assert [row[0] for row in rows] == [live, dead]
    assert rows[0][1] == "general" and rows[0][4] == "3" and rows[0][7] == "1"
    assert rows[0][8] == "live" and rows[1][8].startswith("dead")
    [recovered] = table_rows(page, "recovered")
    assert recovered[2] == dead and recovered[3].startswith("ran it again")
    assert [row[2] for row in table_rows(page, "history")] == ["Paused the webhooks queue."]


def test_a_get_changes_nothing(operator):
    operator.get(reverse("admin:worker_pause", args=["email"]))
    operator.get(ACT + "?action=retry")
    assert pausing.paused_queues() == set()
    assert not LogEntry.objects.exists()


def test_an_unknown_queue_is_not_found(operator):
    assert operator.post(reverse("admin:worker_pause", args=["nope"])).status_code == 404
    assert pausing.paused_queues() == set()


ACTIONS = [
    ("post", reverse("admin:worker_pause", args=["email"]), {}),
    ("post", ACT, {"action": "discard", "result_id": "x"}),
    ("post", ACT, {"action": "retry"}),
    ("post", reverse("admin:worker_run_now", args=["x"]), {}),
]
PAGES = [OVERVIEW, FAILED, reverse("admin:worker_later"), reverse("admin:worker_task", args=["x"])]


def test_members_get_no_page_and_no_action(client, make_user):
    client.force_login(make_user(confirmed=True))
    for url in PAGES:
        assert client.get(url).status_code == 302  # To the admin's login.
    for _method, url, data in ACTIONS:
        assert client.post(url, data).status_code == 302
    assert pausing.paused_queues() == set()


def test_staff_without_the_permission_get_no_page_and_no_action(staff):
    nobody = staff()
    for url in PAGES:
        assert nobody.get(url).status_code == 403
    for _method, url, data in ACTIONS:
        assert nobody.post(url, data).status_code == 403
    assert reverse("admin:worker_backgroundwork_changelist") not in nobody.get("/admin/").text


def test_staff_who_may_view_may_not_act(staff, make_user, refused_mail):
    viewer = staff("view_backgroundwork")
    fail_for_good(make_user)
    [failure] = failures.open_failures()

    assert "Background work" in viewer.get("/admin/").text
    page = viewer.get(FAILED).text
    assert "send_confirmation_email" in page and ">Retry</button>" not in page
    assert viewer.post(ACT, {"action": "retry", "result_id": failure.result_id}).status_code == 403
    assert viewer.post(reverse("admin:worker_pause", args=["email"])).status_code == 403
    assert failures.open_failures().count() == 1 and pausing.paused_queues() == set()


def test_every_action_refuses_a_request_without_its_csrf_token(staff, make_user):
    user = make_user("csrf@example.com", confirmed=True)
    user.is_superuser = user.is_staff = True
    user.save()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    for _method, url, data in ACTIONS:
        assert strict.post(url, data).status_code == 403
    assert pausing.paused_queues() == set()


def test_the_task_page_shows_every_attempt(operator, make_user, refused_mail):
    fail_for_good(make_user)
    [failure] = failures.open_failures()

    page = operator.get(reverse("admin:worker_task", args=[failure.result_id])).text

    assert "first run" in page and "FAILED" in page and "SMTPRecipientsRefused" in page


def test_a_failure_whose_task_was_renamed_says_so_and_stays_listed(operator):
    Failure.objects.create(
        result_id="gone-1",
        task_path="accounts.tasks.renamed_since",
        queue_name="email",
        exception_class="builtins.ValueError",
        message="boom",
        attempt=1,
        max_attempts=1,
    )

    response = operator.post(ACT, {"result_id": "gone-1", "action": "retry"}, follow=True)

    assert "no longer exists in the code" in response.text
    assert failures.open_failures().count() == 1
    assert not Retry.objects.exists() and not LogEntry.objects.exists()


def test_a_filter_that_does_not_validate_lists_nothing(operator, make_user, refused_mail):
    fail_for_good(make_user)

    page = operator.get(FAILED, {"queue": "no-such-queue"}).text

    assert "No failed tasks match this filter" in page and "Retry all" not in page


def test_the_exception_filter_takes_a_class_name(operator, make_user, refused_mail):
    fail_for_good(make_user)

    assert (
        "send_confirmation_email"
        in operator.get(FAILED, {"exception": "SMTPRecipientsRefused"}).text
    )
    assert "No failed tasks" in operator.get(FAILED, {"exception": "RefusedSomething"}).text


def test_the_overview_shows_each_recurring_task_with_its_last_and_next_run(operator):
    from safeguards.tasks import prune_rate_limit_counters

    result = prune_rate_limit_counters.enqueue()
    run_tasks()

    page = operator.get(OVERVIEW).text
    assert "prune_rate_limit_counters" in page and "SUCCESSFUL" in page
    assert "check_search_index" in page and "not since this was deployed" in page
    task_page = operator.get(reverse("admin:worker_task", args=[result.id]))
    assert task_page.status_code == 200 and "first run" in task_page.text


def test_a_task_due_later_is_listed_with_its_page_and_can_be_run_now(operator, make_user):
    user = make_user()
    later = send_confirmation_email.using(run_after=timezone.now() + timedelta(hours=1))
    result = later.enqueue(user.pk)
    run_tasks()
    assert mail.outbox == []
    page = operator.get(reverse("admin:worker_later")).text
    assert "send_confirmation_email" in page and ">Run now</button>" in page
    # Its row links to its page, though it has no retry chain and never failed.
    task_page = reverse("admin:worker_task", args=[result.id])
    assert f'href="{task_page}"' in page
    assert "send_confirmation_email: its attempts" in operator.get(task_page).text

    operator.post(reverse("admin:worker_run_now", args=[result.id]))
    run_tasks()

    assert len(mail.outbox) == 1
    assert LogEntry.objects.get().change_message == f"Made {result.id} due now."


def test_the_overview_says_so_when_the_task_engine_does_not_answer(operator, monkeypatch):
    import redis

    from worker import engines

    def unreachable(queues):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(engines.current(), "queue_stats", unreachable)

    response = operator.get(OVERVIEW)

    assert response.status_code == 200
    assert "The task engine did not answer: ConnectionError." in response.text


def test_a_hand_typed_task_id_is_not_found_and_changes_nothing(operator):
    assert operator.get(reverse("admin:worker_task", args=["not-a-uuid"])).status_code == 404
    response = operator.post(reverse("admin:worker_run_now", args=["not-a-uuid"]))
    assert response.status_code == 302
    assert not LogEntry.objects.exists()
