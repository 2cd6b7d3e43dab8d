"""A real browser against the real processes: what a visitor does, and what they see."""

import itertools
import json
import re
import time

import pytest
from playwright.sync_api import Page, expect

from peers.receiver import Receiver

from ..processes import wait_for
from .site import confirmation_link

PASSWORD = "correct-horse-battery-staple"
numbers = itertools.count()


@pytest.fixture
def email():
    return f"visitor{next(numbers)}-{int(time.time() * 1000)}@example.com"


def sign_up(page: Page, email: str):
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def log_in(page: Page, email: str):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(email)


def confirm(page: Page, link: str):
    """Open the mailed link and press its button: only that POST confirms."""
    page.goto(link)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm my address").click()


def member(page: Page, site, email: str):
    """A confirmed, logged-in member, made the way a visitor would."""
    sign_up(page, email)
    confirm(page, confirmation_link(site.wait_for_mail(email)))
    log_in(page, email)


def test_signup_confirmation_email_and_login(page: Page, site, email):
    sign_up(page, email)

    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    # poll.js refreshes the status in place while the worker sends the email.
    expect(page.locator("#email-status")).to_contain_text("Sent", timeout=15_000)
    message = site.wait_for_mail(email)
    assert message["Subject"] == "Confirm your email address"

    confirm(page, confirmation_link(message))
    expect(page.get_by_text("Your email address is confirmed")).to_be_visible()
    log_in(page, email)


def test_password_reset_from_the_mail_to_logging_in(page: Page, site, email):
    new_password = "a-brand-new-passphrase"
    member(page, site, email)
    page.get_by_role("button", name="Log out").click()

    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    message = site.wait_for_mail(email, count=2)
    assert message["Subject"] == "Set a new password"
    text = message.get_body(("plain",)).get_content()
    page.goto(re.search(r"http://\S+/accounts/password-reset/\S+/\S+/", text).group(0))
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password confirmation").fill(new_password)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(new_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(email)


def test_unconfirmed_member_is_told_to_confirm(page: Page, site, email):
    sign_up(page, email)

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_text("Please confirm your email address first")).to_be_visible()


def test_resend_confirmation(page: Page, site, email):
    sign_up(page, email)
    site.wait_for_mail(email)

    page.goto("/accounts/resend/")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_text("a new link is on its way")).to_be_visible()
    confirm(page, confirmation_link(site.wait_for_mail(email, count=2)))
    expect(page.get_by_text("Your email address is confirmed")).to_be_visible()


def test_bad_and_used_confirmation_links(page: Page, site, email):
    page.goto("/accounts/confirm/not-a-real-token/")
    expect(page.get_by_role("heading", name="This link isn't valid")).to_be_visible()
    page.get_by_role("link", name="Ask for a new email").click()
    expect(page.get_by_role("heading", name="Send the confirmation link again")).to_be_visible()

    sign_up(page, email)
    link = confirmation_link(site.wait_for_mail(email))
    confirm(page, link)
    page.goto(link)
    expect(page.get_by_role("heading", name="This link has already been used")).to_be_visible()


def test_profile_edit_is_found_in_the_directory(page: Page, site, email):
    member(page, site, email)
    name = f"Ada Lovelace {next(numbers)}"

    page.goto("/accounts/profile/")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Headline").fill("Analytical engine programmer")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved")).to_be_visible()

    # The directory shows what the worker has indexed; it takes a moment.
    def found():
        page.goto("/people/?q=analytical+engine")
        return page.get_by_text(name).count() == 1

    wait_for(found, timeout=15, interval=0.2, message="the profile to reach the directory")


def test_webhook_deliveries_are_signed_and_logged(page: Page, site, email):
    member(page, site, email)
    with Receiver() as receiver:
        page.goto("/notifications/webhooks/")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Profile updated").check()
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.locator("#signing-secret").inner_text()
        assert secret.startswith("whsec_")

        page.get_by_role("button", name="Send a test event").click()
        log = page.locator("#delivery-log")
        expect(log.locator("tr.delivery-delivered")).to_have_count(1, timeout=15_000)

        endpoint_url = page.url
        page.goto("/accounts/profile/")
        page.get_by_label("Display name").fill("Hooked Member")
        page.get_by_role("button", name="Save profile").click()
        page.goto(endpoint_url)
        expect(log.locator("tr.delivery-delivered")).to_have_count(2, timeout=15_000)

    events = [json.loads(request.body)["type"] for request in receiver.received]
    assert events == ["webhook.test", "profile.updated"]
    assert all(request.signature_is_valid(secret) for request in receiver.received)
    expect(log).to_contain_text("profile.updated")


def test_a_violation_would_be_caught(page: Page, site, no_csp_violations):
    """The CSP checks above can fail: an inline script is blocked, logged and reported."""
    page.expects_csp_violation = True
    reports_before = site.web.output.count("CSP violation")
    page.goto("/")

    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
    )

    assert page.evaluate("() => window.injected === undefined")
    wait_for(
        lambda: site.web.output.count("CSP violation") > reports_before,
        timeout=10,
        message="the browser's report to reach /csp-report/",
    )
    assert any("script-src" in message for message in no_csp_violations)
