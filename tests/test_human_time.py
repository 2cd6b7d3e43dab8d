from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from notifications.templatetags.human_time import phrase

NOW = datetime(2026, 11, 24, 15, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (timedelta(0), "now"),
        (timedelta(milliseconds=400), "now"),
        (timedelta(seconds=1), "in 1 second"),
        (timedelta(seconds=4.6), "in 5 seconds"),
        (timedelta(seconds=-5), "5 seconds ago"),
        (timedelta(seconds=59.6), "in 1 minute"),
        (timedelta(minutes=4, seconds=50), "in 4 minutes"),
        (timedelta(minutes=-30), "30 minutes ago"),
        (timedelta(hours=2, minutes=59), "in 2 hours"),
        (timedelta(hours=-1), "1 hour ago"),
        (timedelta(days=3, hours=5), "in 3 days"),
    ],
)
def test_times_are_phrased_for_people(offset, words):
    assert phrase(NOW + offset, NOW) == words


def test_a_retry_due_in_seconds_is_not_zero_minutes():
    # The delivery log used Django's timeuntil, which said "0 minutes" for this.
    assert phrase(NOW + timedelta(seconds=5), NOW) == "in 5 seconds"


def test_rendered_as_time_element_with_exact_time():
    when = timezone.now() + timedelta(minutes=4, seconds=30)
    html = Template("{% load human_time %}{{ when|human_time }}").render(Context({"when": when}))

    assert html == (
        f'<time datetime="{when.isoformat()}" title="{when:%-d %b %Y, %H:%M:%S} UTC">'
        "in 4 minutes</time>"
    )


def test_nothing_rendered_without_a_time():
    html = Template("{% load human_time %}[{{ when|human_time }}]").render(Context({"when": None}))

    assert html == "[]"
