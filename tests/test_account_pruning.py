"""Accounts nobody confirmed are deleted after a while, which frees their address."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile, User
from accounts.tasks import UNCONFIRMED_ACCOUNT_RETENTION_DAYS, prune_unconfirmed_accounts
from accounts.tokens import CONFIRMATION_MAX_AGE

pytestmark = pytest.mark.django_db


def joined(user, days_ago):
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=days_ago))


def test_only_old_unconfirmed_member_accounts_are_deleted(make_user):
    old = UNCONFIRMED_ACCOUNT_RETENTION_DAYS + 1
    accounts = {
        "old unconfirmed": make_user("squatter@example.com"),
        "old confirmed": make_user("member@example.com", confirmed=True),
        "recent unconfirmed": make_user("new@example.com"),
        "old unconfirmed staff": User.objects.create_user("staff@example.com", is_staff=True),
        # Staff cleared the confirmation in the admin, to have the address confirmed again.
        "old unconfirmed again": make_user("returning@example.com"),
        # Staff deactivated a spammer's account to keep the address from signing up again.
        "old unconfirmed blocked": make_user("blocked@example.com"),
    }
    User.objects.filter(email="returning@example.com").update(last_login=timezone.now())
    User.objects.filter(email="blocked@example.com").update(is_active=False)
    for name, user in accounts.items():
        if name.startswith("old"):
            joined(user, days_ago=old)
    Profile.objects.create(user=accounts["old unconfirmed"], display_name="Squatter")

    assert prune_unconfirmed_accounts.call() == "deleted 1"

    kept = set(User.objects.values_list("email", flat=True))
    assert kept == {
        "member@example.com",
        "new@example.com",
        "staff@example.com",
        "returning@example.com",
        "blocked@example.com",
    }
    assert not Profile.objects.filter(display_name="Squatter").exists()


def test_the_freed_address_can_sign_up_again(make_user, signup):
    joined(make_user("owner@example.com"), days_ago=UNCONFIRMED_ACCOUNT_RETENTION_DAYS + 1)

    prune_unconfirmed_accounts.call()
    signup("owner@example.com")

    assert User.objects.get(email="owner@example.com").date_joined > timezone.now() - timedelta(
        minutes=1
    )


def test_an_account_whose_latest_link_still_works_is_kept_until_it_expires(make_user, client):
    # Asked for a new link on the last day: the link works for days more, and so must the
    # account it confirms.
    owner = make_user("late@example.com")
    joined(owner, days_ago=UNCONFIRMED_ACCOUNT_RETENTION_DAYS - 0.1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("accounts:resend"), {"email": "late@example.com"})
    assert len(mail.outbox) == 1
    joined(owner, days_ago=UNCONFIRMED_ACCOUNT_RETENTION_DAYS + 1)

    assert prune_unconfirmed_accounts.call() == "deleted 0"

    link_expired = timezone.now() - timedelta(seconds=CONFIRMATION_MAX_AGE + 60)
    User.objects.filter(pk=owner.pk).update(confirmation_sent_at=link_expired)
    assert prune_unconfirmed_accounts.call() == "deleted 1"


def test_a_stranger_asking_again_every_few_days_cannot_keep_the_address(make_user, client):
    # Someone else's address, signed up and never confirmed: the resend page mails no
    # link once the retention period is over, and pruning stops waiting for old links.
    squatted = make_user("victim@example.com")
    retention = UNCONFIRMED_ACCOUNT_RETENTION_DAYS
    link_days = CONFIRMATION_MAX_AGE / 86400
    joined(squatted, days_ago=retention + 1)

    with TestCase.captureOnCommitCallbacks(execute=True):
        page = client.post(reverse("accounts:resend"), {"email": "victim@example.com"})
    assert "a new link is on its way" in page.text  # the page any address gets
    assert mail.outbox == []

    # A link mailed on the last day keeps the account only as long as it works.
    User.objects.filter(pk=squatted.pk).update(confirmation_sent_at=timezone.now())
    joined(squatted, days_ago=retention + link_days + 0.1)
    assert prune_unconfirmed_accounts.call() == "deleted 1"
