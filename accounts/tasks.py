"""Background work for accounts. Each task takes ids, reloads the row, and is safe to run twice."""

from crontask import cron
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse

from config.mail import SMTP_RETRY_DELAYS, smtp_backoff
from worker.policies import policy

from . import search
from .models import Profile, SearchEntry, User
from .tokens import make_token


@task(queue_name="email")
@policy(rerun_after_worker_died=True, max_attempts=1 + len(SMTP_RETRY_DELAYS), backoff=smtp_backoff)
def send_confirmation_email(user_id: int) -> str:
    """Send the address-confirmation mail, unless the address is already confirmed.

    Safe to run more than once: a confirmed, deactivated or deleted user gets nothing.
    Returns what happened, which the task result keeps. A mail server that is down or
    answers "try later" (4xx) gets the mail again later; a refusal (5xx) is final.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return "skipped: no active user"
    if user.email_confirmed:
        return "skipped: already confirmed"

    context = {
        "confirm_url": settings.SITE_URL
        + reverse("accounts:confirm", kwargs={"token": make_token(user)}),
        "expiry_days": settings.EMAIL_CONFIRMATION_MAX_AGE // (24 * 60 * 60),
        "site_url": settings.SITE_URL,
    }
    subject = render_to_string("emails/confirm_email_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/confirm_email.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("emails/confirm_email.html", context), "text/html")
    message.send()
    return "sent"


@task(queue_name="search")
@policy(rerun_after_worker_died=True)
def update_search_entry(user_id: int) -> str:
    """Rebuild one member's directory entry from the rows as they are now.

    Idempotent, and quick edits converge: each run reads the latest committed profile
    while holding the user's row lock, so whatever order the tasks run in, the last one
    to finish writes the last saved state.
    """
    with transaction.atomic():
        if User.objects.select_for_update().filter(pk=user_id).first() is None:
            return "removed: no such user"  # The entry went with the user (ON DELETE CASCADE).
        indexed = search.rebuild_entries([user_id])
    return "indexed" if indexed else "removed"


@cron("*/30 * * * *")
@task(queue_name="search")
def check_search_index() -> str:
    """Rebuild every directory entry that disagrees with the rows it comes from.

    A safety net for index tasks that were lost: entries missing or older than their
    profile, and entries of members who are deactivated or have no profile.
    """
    stale = Profile.objects.filter(user__is_active=True).filter(
        Q(user__searchentry__isnull=True) | Q(updated_at__gt=F("user__searchentry__indexed_at"))
    )
    extra = SearchEntry.objects.filter(Q(user__is_active=False) | Q(user__profile__isnull=True))
    user_ids = sorted(
        {*stale.values_list("user_id", flat=True), *extra.values_list("user_id", flat=True)}
    )
    for start in range(0, len(user_ids), 1000):
        search.rebuild_entries(user_ids[start : start + 1000])
    return f"repaired {len(user_ids)}"
