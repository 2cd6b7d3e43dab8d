import os
import shutil
from pathlib import Path

import pytest

from .site import Site, visitor_headers

SYSTEM_CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, playwright):
    """Playwright's own Chromium when installed, else the system's (Debian package `chromium`)."""
    args = [
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        *(["--no-sandbox"] if os.geteuid() == 0 else []),
    ]
    if Path(playwright.chromium.executable_path).exists():
        return {**browser_type_launch_args, "args": args}
    if shutil.which(SYSTEM_CHROMIUM):
        return {**browser_type_launch_args, "args": args, "executable_path": SYSTEM_CHROMIUM}
    message = (
        "No Chromium for the browser tests. Install one with `uv run playwright install "
        "chromium`, or on Debian/Ubuntu `apt-get install chromium`."
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "extra_http_headers": visitor_headers()}


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    running = Site(tmp_path_factory.mktemp("site")).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def base_url(site):
    return site.url


@pytest.fixture(autouse=True)
def no_csp_violations(page, site):
    """Every page a test visits must run under the policy without a single violation,
    seen both in the browser console and at the site's report endpoint."""
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    reports_before = site.web.output.count("CSP violation")
    yield console
    if not getattr(page, "expects_csp_violation", False):
        assert console == []
        assert site.web.output.count("CSP violation") == reports_before
