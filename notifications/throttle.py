"""Limits on what a member can make the site do: endpoints kept, deliveries sent by hand.

Each check locks the member's user row for the rest of the transaction, so two requests
at the same instant are counted one after the other and can't both slip under a limit.
(The cache would do for counting, but the database cache this site shares between
processes has no atomic increment.)
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from .models import Endpoint, ManualSend


def lock_member(member) -> None:
    # Django refuses select_for_update() outside a transaction, so a caller can't forget.
    list(get_user_model().objects.select_for_update().filter(pk=member.pk).values_list("pk"))


def endpoint_allowed(member) -> bool:
    """Whether `member` may add one more endpoint."""
    lock_member(member)
    count = Endpoint.objects.filter(owner=member).count()
    return count < settings.WEBHOOKS_MAX_ENDPOINTS_PER_MEMBER


def manual_send_allowed(member) -> bool:
    """Count one delivery sent by hand; False once `member` has had their share for now.

    A sliding window: WEBHOOKS_MANUAL_SEND_LIMIT["count"] within any
    WEBHOOKS_MANUAL_SEND_LIMIT["window_seconds"].
    """
    limit = settings.WEBHOOKS_MANUAL_SEND_LIMIT
    lock_member(member)
    since = timezone.now() - timedelta(seconds=limit["window_seconds"])
    ManualSend.objects.filter(owner=member, sent_at__lt=since).delete()
    if ManualSend.objects.filter(owner=member).count() >= limit["count"]:
        return False
    ManualSend.objects.create(owner=member)
    return True
