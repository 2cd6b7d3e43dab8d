"""static/js/poll.js in a real browser: a page left open asks less and less often.

The checks inbox and delivery log pages poll while something is pending, which can be
hours for a webhook delivery. Each test serves a page of the site's own origin with one
polled fragment and the site's poll.js, and answers the polls itself, counting them.
Asking every second, as poll.js once did, makes one request a second in each of them.
"""

import time

import pytest
from playwright.sync_api import Page, expect

FRAGMENT = '<p id="status" data-poll-url="/poll-test/status/">{}</p>'


def open_polling_page(page: Page, answer) -> list[float]:
    """Load the test page; `answer(route)` answers each poll. Returns when each was asked."""
    page.goto("/")
    script = page.locator("script[src*='poll']").get_attribute("src")
    asked = []

    def on_poll(route):
        asked.append(time.monotonic())
        answer(route)

    page.route("**/poll-test/status/", on_poll)
    page.route(
        "**/poll-test/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f"<!doctype html><title>Polling</title>{FRAGMENT.format('Pending')}"
            f'<script src="{script}" defer></script>',
        ),
    )
    page.goto("/poll-test/")
    return asked


def test_a_page_left_open_asks_less_and_less_often(page: Page, site):
    still_pending = FRAGMENT.format("Still pending")
    asked = open_polling_page(
        page, lambda route: route.fulfill(content_type="text/html", body=still_pending)
    )

    expect(page.locator("#status")).to_have_text("Still pending")
    page.wait_for_timeout(7_000)

    # After 1 s, then each wait a quarter longer: 1, 2.25, 3.8 and 5.8 s.
    assert 3 <= len(asked) <= 5, f"{len(asked)} polls in 7 s"
    assert asked[-1] - asked[-2] > asked[1] - asked[0]


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 404, "body": "Not found"},
        # Logged out: the fragment's view redirects to the login page.
        {"status": 302, "headers": {"Location": "/accounts/login/"}},
    ],
    ids=["gone", "logged out"],
)
def test_polling_stops_when_the_page_is_gone_or_the_member_logged_out(page: Page, site, answer):
    asked = open_polling_page(page, lambda route: route.fulfill(**answer))

    page.wait_for_timeout(4_000)

    assert len(asked) == 1
    expect(page.locator("#status")).to_have_text("Pending")


def test_a_busy_server_is_asked_again_when_it_says(page: Page, site):
    asked = open_polling_page(
        page,
        lambda route: route.fulfill(status=503, headers={"Retry-After": "3"}, body="Busy"),
    )

    page.wait_for_timeout(5_500)

    # After 1 s, then 3 s later as asked; the next would be 7.5 s after that.
    assert len(asked) == 2, f"{len(asked)} polls in 5.5 s"
    assert asked[1] - asked[0] >= 2.9
