"""Site-wide endpoints that belong to no app: the health check and CSP violation reports."""

import json
import logging
import math
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from accounts.ratelimit import allow, client_address
from worker import engines

logger = logging.getLogger(__name__)
csp_logger = logging.getLogger("config.csp")


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
    if problems := engine_problems():
        logger.warning("event=tasks_degraded problems=%r", problems)
        return JsonResponse({"status": "degraded"})
    return JsonResponse({"status": "ok"})


def _violations(payload):
    """The violation dicts in a report, in either format browsers send, or None if malformed.

    `report-uri` sends {"csp-report": {...}}; the Reporting API sends a list of
    {"type": "csp-violation", "body": {...}}.
    """
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list) and payload:
        bodies = [item.get("body") for item in payload if isinstance(item, dict)]
        if len(bodies) == len(payload) and all(isinstance(body, dict) for body in bodies):
            return bodies
    return None


def _escaped(value, limit=300) -> str:
    """A report value as one quoted, printable, bounded token for the log line.

    Everything in a report is chosen by whoever sent it. JSON string escaping (ASCII
    only) turns newlines, control characters and Unicode line separators into visible
    escapes, and the quotes keep a value from posing as another key=value field.
    """
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return json.dumps(text)


@csrf_exempt  # Browsers post reports without a CSRF token; nothing here changes state.
@require_POST
def csp_report(request):
    limits = settings.CSP_REPORT_RATE_LIMIT
    if not allow(
        "csp-report-client", client_address(request), limits["per_client"], limits["window_seconds"]
    ):
        return HttpResponse("Too many reports.", status=429, content_type="text/plain")

    limit = settings.CSP_REPORT_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse("Bad Content-Length.", status=400, content_type="text/plain")
    if declared > limit:
        return HttpResponse("Report too large.", status=413, content_type="text/plain")

    body = request.read(limit + 1)
    if len(body) > limit:
        return HttpResponse("Report too large.", status=413, content_type="text/plain")
    try:
        violations = _violations(json.loads(body))
    except (ValueError, RecursionError):  # Bad JSON, bad UTF-8, or absurd nesting.
        violations = None
    if violations is None:
        return HttpResponse("Not a CSP report.", status=400, content_type="text/plain")

    shown = settings.CSP_REPORT_MAX_VIOLATIONS
    for violation in violations[:shown]:
        csp_logger.warning(
            "CSP violation: directive=%s blocked=%s document=%s",
            _escaped(
                violation.get("effective-directive")
                or violation.get("effectiveDirective")
                or violation.get("violated-directive")
            ),
            _escaped(violation.get("blocked-uri") or violation.get("blockedURL")),
            _escaped(violation.get("document-uri") or violation.get("documentURL")),
        )
    if len(violations) > shown:
        csp_logger.warning(
            "CSP violations not logged: %d more in the same report", len(violations) - shown
        )
    return HttpResponse(status=204)
