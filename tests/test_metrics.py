"""/metrics: off unless configured, then only with its token; what it says about the queues."""

import math

import pytest
import redis
from django.urls import reverse

from accounts.tasks import send_confirmation_email
from worker import engines, metrics, pausing
from worker.heartbeat import HeartbeatThread

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_backend")]

TOKEN = "t" * 40


@pytest.fixture(autouse=True)
def fresh_metrics(monkeypatch):
    """Each test measures for itself, not the answer an earlier test left behind."""
    monkeypatch.setattr(metrics, "_last", (-math.inf, None))


def test_metrics_are_off_unless_a_token_is_set(client):
    assert client.get(reverse("metrics")).status_code == 404


def test_metrics_answer_only_their_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    url = reverse("metrics")
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(url, headers={"Authorization": TOKEN}).status_code == 401
    assert client.post(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405


def test_metrics_count_each_queue_and_say_which_are_paused(client, settings, make_user):
    settings.METRICS_TOKEN = TOKEN
    send_confirmation_email.enqueue(make_user().pk)
    pausing.pause("webhooks")
    general = settings.WORKER_PROCESSES["general"]
    HeartbeatThread("host:1", "host:1/aaaa", general["queues"], general["threads"]).beat()

    response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert 'tasks_waiting{queue="email"} 1.0' in lines
    assert 'tasks_waiting{queue="search"} 0.0' in lines
    assert 'queue_paused{queue="webhooks"} 1.0' in lines
    assert 'queue_paused{queue="email"} 0.0' in lines
    assert 'worker_processes_live{process_type="general"} 1.0' in lines
    assert 'worker_processes_live{process_type="webhooks"} 0.0' in lines


def test_an_engine_that_does_not_answer_is_a_503_and_is_not_asked_again_at_once(
    client, settings, monkeypatch
):
    settings.METRICS_TOKEN = TOKEN
    asked = []

    def unreachable(queues):
        asked.append(queues)
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(engines.current(), "queue_stats", unreachable)
    headers = {"Authorization": f"Bearer {TOKEN}"}

    responses = [client.get(reverse("metrics"), headers=headers) for _ in range(3)]

    assert [response.status_code for response in responses] == [503, 503, 503]
    assert len(asked) == 1  # Each scrape in the next CACHE_SECONDS gets the same answer.
