"""ImmediateBackend (tests): each task runs inside `.enqueue()`, so there is no worker."""

from django.core.exceptions import ImproperlyConfigured

from . import QueueStats


def run_worker(*, queues: list[str], threads: int, worker_id: str, batch: bool = False) -> None:
    raise ImproperlyConfigured(
        "ImmediateBackend runs tasks inside .enqueue(): there is nothing for a worker to do."
    )


def live_workers_here(queues: list[str] | None = None) -> int:
    return 0


def live_workers(queues: list[str]) -> int:
    return 0


def problems(queues: list[str] | None = None) -> list[str]:
    return []


def recover_dead_tasks() -> int:
    return 0


def prune_results() -> None:
    pass  # Nothing is stored.


def queue_stats(queues: list[str]) -> list[QueueStats]:
    return [QueueStats(name, 0, None, 0, 0, None, None) for name in queues]


def due_later(limit: int) -> tuple[int, list]:
    return 0, []


def run_now(result_id: str) -> bool:
    return False


def workers(limit: int) -> list:
    return []


def task_path(result_id: str) -> None:
    return None  # Nothing is stored.
