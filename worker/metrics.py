"""/metrics: the background work in Prometheus' text format, for the site's monitoring.

Off (404) unless METRICS_TOKEN is set; then it answers only `Authorization: Bearer <it>`.
A scrape costs a handful of queries (or Redis calls), and its answer is kept for
CACHE_SECONDS, so a scraper gone wild can't make it cost more.
"""

import hmac
import logging
import math
import threading
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from . import engines, pausing, retries
from .processes import served_by

logger = logging.getLogger(__name__)

CACHE_SECONDS = 10
_last = (-math.inf, None)
_lock = threading.Lock()


class BackgroundWorkCollector:
    def collect(self):
        engine = engines.current()
        queues = served_by()
        paused = pausing.paused_queues()
        families = {
            "waiting": GaugeMetricFamily(
                "tasks_waiting", "Tasks ready to run now.", labels=["queue"]
            ),
            "oldest_wait": GaugeMetricFamily(
                "tasks_oldest_wait_seconds",
                "How long the oldest ready task has waited.",
                labels=["queue"],
            ),
            "later": GaugeMetricFamily(
                "tasks_due_later", "Tasks waiting for their run_after (retries).", labels=["queue"]
            ),
            "running": GaugeMetricFamily("tasks_running", "Tasks running.", labels=["queue"]),
            "finished_last_hour": GaugeMetricFamily(
                "tasks_finished_last_hour",
                "Tasks finished in the last hour, failed or not.",
                labels=["queue"],
            ),
            "failed_last_hour": GaugeMetricFamily(
                "tasks_failed_last_hour", "Task attempts failed in the last hour.", labels=["queue"]
            ),
        }
        queue_paused = GaugeMetricFamily(
            "queue_paused", "1 while staff have paused the queue.", labels=["queue"]
        )
        for stats in engine.queue_stats(list(queues)):
            for name, family in families.items():
                value = getattr(stats, name)
                if value is not None:
                    family.add_metric([stats.name], value)
            queue_paused.add_metric([stats.name], stats.name in paused)
        workers = GaugeMetricFamily(
            "worker_processes_live", "Live worker processes.", labels=["process_type"]
        )
        for process_type, process in settings.WORKER_PROCESSES.items():
            workers.add_metric([process_type], engine.live_workers(process["queues"]))
        yield from [*families.values(), queue_paused, workers]


def text() -> bytes | None:
    """The metrics, measured at most once every CACHE_SECONDS by one thread at a time;
    None while the task engine doesn't answer. A scrape never waits for another's
    measurement: it gets the last answer instead, so a slow engine holds one thread."""
    global _last
    if time.monotonic() - _last[0] < CACHE_SECONDS:
        return _last[1]
    if not _lock.acquire(blocking=False):
        return _last[1]
    try:
        if time.monotonic() - _last[0] >= CACHE_SECONDS:
            registry = CollectorRegistry()
            registry.register(BackgroundWorkCollector())
            try:
                answer = generate_latest(registry)
            except retries.UNREACHABLE as error:
                logger.warning("event=metrics_unavailable error=%s", type(error).__name__)
                answer = None  # Remembered too: the next scrapes don't ask again at once.
            _last = (time.monotonic(), answer)
        return _last[1]
    finally:
        _lock.release()


@never_cache
@require_safe
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN to turn them on.")
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        return HttpResponse(status=401, headers={"WWW-Authenticate": "Bearer"})
    answer = text()
    if answer is None:
        return HttpResponse("The task engine did not answer.\n", status=503)
    return HttpResponse(answer, content_type=CONTENT_TYPE_LATEST)
