import json
import logging

import pytest
from django.urls import reverse

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


def test_pages_carry_no_inline_script_or_style(client, make_user):
    make_user(confirmed=True)
    client.login(username="ann@example.com", password="correct-horse-battery-staple")

    for path in PAGES:
        html = client.get(path).text
        assert "<script>" not in html and "<style" not in html and " style=" not in html


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

    with caplog.at_level(logging.WARNING, logger="config.csp"):
        response = post_report(client, json.dumps(report))

    assert response.status_code == 204
    [record] = caplog.records
    assert record.getMessage() == (
        "CSP violation: script-src-elem blocked inline on https://example.com/accounts/signup/"
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

    with caplog.at_level(logging.WARNING, logger="config.csp"):
        response = post_report(client, json.dumps(reports), "application/reports+json")

    assert response.status_code == 204
    assert "style-src-elem blocked https://evil.example/x.css" in caplog.text


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


def test_report_endpoint_refuses_oversized_reports_unread(client, settings):
    body = json.dumps({"csp-report": {"blocked-uri": "x" * settings.CSP_REPORT_MAX_BYTES}})

    response = post_report(client, body)

    assert response.status_code == 413


def test_report_endpoint_takes_only_post(client):
    assert client.get(reverse("csp_report")).status_code == 405
