"""The process types of WORKER_PROCESSES and the queues they serve."""

from django.conf import settings


def served_by() -> dict[str, str]:
    """Every queue, in the order the process types serve them, with its process type."""
    return {
        queue: process_type
        for process_type, process in settings.WORKER_PROCESSES.items()
        for queue in process["queues"]
    }


def process_type_of(queues: list[str]) -> str | None:
    """The process type that serves exactly `queues`, in that order; None if none does."""
    for process_type, process in settings.WORKER_PROCESSES.items():
        if list(process["queues"]) == list(queues):
            return process_type
    return None
