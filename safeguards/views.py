"""Where browsers report Content Security Policy violations."""

import json
import logging

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .clients import client_address
from .ratelimit import allow

csp_logger = logging.getLogger("safeguards.csp")

# Reports larger than this are refused unread, and at most this many violations of one
# report are logged: whoever sends a report chooses its size.
CSP_REPORT_MAX_BYTES = 16 * 1024
CSP_REPORT_MAX_VIOLATIONS = 5


def _violations(payload):
    """The violation dicts of a report, from `report-uri` ({"csp-report": {...}}) or the
    Reporting API ([{"type": "csp-violation", "body": {...}}, ...]); None if malformed."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list) and payload:
        bodies = [item.get("body") for item in payload if isinstance(item, dict)]
        if len(bodies) == len(payload) and all(isinstance(body, dict) for body in bodies):
            return bodies
    return None


def _escaped(value, limit=300) -> str:
    """A report value as one quoted, printable, bounded token for the log line: ASCII JSON
    escaping shows a sender's line breaks and control characters, and the quotes keep a
    value from posing as another key=value field."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return json.dumps(text)


@csrf_exempt  # Browsers post reports without a CSRF token; nothing here acts for a user.
@require_POST
def csp_report(request):
    limits = settings.RATE_LIMITS["csp_report"]
    if not allow(
        "csp-report-client", client_address(request), limits["per_client"], limits["window_seconds"]
    ):
        return HttpResponse("Too many reports.", status=429, content_type="text/plain")

    limit = CSP_REPORT_MAX_BYTES
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

    shown = CSP_REPORT_MAX_VIOLATIONS
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
