"""Every page of the site on a phone, and through assistive technology.

Each page in PAGES is opened at 360 px wide (the narrowest common phone) and must not
scroll sideways, with no element reaching past the screen, and must have no WCAG 2 A/AA
violation that axe-core finds. When a page fails, screenshots of it at 360 px and 1280 px
are kept with the test results (test-results/<test>/).

To check a new page, add one line to PAGES: a name, then the path, or a function that
takes (page, site) and gets the browser there; member=True to see it logged in.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import RequestFactory
from django.views import defaults
from playwright.sync_api import Page, expect

from peers.receiver import Answer, Receiver

from ..processes import wait_for
from .site import Site, confirmation_link, visitor_headers
from .test_browser import PASSWORD, confirm, log_in, sign_up

PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 800}
WCAG_AND_BEST_PRACTICE = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@dataclass(frozen=True)
class Visit:
    name: str
    where: str | Callable[[Page, Site], object]
    member: bool = False
    # axe rules that can't pass on a page the site doesn't write (Django's admin).
    skip_rules: tuple[str, ...] = ()

    def open(self, page: Page, site: Site):
        if callable(self.where):
            self.where(page, site)
        else:
            page.goto(self.where)


def sign_up_a_visitor(page: Page, site: Site):
    sign_up(page, f"phone-{time.time_ns()}@example.com")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()


def ask_for_the_link_again(page: Page, site: Site):
    page.goto("/accounts/resend/")
    page.get_by_label("Email").fill(f"phone-{time.time_ns()}@example.com")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("a new link is on its way")).to_be_visible()


def open_the_mailed_confirmation_link(page: Page, site: Site):
    email = f"phone-{time.time_ns()}@example.com"
    sign_up(page, email)
    page.goto(confirmation_link(site.wait_for_mail(email)))
    expect(page.get_by_role("button", name="Confirm my address")).to_be_visible()


def confirm_with_a_wrong_password(page: Page, site: Site):
    open_the_mailed_confirmation_link(page, site)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.locator(".errorlist")).to_be_visible()


def ask_for_a_password_link(page: Page, site: Site, email=None):
    page.goto("/accounts/password-reset/")
    page.get_by_label("Email").fill(email or f"phone-{time.time_ns()}@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()


def open_the_mailed_password_link(page: Page, site: Site):
    email = f"phone-{time.time_ns()}@example.com"
    sign_up(page, email)
    ask_for_a_password_link(page, site, email)
    # The first mail is the signup's confirmation link; the second sets the password.
    text = site.wait_for_mail(email, count=2).get_body(("plain",)).get_content()
    page.goto(re.search(r"http://\S+/accounts/password-reset/\S+/\S+/", text).group(0))
    expect(page.get_by_role("button", name="Set password")).to_be_visible()


def set_mismatched_passwords(page: Page, site: Site):
    open_the_mailed_password_link(page, site)
    page.get_by_label("New password", exact=True).fill("a-brand-new-passphrase")
    page.get_by_label("New password confirmation").fill("another-passphrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".errorlist")).to_be_visible()


def set_a_new_password(page: Page, site: Site):
    open_the_mailed_password_link(page, site)
    page.get_by_label("New password", exact=True).fill(f"new-{PASSWORD}")
    page.get_by_label("New password confirmation").fill(f"new-{PASSWORD}")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()


def show_the_server_error_page(page: Page, site: Site):
    # No page of the site fails on purpose, so the browser is handed what Django's own
    # server_error view renders (templates/500.html) at an address of the site; its
    # stylesheet comes from the running site as usual.
    response = defaults.server_error(RequestFactory().get("/"))
    page.route(
        "**/server-error/",
        lambda route: route.fulfill(status=500, body=response.content, content_type="text/html"),
    )
    page.goto("/server-error/")


def open_the_endpoint(page: Page, site: Site):
    page.goto("/notifications/webhooks/")
    page.get_by_role("link", name="tasks-demo").click()
    expect(page.locator("tr.delivery")).to_have_count(3)


PAGES = [
    Visit("home", "/"),
    Visit("signup", "/accounts/signup/"),
    Visit("check inbox", sign_up_a_visitor),
    Visit("login", "/accounts/login/"),
    Visit("resend", "/accounts/resend/"),
    Visit("resend done", ask_for_the_link_again),
    Visit("confirm", open_the_mailed_confirmation_link),
    Visit("confirm, wrong password", confirm_with_a_wrong_password),
    Visit("confirm failed", "/accounts/confirm/not-a-real-token/"),
    Visit("password reset", "/accounts/password-reset/"),
    Visit("password reset sent", ask_for_a_password_link),
    Visit("set new password", open_the_mailed_password_link),
    Visit("set new password, mismatched", set_mismatched_passwords),
    Visit("set new password, link invalid", "/accounts/password-reset/MQ/not-a-token/"),
    Visit("new password set", set_a_new_password),
    Visit("not found", "/no-such-page/"),
    Visit("server error", show_the_server_error_page),
    # Django's admin login template blanks its <h1>: a best practice, not a WCAG failure.
    Visit("admin login", "/admin/login/", skip_rules=("page-has-heading-one",)),
    Visit("home, logged in", "/", member=True),
    Visit("profile", "/accounts/profile/", member=True),
    Visit("people with results", "/people/?q=analytical", member=True),
    Visit("webhooks", "/notifications/webhooks/", member=True),
    Visit("endpoint with deliveries", open_the_endpoint, member=True),
    Visit("not found, logged in", "/no-such-page/", member=True),
]


@dataclass
class Member:
    email: str
    storage_state: dict


@pytest.fixture(scope="session")
def member(browser, site) -> Member:
    """A member with a long address, a profile in the directory, and a webhook endpoint
    whose log has one delivery of each kind: delivered, failed, and pending a retry."""
    email = f"a.member.with.a.rather.long.address.{time.time_ns()}@subdomain.example.com"
    context = browser.new_context(base_url=site.url, extra_http_headers=visitor_headers())
    page = context.new_page()
    sign_up(page, email)
    confirm(page, confirmation_link(site.wait_for_mail(email)))
    log_in(page, email)

    page.goto("/accounts/profile/")
    page.get_by_label("Display name").fill("Ada Lovelace")
    page.get_by_label("Headline").fill("Analytical engine programmer")
    page.get_by_role("button", name="Save profile").click()

    def in_directory():
        page.goto("/people/?q=analytical")
        # Exactly: test_browser.py's members are "Ada Lovelace <n>", with the same headline.
        return page.get_by_text("Ada Lovelace", exact=True).count() == 1

    wait_for(in_directory, timeout=15, interval=0.2, message="the profile to reach the directory")

    with Receiver() as receiver:
        page.goto("/notifications/webhooks/")
        # One long unbroken word, as real endpoint URLs often are.
        url = f"{receiver.url}/tasks-demo/members/profile-updates?subscription={'7f3a' * 12}"
        page.get_by_label("URL").fill(url)
        page.get_by_label("Email address confirmed").check()
        page.get_by_role("button", name="Add endpoint").click()
        rows = page.locator("tr.delivery")

        page.get_by_role("button", name="Send a test event").click()
        expect(page.locator("tr.delivery-delivered")).to_have_count(1, timeout=15_000)

        # 410 Gone fails the delivery and disables the endpoint; the member turns it back on.
        receiver.answer(Answer(status=410))
        page.get_by_role("button", name="Send a test event").click()
        expect(page.locator("tr.delivery-failed")).to_have_count(1, timeout=15_000)
        page.get_by_label("Active").check()
        page.get_by_role("button", name="Save", exact=True).click()

        receiver.answer(Answer(status=503, headers={"Retry-After": "3600"}))
        page.get_by_role("button", name="Send a test event").click()
        expect(rows.first).to_contain_text("HTTP 503", timeout=15_000)
    retry_in_an_hour = re.compile("in (59 minutes|1 hour)")
    expect(page.locator("tr.delivery-pending")).to_contain_text(retry_in_an_hour)

    state = context.storage_state()
    context.close()
    return Member(email, state)


@pytest.fixture
def browser_context_args(browser_context_args, visit, request):
    """Each page opens on a phone's screen, as a member where the visit says so."""
    args = {**browser_context_args, "viewport": PHONE}
    if visit.member:
        args["storage_state"] = request.getfixturevalue("member").storage_state
    return args


