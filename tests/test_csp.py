import json
import logging
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from safeguards.views import CSP_REPORT_MAX_BYTES, CSP_REPORT_MAX_VIOLATIONS

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/accounts/signup/",
    "/accounts/signup/done/",
    "/accounts/login/",
    "/accounts/resend/",
    "/accounts/confirm/not-a-token/",
    "/admin/login/",
    "/healthz",
]


def policy(response):
    header = response["Content-Security-Policy"]
    return {
        directive.split()[0]: directive.split()[1:]
        for directive in (part.strip() for part in header.split(";"))
    }


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_strict_policy(client, path):
    response = client.get(path)

    directives = policy(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"][0] == "'self'"
    assert directives["style-src"][0] == "'self'"
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["report-uri"] == [reverse("csp_report")]


class InlineCode(HTMLParser):
    """Collects everything in a page that a strict policy would block as inline code."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"{name}= handler on <{tag}>")
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"javascript: URL on <{tag}>")


def inline_code(html):
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_the_inline_code_check_can_fail():
    page = (
        '<script>alert(1)</script><a href="JavaScript:x()" onclick="y()">a</a>'
        '<p style="color:red"></p><style>p{}</style><script src="/ok.js"></script>'
    )

    assert inline_code(page) == [
        "<script> without src",
        "javascript: URL on <a>",
        "onclick= handler on <a>",
        "style= on <p>",
        "<style>",
    ]


ANONYMOUS_PAGES = [
    ("/", 200),
    ("/accounts/signup/", 200),
    ("/accounts/signup/done/", 200),
    ("/accounts/login/", 200),
    ("/accounts/resend/", 200),
    ("/accounts/password-reset/", 200),
    ("/accounts/password-reset/sent/", 200),
    ("/accounts/confirm/not-a-token/", 400),
    ("/admin/login/", 200),
]
MEMBER_PAGES = [
    ("/", 200),
    ("/accounts/profile/", 200),
    ("/people/", 200),
    ("/people/?q=ann", 200),
    ("/notifications/webhooks/", 200),
    ("/admin/", 200),
]


def test_pages_carry_no_inline_script_or_style(client, make_user):
    for path, status in ANONYMOUS_PAGES:
        response = client.get(path)
        # A redirect's empty body would pass any check of its content.
        assert response.status_code == status, path
        assert "</html>" in response.text, path
        assert inline_code(response.text) == [], path

    member = make_user(confirmed=True)
    member.is_staff = member.is_superuser = True  # The admin's own pages too.
    member.save()
    client.force_login(member)
    for path, status in MEMBER_PAGES:
        response = client.get(path)
        assert response.status_code == status, path
        assert "</html>" in response.text, path
        assert inline_code(response.text) == [], path


def post_report(client, body, content_type="application/csp-report"):
    return client.generic("POST", reverse("csp_report"), body, content_type=content_type)


def test_report_endpoint_logs_a_violation(client, caplog):
    report = {
        "csp-report": {
            "document-uri": "https://example.com/accounts/signup/",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "blocked-uri": "inline",
        }
    }

    with caplog.at_level(logging.WARNING, logger="safeguards.csp"):
        response = post_report(client, json.dumps(report))

    assert response.status_code == 204
    [record] = caplog.records
    assert record.getMessage() == (
        'CSP violation: directive="script-src-elem" blocked="inline" '
        'document="https://example.com/accounts/signup/"'
    )


def test_report_endpoint_accepts_the_reporting_api_format(client, caplog):
    reports = [
        {
            "type": "csp-violation",
            "body": {
                "documentURL": "https://example.com/",
                "effectiveDirective": "style-src-elem",
                "blockedURL": "https://evil.example/x.css",
            },
        }
    ]

    with caplog.at_level(logging.WARNING, logger="safeguards.csp"):
        response = post_report(client, json.dumps(reports), "application/reports+json")

    assert response.status_code == 204
    assert 'directive="style-src-elem" blocked="https://evil.example/x.css"' in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"csp-report": "a string"}',
        b'[{"type": "csp-violation"}]',
        b"[" * 5_000 + b"]" * 5_000,
    ],
    ids=["empty", "not-json", "not-utf8", "empty-list", "wrong-shape", "no-body", "deep"],
)
def test_report_endpoint_refuses_malformed_reports(client, body):
    response = post_report(client, body)

    assert response.status_code == 400


def test_report_endpoint_refuses_oversized_reports_unread(client):
    body = json.dumps({"csp-report": {"blocked-uri": "x" * CSP_REPORT_MAX_BYTES}})

    response = post_report(client, body)

    assert response.status_code == 413


def test_report_endpoint_takes_only_post(client):
    assert client.get(reverse("csp_report")).status_code == 405


def test_report_cannot_forge_log_lines(client, caplog):
    forged = "x\ntime=2026-01-01 level=ERROR logger=django.security Fake\r\x1b[31m\u2028\x00"
    report = {
        "csp-report": {"blocked-uri": forged, "document-uri": "https://example.com/ level=ERROR"}
    }

    with caplog.at_level(logging.WARNING, logger="safeguards.csp"):
        assert post_report(client, json.dumps(report)).status_code == 204

    [record] = caplog.records
    line = logging.Formatter("time=%(asctime)s level=%(levelname)s %(message)s").format(record)
    assert len(line.splitlines()) == 1
    assert line.isprintable()
    # Each value is one quoted token, so a log parser can't read a second level= field.
    assert 'blocked="x\\ntime=2026-01-01 level=ERROR' in line
    assert 'document="https://example.com/ level=ERROR"' in line


def test_one_report_logs_a_bounded_number_of_lines(client, caplog):
    many = [
        {"type": "csp-violation", "body": {"effectiveDirective": "img-src", "blockedURL": "x"}}
    ] * 150

    with caplog.at_level(logging.WARNING, logger="safeguards.csp"):
        assert post_report(client, json.dumps(many), "application/reports+json").status_code == 204

    assert len(caplog.records) == CSP_REPORT_MAX_VIOLATIONS + 1
    left_out = 150 - CSP_REPORT_MAX_VIOLATIONS
    assert caplog.records[-1].getMessage() == (
        f"CSP violations not logged: {left_out} more in the same report"
    )


def test_long_values_are_cut_short(client, caplog):
    report = {"csp-report": {"blocked-uri": "https://evil.example/" + "a" * 5000}}

    with caplog.at_level(logging.WARNING, logger="safeguards.csp"):
        post_report(client, json.dumps(report))

    assert len(caplog.records[0].getMessage()) < 1000


def test_reports_are_limited_per_client(client, caplog, settings):
    limit = settings.RATE_LIMITS["csp_report"]["per_client"]
    report = json.dumps({"csp-report": {"blocked-uri": "inline"}})

    with caplog.at_level(logging.WARNING, logger="safeguards.csp"):
        statuses = [post_report(client, report).status_code for _ in range(limit + 3)]

    assert statuses == [204] * limit + [429] * 3
    assert len([r for r in caplog.records if r.name == "safeguards.csp"]) == limit
