"""Webhook deliveries beside the rest of the work: what the process types buy, measured.

1. Confirmation email, enqueue to sent, while 200 deliveries hang on receivers that never
   answer (each holds a webhooks thread until the transport's deadline).
2. Deliveries per second for one webhooks process, against a receiver answering in 1 s.
3. No-op tasks per second for one worker process.

Every process is started from the Procfile's own line, against a scratch PostgreSQL
database on the server at DATABASE_URL. Run alone with `uv run python -m bench.webhooks`.

The helpers below (a scratch database, the Procfile's lines) are small copies rather
than imports from tests/: benchmarks and tests stay independent of each other.
"""

import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
HANGING_DELIVERIES = 200
EMAILS = 40
SLOW_DELIVERIES = 300
NOOP_TASKS = 1000
NOOP_RUNS = 3


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict((part.strip() for part in line.split(":", 1)) for line in lines if line.strip())


class SilentReceiver:
    """Accepts connections and never answers."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1000)
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"
        self.connections = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self.accept, daemon=True)

    def accept(self):
        while not self.closing.is_set():
            with contextlib.suppress(TimeoutError):
                self.connections.append(self.listener.accept()[0])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.closing.set()
        self.thread.join()
        self.listener.close()
        for held in self.connections:
            held.close()


class SlowReceiver:
    """Answers 200 to every request, one second after it arrives."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(1)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 1000
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Site:
    """A scratch database, this process's Django configured on it, and Procfile processes."""

    def __init__(self, tmp: str):
        self.name = f"bench_{secrets.token_hex(4)}"
        with psycopg.connect(SERVER_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": SERVER_URL.rsplit("/", 1)[0] + "/" + self.name,
            "E2E_MAIL_DIR": tmp,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def start(self, name: str, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["sh", "-c", f"exec {procfile()[name]} {' '.join(extra)}"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def drop(self):
        from django.db import connections

        connections.close_all()
        with psycopg.connect(SERVER_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def stop(*processes: subprocess.Popen):
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark timed out")
        time.sleep(0.05)


def enqueue_deliveries(url: str, count: int):
    from django.utils import timezone

    from accounts.models import User
    from notifications.models import Delivery, Endpoint, Event
    from notifications.tasks import deliver_webhook

    owner = User.objects.create_user(f"owner-{secrets.token_hex(3)}@example.com", "x" * 20)
    endpoint = Endpoint.objects.create(owner=owner, url=url, events=[])
    for _ in range(count):
        delivery = Delivery.objects.create(
            endpoint=endpoint, event=Event.TEST, payload={}, next_attempt_at=timezone.now()
        )
        deliver_webhook.enqueue(delivery.pk)


def finished(task_path: str):
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=task_path, finished_at__isnull=False)


def clear():
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def email_latency_beside_hanging_deliveries(site: Site) -> list[float]:
    from accounts.models import User
    from accounts.tasks import send_confirmation_email

    clear()
    users = [User.objects.create_user(f"m{n}@example.com", "x" * 20) for n in range(EMAILS)]
    silent = SilentReceiver()
    enqueue_deliveries(silent.url, HANGING_DELIVERIES)
    processes = site.start("worker"), site.start("webhooks")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(stop, *processes)
        # Closed first, so the hanging deliveries end and the processes stop promptly.
        cleanup.enter_context(silent)
        wait_until(lambda: len(silent.connections) >= 10, timeout=30)
        for user in users:
            send_confirmation_email.enqueue(user.pk)
            time.sleep(0.1)
        path = send_confirmation_email.module_path
        wait_until(lambda: finished(path).count() == EMAILS, timeout=60)
        return [
            (done - enqueued).total_seconds()
            for enqueued, done in finished(path).values_list("enqueued_at", "finished_at")
        ]


def deliveries_per_second(site: Site) -> float:
    from notifications.tasks import deliver_webhook

    clear()
    with SlowReceiver() as receiver:
        enqueue_deliveries(receiver.url, SLOW_DELIVERIES)
        webhooks = site.start("webhooks", "--batch")
        webhooks.wait(timeout=300)
    done = finished(deliver_webhook.module_path)
    assert done.filter(status="SUCCESSFUL").count() == SLOW_DELIVERIES, "deliveries failed"
    return SLOW_DELIVERIES / span(done)


def span(results) -> float:
    from django.db.models import Max, Min

    bounds = results.aggregate(first=Min("started_at"), last=Max("finished_at"))
    return (bounds["last"] - bounds["first"]).total_seconds()


def noop_tasks_per_second(site: Site) -> float:
    from bench.tasks import noop

    rates = []
    for _ in range(NOOP_RUNS):
        clear()
        for _ in range(NOOP_TASKS):
            noop.enqueue()
        worker = site.start("worker", "--batch")
        worker.wait(timeout=300)
        done = finished(noop.module_path)
        assert done.filter(status="SUCCESSFUL").count() == NOOP_TASKS, "no-op tasks failed"
        rates.append(NOOP_TASKS / span(done))
    return statistics.median(rates)


def rows() -> list[tuple[str, str, str]]:
    from django.conf import settings

    with tempfile.TemporaryDirectory() as tmp:
        site = Site(tmp)
        try:
            print("webhooks 1/3 confirmation email beside hanging deliveries...", flush=True)
            latencies = email_latency_beside_hanging_deliveries(site)
            print("webhooks 2/3 deliveries per second, receiver answering in 1 s...", flush=True)
            delivered = deliveries_per_second(site)
            print("webhooks 3/3 no-op tasks per second, one worker process...", flush=True)
            noops = noop_tasks_per_second(site)
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
        (
            f"No-op tasks/s, one worker process ({processes['worker']['threads']} threads)",
            f"{noops:.0f}/s",
            ">= 180/s (one task at a time: about 180-250/s)",
        ),
    ]


def main():
    results = rows()
    width = max(len(row[0]) for row in results)
    print(f"| {'measurement':<{width}} | result | target |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, result, target in results:
        print(f"| {name:<{width}} | {result} | {target} |")


if __name__ == "__main__":
    main()