# Elements reaching past the viewport's sides, outermost only, unless a container that
# scrolls or clips sideways (a .table-scroll) holds them in.
OVERFLOWING_ELEMENTS = """() => {
  const width = document.documentElement.clientWidth;
  const pastTheEdge = (element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && (box.left < -0.5 || box.right > width + 0.5);
  };
  // Only a container the element is laid out in clips it: an absolutely positioned
  // element escapes every container up to its nearest positioned one, a fixed one all.
  const heldIn = (element) => {
    let position = getComputedStyle(element).position;
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
      const style = getComputedStyle(parent);
      const contains = position === "absolute" ? style.position !== "static" : position !== "fixed";
      if (contains) {
        if (style.overflowX !== "visible") return true;
        position = style.position;
      }
    }
    return false;
  };
  const describe = (element) => {
    const box = element.getBoundingClientRect();
    const name = element.tagName.toLowerCase()
      + (element.id ? "#" + element.id : "")
      + [...element.classList].map((c) => "." + c).join("");
    const text = element.innerText.trim().replace(/\\s+/g, " ").slice(0, 60);
    return `${name} from ${Math.round(box.left)} to ${Math.round(box.right)} px: "${text}"`;
  };
  const outermost = (element) =>
    element.parentElement === document.body || !pastTheEdge(element.parentElement);
  return [...document.body.querySelectorAll("*")]
    .filter((element) => pastTheEdge(element) && !heldIn(element) && outermost(element))
    .map(describe);
}"""


def sideways_scrolling(page: Page) -> list[str]:
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    problems = []
    if scroll_width > inner_width:
        problems.append(f"The page is {scroll_width} px wide in a {inner_width} px window.")
    for element in page.evaluate(OVERFLOWING_ELEMENTS):
        problems.append(f"Past the screen's edge: {element}")
    return problems


def accessibility_violations(page: Page, skip_rules=(), exclude=()) -> list[str]:
    """axe's report on the page, less the elements `exclude` selects (and what they hold)."""
    results = Axe().run(
        page,
        context={"exclude": [[selector] for selector in exclude]} if exclude else None,
        options={
            "runOnly": {"type": "tag", "values": WCAG_AND_BEST_PRACTICE},
            "rules": {rule: {"enabled": False} for rule in skip_rules},
            "resultTypes": ["violations"],
        },
    )
    return [results.generate_report()] if results.violations_count else []


def keep_screenshots(page: Page, folder: str):
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=Path(folder) / "phone-360px.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=Path(folder) / "desktop-1280px.png", full_page=True)


@pytest.mark.parametrize("visit", PAGES, ids=lambda visit: visit.name)
def test_page_fits_a_phone_and_passes_axe(page: Page, site, visit: Visit, output_path):
    visit.open(page, site)

    problems = sideways_scrolling(page) + accessibility_violations(page, visit.skip_rules)

    if problems:
        keep_screenshots(page, output_path)
        pytest.fail(f"{visit.name} ({page.url}) at 360 px:\n\n" + "\n\n".join(problems))
