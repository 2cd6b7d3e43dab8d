"""The admin's Background work pages with 10,000 and 1,000,000 task results stored.

Run alone with `uv run python -m bench.operator`. A scratch PostgreSQL database is filled
with finished results (one in a hundred failed for good, a few running, waiting and due
later), then the overview and the failed list are rendered through Django's test client
as a superuser, in a process of their own: p50 of 20 renders each.
"""

import json
import subprocess
import sys
import tempfile
import time

import psycopg

from bench.report import percentile, print_table
from bench.scratch import ScratchDatabase, environment, python

SIZES = [10_000, 1_000_000]
RENDERS = 20
TARGET = "< 300 ms"

FILL = """
INSERT INTO django_tasks_database_dbtaskresult
    (id, status, enqueued_at, started_at, finished_at, args_kwargs, priority, task_path,
     worker_ids, queue_name, backend_name, run_after, return_value, exception_class_path,
     traceback)
SELECT gen_random_uuid(),
       CASE WHEN n %% 100 = 0 THEN 'FAILED' WHEN n %% 5000 = 1 THEN 'RUNNING'
            WHEN n %% 5000 = 2 THEN 'READY' ELSE 'SUCCESSFUL' END,
       now() - make_interval(secs => n), now() - make_interval(secs => n),
       CASE WHEN n %% 5000 IN (1, 2) THEN NULL ELSE now() - make_interval(secs => n) END,
       jsonb_build_object('args', jsonb_build_array(n), 'kwargs', '{}'::jsonb), 0,
       'accounts.tasks.send_confirmation_email', '["bench:1/0000"]'::jsonb,
       'email', 'default',
       CASE WHEN n %% 10000 = 3 THEN now() + interval '1 hour' ELSE '9999-01-01'::timestamptz END,
       NULL, '', ''
FROM generate_series(1, %(n)s) AS n
"""
FAILURES = """
INSERT INTO worker_failure
    (result_id, task_path, queue_name, args, kwargs, exception_class, message, attempt,
     max_attempts, failed_at)
SELECT id::text, task_path, queue_name, args_kwargs -> 'args', '{}'::jsonb,
       'smtplib.SMTPRecipientsRefused', '550 No such user', 6, 6, finished_at
FROM django_tasks_database_dbtaskresult WHERE status = 'FAILED'
"""


def measure():
    """In the bench's process for one size: render each page RENDERS times."""
    import django

    django.setup()
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User

    user = User.objects.create_superuser("bench-staff@example.com", "x")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    timings = {}
    for name in ["admin:worker_backgroundwork_changelist", "admin:worker_failed"]:
        samples = []
        for _ in range(RENDERS):
            started = time.perf_counter()
            response = client.get(reverse(name))
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        timings[name] = percentile(samples, 0.5)
    print(json.dumps(timings))


def rows():
    found = []
    for size in SIZES:
        database = ScratchDatabase()
        try:
            with tempfile.TemporaryDirectory() as mail:
                env = environment(database.url, mail)
                python("manage.py", "migrate", "--noinput", "-v0", env=env)
                with psycopg.connect(database.url, autocommit=True) as connection:
                    connection.execute(FILL, {"n": size})
                    connection.execute(FAILURES)
                    connection.execute("ANALYZE")
                measured = subprocess.run(
                    [sys.executable, "-m", "bench.operator", "measure"],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if measured.returncode:
                    raise RuntimeError(measured.stderr[-2000:])
                timings = json.loads(measured.stdout.splitlines()[-1])
        finally:
            database.drop()
        for name, label in [
            ("admin:worker_backgroundwork_changelist", "Background work overview"),
            ("admin:worker_failed", "Failed tasks list"),
        ]:
            found.append(
                (f"{label}, {size:,} results, p50", f"{timings[name] * 1000:.0f} ms", TARGET)
            )
    return found


if __name__ == "__main__":
    if sys.argv[1:] == ["measure"]:
        measure()
    else:
        print_table(rows())
