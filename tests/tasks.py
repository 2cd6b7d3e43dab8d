"""Tasks that exist only for tests of the worker itself: slow, and leaving a trace on disk."""

import time
from pathlib import Path

from django.tasks import task


@task
def sleep_then_record(seconds: float, path: str) -> str:
    """Write "started", sleep, write "finished": a test can tell how far it got."""
    Path(path).write_text("started")
    time.sleep(seconds)
    Path(path).write_text("finished")
    return "finished"


@task
def record(number: int, path: str) -> int:
    """Append `number` to a file; each run adds a line, so duplicates show."""
    with open(path, "a") as log:
        log.write(f"{number}\n")
    return number


@task
def fail() -> None:
    """Fail every time, with no retries: what a task's failure leaves behind."""
    raise RuntimeError("failed on purpose")
