"""The health check a load balancer asks: the database, and the task engine's problems."""

import logging
import math
import threading
import time

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import engines, pausing

logger = logging.getLogger(__name__)


# The engine's checks cost a few queries (or Redis calls). A load balancer probing every
# second, or a flood of requests to this public URL, gets the last answer for this long.
ENGINE_CHECK_SECONDS = 10
_last_engine_check = (-math.inf, [])
_checking = threading.Lock()
_check_started = -math.inf


def engine_problems() -> list[str]:
    global _last_engine_check, _check_started  # One answer per process, for its threads.
    checked_at, problems = _last_engine_check
    now = time.monotonic()
    if now - checked_at < ENGINE_CHECK_SECONDS:
        return problems
    # One thread asks at a time; the others get the last answer meanwhile, so a Redis
    # or database that answers slowly holds one thread here, not every one.
    if _checking.acquire(blocking=False):
        _check_started = now
        try:
            problems = engines.current().problems()
            _last_engine_check = (time.monotonic(), problems)
        finally:
            _checking.release()
        return problems
    # An engine that hangs (a Redis that stopped answering without closing the
    # connection) would otherwise leave the last answer, maybe "ok", standing for ever.
    # A start older than that answer is the check before it: this one is just starting.
    if _check_started > checked_at and (waited := now - _check_started) >= ENGINE_CHECK_SECONDS:
        return [f"the task engine has not answered for {waited:.0f} s"]
    return problems


@never_cache
@require_safe
def healthz(request):
    """200 when the database answers, 503 when it doesn't: a load balancer's cue to stop.

    The task engine's problems (unreachable, stuck or late tasks) make it "degraded",
    without a 503: pages still work while the queue is late. What they are goes to the
    log, not to whoever asks: task names and host names are nobody else's business.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    # Paused by staff, not stuck: its waiting tasks are no problem (queue names are public).
    paused = {"paused_queues": sorted(names)} if (names := pausing.recently_paused()) else {}
    if problems := engine_problems():
        logger.warning("event=tasks_degraded problems=%r", problems)
        return JsonResponse({"status": "degraded", **paused})
    return JsonResponse({"status": "ok", **paused})
