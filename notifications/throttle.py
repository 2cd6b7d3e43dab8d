"""Limits on what a member can make the site do: endpoints kept, deliveries sent by hand."""

from django.conf import settings
from django.contrib.auth import get_user_model

from safeguards import ratelimit

from .models import Endpoint


def endpoint_allowed(member) -> bool:
    """Whether `member` may add one more endpoint.

    Locks the member's user row for the rest of the transaction, so two forms sent at the
    same instant are counted one after the other and can't both slip under the cap.
    """
    # Django refuses select_for_update() outside a transaction, so a caller can't forget.
    list(get_user_model().objects.select_for_update().filter(pk=member.pk).values_list("pk"))
    count = Endpoint.objects.filter(owner=member).count()
    return count < settings.WEBHOOKS_MAX_ENDPOINTS_PER_MEMBER


def url_check_allowed(member) -> bool:
    """Count one webhook URL looked up for `member`; False past WEBHOOKS_URL_CHECK_LIMIT."""
    limit = settings.WEBHOOKS_URL_CHECK_LIMIT
    return ratelimit.allow(
        "webhook-url-check", str(member.pk), limit["count"], limit["window_seconds"]
    )


def manual_send_allowed(member) -> bool:
    """Count one delivery sent by hand (a test event or a redelivery); False once `member`
    has had WEBHOOKS_MANUAL_SEND_LIMIT["count"] in the current window."""
    limit = settings.WEBHOOKS_MANUAL_SEND_LIMIT
    return ratelimit.allow(
        "webhook-manual-send", str(member.pk), limit["count"], limit["window_seconds"]
    )
