"""Measurements of the configured task engine, through django.tasks only.

    python -m bench.engine enqueue N      time N calls of .enqueue(); print the samples
    python -m bench.engine fill N         enqueue N no-op tasks; print their result ids
    python -m bench.engine trickle N      enqueue N no-ops one by one, 0.15-0.35 s apart
    python -m bench.engine mail N         enqueue a confirmation email to each of N members
                                          (bench/members.py makes them)
    python -m bench.engine timings FILE   for the result ids in FILE, print started_at -
                                          enqueued_at and the span from first start to
                                          last finish, once every one has finished

Run by bench/__main__.py with DJANGO_SETTINGS_MODULE=bench.settings, DATABASE_URL and,
for RQ, TASKS_ENGINE=rq and REDIS_URL. Each prints JSON. It names no table of either
engine: what it reads comes from the task results.
"""

import json
import random
import sys
import time

import django

django.setup()

from django.tasks import default_task_backend  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.tasks import send_confirmation_email  # noqa: E402
from bench.tasks import noop  # noqa: E402


def enqueue(count):
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        noop.enqueue()
        samples.append(time.perf_counter() - started)
    return samples


def fill(count):
    return [noop.enqueue().id for _ in range(count)]


def trickle(count):
    ids = []
    for _ in range(count):
        ids.append(noop.enqueue().id)
        time.sleep(random.uniform(0.15, 0.35))
    return ids


def mail(count):
    members = User.objects.order_by("pk").values_list("pk", flat=True)[:count]
    return [send_confirmation_email.enqueue(pk).id for pk in members]


def timings(path):
    with open(path) as ids:
        results = [default_task_backend.get_result(result_id) for result_id in json.load(ids)]
    unfinished = [result.id for result in results if result.finished_at is None]
    if unfinished:
        raise SystemExit(f"{len(unfinished)} of {len(results)} tasks did not finish.")
    return {
        "waits": [(r.started_at - r.enqueued_at).total_seconds() for r in results],
        "span": (
            max(r.finished_at for r in results) - min(r.started_at for r in results)
        ).total_seconds(),
    }


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    measure = {
        "enqueue": enqueue,
        "fill": fill,
        "trickle": trickle,
        "mail": mail,
        "timings": timings,
    }
    print(json.dumps(measure[command](argument if command == "timings" else int(argument))))
