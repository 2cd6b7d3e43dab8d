"""Limits on what a member can make the site do: endpoints kept, deliveries sent by hand."""

from django.conf import settings
from django.contrib.auth import get_user_model

from safeguards import ratelimit

from .models import Endpoint

# Endpoints a member may keep, which is also the most deliveries one event makes.
MAX_ENDPOINTS_PER_MEMBER = 10


def endpoint_allowed(member) -> bool:
    """Whether `member` may add one more endpoint.

    Locks the member's user row for the rest of the transaction, so two forms sent at the
    same instant are counted one after the other and can't both slip under the cap.
    """
    # Django refuses select_for_update() outside a transaction, so a caller can't forget.
    list(get_user_model().objects.select_for_update().filter(pk=member.pk).values_list("pk"))
    count = Endpoint.objects.filter(owner=member).count()
    return count < MAX_ENDPOINTS_PER_MEMBER


def url_check_allowed(member) -> bool:
    """Count one webhook URL looked up for `member`; False past its rate limit."""
    limit = settings.RATE_LIMITS["webhook_url_check"]
    return ratelimit.allow(
        "webhook-url-check", str(member.pk), limit["count"], limit["window_seconds"]
    )


def manual_send_allowed(member) -> bool:
    """Count one delivery sent by hand (a test event or a redelivery); False once `member`
    has had RATE_LIMITS["webhook_manual_send"]["count"] in the current window."""
    limit = settings.RATE_LIMITS["webhook_manual_send"]
    return ratelimit.allow(
        "webhook-manual-send", str(member.pk), limit["count"], limit["window_seconds"]
    )
