"""Webhook deliveries beside the rest of the work: what the process types buy, measured.

1. Confirmation email, enqueue to sent, while 200 deliveries hang on receivers that never
   answer (each holds a webhooks thread until the transport's deadline).
2. Deliveries per second for one webhooks process, against a receiver answering in 1 s.

(No-op tasks per second are bench/throughput.py's.)

Every process is started from the Procfile's own line, against a scratch PostgreSQL
database on the server at DATABASE_URL. Run alone with `uv run python -m bench.webhooks`.
"""

import contextlib
import os
import secrets
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench import scratch
from bench.report import percentile, print_table
from peers.receiver import SilentReceiver

HANGING_DELIVERIES = 200
EMAILS = 40
SLOW_DELIVERIES = 300


class AnswersInOneSecond(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(1)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def slow_receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), AnswersInOneSecond)
    server.request_queue_size = 1000
    return scratch.receiver(server)


class Site:
    """A scratch database, this process's Django configured on it, and Procfile processes."""

    def __init__(self, tmp: str):
        self.database = scratch.ScratchDatabase()
        self.env = scratch.environment(self.database.url, tmp)
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def start(self, process_type: str, *extra: str):
        return scratch.start(process_type, *extra, env=self.env)

    def drop(self):
        from django.db import connections

        connections.close_all()
        self.database.drop()


def wait_until(condition, timeout: float):
    """Poll `condition` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while not (met := condition()):
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark timed out")
        time.sleep(0.05)
    return met


def enqueue_deliveries(url: str, count: int):
    from django.utils import timezone

    from accounts.models import User
    from notifications.models import Delivery, Endpoint, Event
    from notifications.tasks import deliver_webhook

    owner = User.objects.create_user(f"owner-{secrets.token_hex(3)}@example.com", "x" * 20)
    endpoint = Endpoint.objects.create(owner=owner, url=url, events=[])
    ids = []
    for _ in range(count):
        delivery = Delivery.objects.create(
            endpoint=endpoint, event=Event.TEST, payload={}, next_attempt_at=timezone.now()
        )
        ids.append(deliver_webhook.enqueue(delivery.pk).id)
    return ids


def results(task, ids: list[str]):
    """The task's results for `ids`, read through django.tasks: no engine's tables named."""
    return [task.get_result(result_id) for result_id in ids]


def span(finished) -> float:
    """Seconds from the first start to the last finish."""
    first = min(result.started_at for result in finished)
    return (max(result.finished_at for result in finished) - first).total_seconds()


def succeeded(finished) -> bool:
    from django.tasks import TaskResultStatus

    return all(result.status == TaskResultStatus.SUCCESSFUL for result in finished)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def email_latency_beside_hanging_deliveries(site: Site) -> list[float]:
    from accounts.models import User
    from accounts.tasks import send_confirmation_email

    users = [User.objects.create_user(f"m{n}@example.com", "x" * 20) for n in range(EMAILS)]
    silent = SilentReceiver()
    enqueue_deliveries(silent.url, HANGING_DELIVERIES)
    processes = site.start("general"), site.start("webhooks")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(scratch.stop, *processes)
        # Closed first, so the hanging deliveries end and the processes stop promptly.
        cleanup.enter_context(silent)
        wait_until(lambda: len(silent.connections) >= 10, timeout=30)
        ids = []
        for user in users:
            ids.append(send_confirmation_email.enqueue(user.pk).id)
            time.sleep(0.1)

        def all_sent():
            sent = results(send_confirmation_email, ids)
            return sent if all(result.finished_at for result in sent) else None

        sent = wait_until(all_sent, timeout=60)
        return [(result.finished_at - result.enqueued_at).total_seconds() for result in sent]


def deliveries_per_second(site: Site) -> float:
    from notifications.tasks import deliver_webhook

    with slow_receiver() as url:
        ids = enqueue_deliveries(url, SLOW_DELIVERIES)
        webhooks = site.start("webhooks", "--batch")
        webhooks.wait(timeout=300)
    done = results(deliver_webhook, ids)
    assert succeeded(done), "deliveries failed"
    return SLOW_DELIVERIES / span(done)


def rows() -> list[tuple[str, str, str]]:
    from django.conf import settings

    with tempfile.TemporaryDirectory() as tmp:
        site = Site(tmp)
        try:
            # Hanging deliveries go last: those still queued when it ends stay queued.
            print("webhooks 1/2 deliveries per second, receiver answering in 1 s...", flush=True)
            delivered = deliveries_per_second(site)
            print("webhooks 2/2 confirmation email beside hanging deliveries...", flush=True)
            latencies = email_latency_beside_hanging_deliveries(site)
        finally:
            site.drop()
    processes = settings.WORKER_PROCESSES
    return [
        (
            f"Confirmation email, enqueue to sent, p50 / p95, beside {HANGING_DELIVERIES}"
            " hanging deliveries",
            f"{ms(percentile(latencies, 0.5))} / {ms(percentile(latencies, 0.95))}",
            "p95 <= 1 s",
        ),
        (
            f"Deliveries/s, one webhooks process ({processes['webhooks']['threads']} threads),"
            " receiver answering in 1 s",
            f"{delivered:.1f}/s",
            ">= 20/s",
        ),
    ]


def main():
    print_table(rows())


if __name__ == "__main__":
    main()
