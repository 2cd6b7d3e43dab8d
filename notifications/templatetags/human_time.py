"""Times as people say them: "now", "in 5 seconds", "4 minutes ago".

    {% load human_time %}
    Next attempt: {{ delivery.next_attempt_at|human_time }}

renders a <time> element whose words count from the moment the page is rendered, with
the exact time in its datetime attribute (for machines) and its title (for people).
"""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

register = template.Library()

# Largest unit first: an amount is said in whole units of the largest one it reaches.
UNITS = [
    (24 * 3600, lambda n: ngettext("%(count)d day", "%(count)d days", n)),
    (3600, lambda n: ngettext("%(count)d hour", "%(count)d hours", n)),
    (60, lambda n: ngettext("%(count)d minute", "%(count)d minutes", n)),
    (1, lambda n: ngettext("%(count)d second", "%(count)d seconds", n)),
]


def phrase(when: datetime, now: datetime) -> str:
    """How far `when` is from `now`, in words: "now", "in 5 seconds", "2 hours ago"."""
    seconds = (when - now).total_seconds()
    # Rounded to the second first, so that 59.6 seconds reads "1 minute", not "60 seconds".
    distance = round(abs(seconds))
    if distance == 0:
        return gettext("now")
    size, words = next((size, words) for size, words in UNITS if distance >= size)
    count = distance // size
    amount = words(count) % {"count": count}
    if seconds > 0:
        return gettext("in %(amount)s") % {"amount": amount}
    return gettext("%(amount)s ago") % {"amount": amount}


@register.filter
def human_time(when: datetime | None) -> str:
    """`when` as a <time> element that reads "in 4 minutes", exact in its title."""
    if not isinstance(when, datetime):
        return ""
    exact = date_format(timezone.localtime(when), "j M Y, H:i:s T")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        when.isoformat(),
        exact,
        phrase(when, timezone.now()),
    )
