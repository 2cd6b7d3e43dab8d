"""ImmediateBackend (tests): each task runs inside `.enqueue()`, so there is no worker."""

from django.core.exceptions import ImproperlyConfigured


def run_worker(*, queues: list[str], threads: int, worker_id: str, batch: bool = False) -> None:
    raise ImproperlyConfigured(
        "ImmediateBackend runs tasks inside .enqueue(): there is nothing for a worker to do."
    )


def workers_on_this_host() -> int:
    return 0


def problems() -> list[str]:
    return []
