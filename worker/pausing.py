"""Paused queues: no worker on either engine takes their tasks until they are resumed."""

import json
import logging
import time

from django.conf import settings
from django.db import DatabaseError

from .models import PausedQueue

logger = logging.getLogger(__name__)

# How stale a worker's idea of the paused queues may be (the RQ engine asks between waits).
REFRESH_SECONDS = 1.0
_known = (-REFRESH_SECONDS, None)  # None: never read in this process.


def paused_queues() -> set[str]:
    return set(PausedQueue.objects.values_list("name", flat=True))


def recently_paused() -> frozenset[str]:
    """paused_queues(), asked at most every REFRESH_SECONDS in this process. While the
    database is unreachable, the last answer stands: a worker keeps working. A process
    that has never had an answer takes every queue as paused: RQ's workers would otherwise
    serve a paused queue while only the database is away."""
    global _known
    asked_at, names = _known
    if time.monotonic() - asked_at >= REFRESH_SECONDS:
        try:
            names = frozenset(paused_queues())
        except DatabaseError as error:
            logger.warning("event=paused_queues_unknown error=%s", json.dumps(str(error)[:200]))
        _known = (time.monotonic(), names)
    if names is None:
        return frozenset(settings.TASKS["default"]["QUEUES"])
    return names


def pause(name: str) -> bool:
    """Pause `name`; False if it was paused already."""
    _, created = PausedQueue.objects.get_or_create(name=name)
    forget()
    return created


def resume(name: str) -> bool:
    """Resume `name`; False if it wasn't paused."""
    deleted, _ = PausedQueue.objects.filter(name=name).delete()
    forget()
    return bool(deleted)


def forget() -> None:
    """This process asks again next time: it has just changed what is paused."""
    global _known
    _known = (-REFRESH_SECONDS, _known[1])
