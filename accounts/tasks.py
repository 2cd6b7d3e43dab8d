"""Background work for accounts. Each task takes ids, reloads the row, and is safe to run twice."""

from datetime import timedelta

from crontask import cron
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from worker.policies import policy

from . import search
from .durations import durations
from .mail import SMTP_RETRY_DELAYS, smtp_backoff
from .models import Profile, SearchEntry, User
from .tokens import CONFIRMATION_MAX_AGE, make_token


def send_email(to: str, template: str, context: dict) -> None:
    """Render emails/<template>_subject.txt, .txt and .html and send them as one message."""
    context = {"site_url": settings.SITE_URL, **durations(), **context}
    message = EmailMultiAlternatives(
        subject=render_to_string(f"emails/{template}_subject.txt", context).strip(),
        body=render_to_string(f"emails/{template}.txt", context),
        to=[to],
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    message.send()


@task(queue_name="email")
@policy(rerun_after_worker_died=True, max_attempts=1 + len(SMTP_RETRY_DELAYS), backoff=smtp_backoff)
def send_confirmation_email(user_id: int, already_registered: bool = False) -> str:
    """Mail a confirmation link, or, when the signup was for an address that already had an
    account, a note to its owner; return what happened.

    Safe to run more than once: a confirmed user gets no second link, and a deactivated or
    deleted one gets nothing.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return "skipped: no active user"
    if already_registered:
        send_email(
            user.email,
            "signup_attempt",
            {
                "login_url": settings.SITE_URL + reverse("accounts:login"),
                "reset_url": settings.SITE_URL + reverse("accounts:password_reset"),
            },
        )
        return "sent"
    if user.email_confirmed:
        return "skipped: already confirmed"
    # Recorded before the link exists, so pruning never deletes an account whose link may
    # still work; an account pruned meanwhile gets no link.
    if not User.objects.filter(pk=user.pk, is_active=True).update(
        confirmation_sent_at=timezone.now()
    ):
        return "skipped: no active user"
    confirm_path = reverse("accounts:confirm", kwargs={"token": make_token(user)})
    send_email(user.email, "confirm_email", {"confirm_url": settings.SITE_URL + confirm_path})
    return "sent"


@task(queue_name="email")
@policy(rerun_after_worker_died=True, max_attempts=1 + len(SMTP_RETRY_DELAYS), backoff=smtp_backoff)
def send_password_reset_email(user_id: int) -> str:
    """Send a password-reset link, made now from the account as it is now.

    Running twice sends two links; either works, once, until PASSWORD_RESET_TIMEOUT.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return "skipped: no active user"
    reset_path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    send_email(user.email, "password_reset", {"reset_url": settings.SITE_URL + reset_path})
    return "sent"


@task(queue_name="search")
@policy(rerun_after_worker_died=True)
def update_search_entry(user_id: int) -> str:
    """Rebuild one member's directory entry from the rows as they are now.

    Idempotent, and quick edits converge: each run holds the user's row lock while it reads
    the latest committed profile, so the last to finish writes the last saved state.
    """
    with transaction.atomic():
        if User.objects.select_for_update().filter(pk=user_id).first() is None:
            return "removed: no such user"  # The entry was deleted with it (on_delete=CASCADE).
        indexed = search.rebuild_entries([user_id])
    return "indexed" if indexed else "removed"


@cron("*/30 * * * *")
@task(queue_name="search")
def check_search_index() -> str:
    """Rebuild every directory entry that disagrees with its rows (missing, older than the
    profile, or for a deactivated member or one without a profile): a net for lost tasks."""
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


UNCONFIRMED_ACCOUNT_RETENTION_DAYS = 7


@cron("41 3 * * *")
@task(queue_name="default")
def prune_unconfirmed_accounts() -> str:
    """Delete the accounts nobody confirmed within UNCONFIRMED_ACCOUNT_RETENTION_DAYS of
    signup, freeing their address (docs/accounts.md).

    Spared: staff, anyone who has ever logged in (say, one whose confirmation staff cleared),
    accounts staff deactivated (to keep the address blocked), and an account whose latest
    link still works, until it expires.
    """
    now = timezone.now()
    cutoff = now - timedelta(days=UNCONFIRMED_ACCOUNT_RETENTION_DAYS)
    link_lifetime = timedelta(seconds=CONFIRMATION_MAX_AGE)
    unconfirmed = User.objects.filter(
        Q(confirmation_sent_at__isnull=True)
        | Q(confirmation_sent_at__lt=now - link_lifetime)
        | Q(date_joined__lt=cutoff - link_lifetime),
        email_confirmed_at__isnull=True,
        date_joined__lt=cutoff,
        last_login__isnull=True,
        is_active=True,
        is_staff=False,
        is_superuser=False,
    )
    with transaction.atomic():
        # Locked first, so an owner confirming at this moment either confirms first (and
        # the account isn't selected) or waits, and then finds the link no longer works.
        doomed = list(unconfirmed.select_for_update().values_list("pk", flat=True))
        _, deleted = User.objects.filter(pk__in=doomed).delete()
    return f"deleted {deleted.get(User._meta.label, 0)}"
