"""Pages and mails state durations from settings, so changing a setting can't make them lie."""

import re

from django.conf import settings

from accounts.durations import describe

DURATION = re.compile(
    r"\b(\d+|an?|one|two|three|four|five|six|seven|ten|twelve|fifteen|thirty)\s+"
    r"(second|minute|hour|day|week|month)s?\b",
    re.IGNORECASE,
)


# The pages and mails about accounts, whose durations (link lifetimes, rate-limit
# windows) all come from settings.
ACCOUNT_TEMPLATES = ["accounts", "registration", "emails"]


def test_no_template_states_a_duration_of_its_own():
    templates = settings.BASE_DIR / "templates"
    paths = [*templates.glob("*.html")]
    for folder in ACCOUNT_TEMPLATES:
        paths += (templates / folder).rglob("*")
    stated = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)!r}"
        for path in sorted(paths)
        if path.is_file()
        for match in DURATION.finditer(path.read_text())
    ]

    assert stated == []


def test_the_check_finds_a_stated_duration():
    assert DURATION.search("The link works once and expires in 3 days.")
    assert DURATION.search("Please wait an hour and try again.")
    assert not DURATION.search("expires in {{ confirmation_link_lifetime }}.")


def test_durations_read_as_people_write_them():
    assert describe(3 * 24 * 60 * 60) == "3 days"
    assert describe(60 * 60) == "1 hour"
    assert describe(15 * 60) == "15 minutes"
    assert describe(90) == "90 seconds"
