"""Staff steer the background work in a real browser, against real processes, on the
engine TASKS_ENGINE names: a mail that failed for good is retried once the server is
fixed, failures are retried in bulk or discarded, and a paused queue waits."""

import pytest
from playwright.sync_api import Page, expect

from peers.smtp import SMTPServer

from ..engines import REDIS_URL
from ..processes import wait_for
from .site import Site, visitor_headers

PASSWORD = "correct-horse-battery-staple"
STAFF = "operator@example.com"
NO_SUCH_USER = "550 5.1.1 No such user"


@pytest.fixture(scope="module")
def mail_server():
    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def operated(tmp_path_factory, mail_server):
    """A site of its own, sending mail to `mail_server`, with its own Redis database."""
    running = Site(
        tmp_path_factory.mktemp("operated"),
        redis_url=REDIS_URL.rpartition("/")[0] + "/14",
        E2E_SMTP_PORT=str(mail_server.port),
    ).start()
    made = running.processes.manage(
        "shell",
        "-c",
        f"from accounts.models import User; User.objects.create_superuser({STAFF!r}, {PASSWORD!r})",
    )
    assert made.returncode == 0, made.stdout
    yield running
    running.stop()


def sign_up(browser, site, email):
    """A visitor of their own signs up; the page they are left on."""
    page = browser.new_page(extra_http_headers=visitor_headers())
    page.goto(site.url + "/accounts/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    return page


def mail_to(server, address):
    return [m for m in server.messages if m["To"] == address]


def failed_list(page: Page, site, count: int):
    """Open the failed list from the admin's index, once it holds `count` tasks."""

    def listed():
        page.goto(site.url + "/admin/")
        page.get_by_role("link", name="Background work", exact=True).click()
        link = page.get_by_role("link", name="Failed tasks")
        return link.inner_text() == f"Failed tasks ({count})" and link

    wait_for(listed, timeout=20, message=f"{count} failed task(s) on the list").click()


def row(page: Page, text: str):
    return page.get_by_role("row").filter(has_text=text)


def test_staff_retry_discard_and_pause(page: Page, browser, operated, mail_server):
    page.goto(operated.url + "/admin/login/")
    page.get_by_label("Email").fill(STAFF)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # A mail server that refuses the address: the mail fails for good.
    mail_server.refusals = [NO_SUCH_USER]
    sign_up(browser, operated, "first@example.com")
    failed_list(page, operated, 1)
    expect(row(page, "send_confirmation_email")).to_contain_text("SMTPRecipientsRefused")

    # The server is fixed; Retry sends it.
    mail_server.refusals = []
    row(page, "send_confirmation_email").get_by_role("button", name="Retry").click()
    expect(page.get_by_text("Retried send_confirmation_email")).to_be_visible()
    wait_for(
        lambda: mail_to(mail_server, "first@example.com"), timeout=20, message="the retried mail"
    )

    # Two more fail; a filtered bulk retry, confirmed on a page of its own, sends both.
    mail_server.refusals = [NO_SUCH_USER, NO_SUCH_USER]
    sign_up(browser, operated, "second@example.com")
    sign_up(browser, operated, "third@example.com")
    failed_list(page, operated, 2)
    page.get_by_label("Task").select_option(label="send_confirmation_email")
    page.get_by_role("button", name="Filter").click()
    mail_server.refusals = []
    page.get_by_role("button", name="Retry all 2").click()
    expect(page.get_by_text("Retry 2 failed tasks")).to_be_visible()
    page.get_by_role("button", name="Yes, retry 2").click()
    for address in ("second@example.com", "third@example.com"):
        wait_for(
            lambda a=address: mail_to(mail_server, a), timeout=20, message=f"mail to {address}"
        )

    # One more fails, and is discarded.
    mail_server.refusals = [NO_SUCH_USER]
    sign_up(browser, operated, "fourth@example.com")
    failed_list(page, operated, 1)
    row(page, "send_confirmation_email").get_by_role("button", name="Discard").click()
    expect(page.get_by_text("No failed tasks")).to_be_visible()

    # Paused, the email queue keeps a signup's mail waiting; resumed, it is sent.
    page.goto(operated.url + "/admin/")
    page.get_by_role("link", name="Background work", exact=True).click()
    row(page, "email").first.get_by_role("button", name="Pause").click()
    expect(row(page, "email").first.get_by_role("button", name="Resume")).to_be_visible()
    # RQ's workers notice a pause within pausing.REFRESH_SECONDS (docs/operating.md).
    page.wait_for_timeout(1500)
    waiting = sign_up(browser, operated, "fifth@example.com")
    page.wait_for_timeout(3000)  # Longer than a worker takes to send a mail it was given.
    assert mail_to(mail_server, "fifth@example.com") == []
    expect(waiting.locator("#email-status")).not_to_contain_text("Sent")
    row(page, "email").first.get_by_role("button", name="Resume").click()
    wait_for(
        lambda: mail_to(mail_server, "fifth@example.com"), timeout=20, message="mail after resume"
    )
