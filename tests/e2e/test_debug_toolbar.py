"""Development settings in a real browser: django-debug-toolbar's Tasks panel lists the task
a request enqueued, under the site's nonce CSP with no violation, toolbar included, and the
page under the toolbar passes axe. `runserver` runs as Procfile.dev runs it, on a throwaway
database."""

import subprocess
import sys

import pytest
from django.conf import settings
from playwright.sync_api import expect

from ..processes import Process, wait_for
from .site import free_port
from .test_pages import accessibility_violations

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def dev_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dev")
    env = {
        "PATH": f"{sys.prefix}/bin:/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DEV_DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    for command in (["migrate", "--noinput"], ["createcachetable"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
        )
    port = free_port()
    web = Process(f"python manage.py runserver --noreload 127.0.0.1:{port}", tmp / "web.log", env)
    url = f"http://127.0.0.1:{port}"

    def answers():
        if web.popen.poll() is not None:
            raise RuntimeError(f"runserver exited early:\n{web.output}")
        return "Quit the server" in web.output

    try:
        wait_for(answers, timeout=30, message="runserver to listen")
        yield url, web
    finally:
        web.stop()


def test_the_tasks_panel_shows_what_a_signup_enqueued(browser, dev_site):
    url, web = dev_site
    page = browser.new_page()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    # A page that uses no nonce itself (the admin's login): the toolbar's scripts still run.
    page.goto(url + "/admin/login/")
    expect(page.locator("#djdt-TasksPanel")).to_contain_text("0 tasks")

    page.goto(url + "/accounts/signup/")
    page.get_by_label("Email").fill("dev@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    # The signup's POST redirected: the toolbar's history holds it, and the Tasks panel
    # lists what the POST enqueued once it is chosen there.
    page.locator("#djdt-HistoryPanel").click()
    post = page.get_by_role("row").filter(has_text="POST").filter(has_text="/accounts/signup/")
    request_panel = page.locator("#djdt-RequestPanel")

    def switched() -> bool:
        # The panel's script loads after its rows show: a click before it does nothing,
        # and a person would click again.
        post.get_by_role("button", name="Switch").click()
        try:
            expect(request_panel).to_contain_text("SignupView", timeout=2000)
        except AssertionError:
            return False
        return True

    wait_for(switched, timeout=20, message="the toolbar to switch to the signup's POST")
    page.locator("#djdt-TasksPanel").click()
    panel = page.locator("#TasksPanel")
    cells = panel.locator("tbody tr").first.locator("td")
    expect(cells.nth(0)).to_have_text("accounts.tasks.send_confirmation_email")
    expect(cells.nth(1)).to_have_text("email")  # Its queue.

    assert violations == []
    assert "CSP violation" not in web.output
    # The site's page, with the toolbar open over it. The toolbar's own markup fails four
    # of axe's rules (contrast, heading order, title-only labels, landmarks): upstream's to
    # fix, and a development tool's, so it is left out (docs/frontend.md). Last: axe's own
    # reading of the toolbar's shadow styles is itself refused by the CSP.
    assert accessibility_violations(page, exclude=["#djDebugRoot"]) == []
