"""Accounts nobody confirmed are deleted after a while, which frees their address."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Profile, User
from accounts.tasks import prune_unconfirmed_accounts

pytestmark = pytest.mark.django_db


def joined(user, days_ago):
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=days_ago))


def test_only_old_unconfirmed_member_accounts_are_deleted(make_user, settings):
    old = settings.UNCONFIRMED_ACCOUNT_RETENTION_DAYS + 1
    accounts = {
        "old unconfirmed": make_user("squatter@example.com"),
        "old confirmed": make_user("member@example.com", confirmed=True),
        "recent unconfirmed": make_user("new@example.com"),
        "old unconfirmed staff": User.objects.create_user("staff@example.com", is_staff=True),
        # Staff cleared the confirmation in the admin, to have the address confirmed again.
        "old unconfirmed again": make_user("returning@example.com"),
    }
    User.objects.filter(email="returning@example.com").update(last_login=timezone.now())
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
    }
    assert not Profile.objects.filter(display_name="Squatter").exists()


def test_the_freed_address_can_sign_up_again(make_user, settings, signup):
    joined(make_user("owner@example.com"), days_ago=settings.UNCONFIRMED_ACCOUNT_RETENTION_DAYS + 1)

    prune_unconfirmed_accounts.call()
    signup("owner@example.com")

    assert User.objects.get(email="owner@example.com").date_joined > timezone.now() - timedelta(
        minutes=1
    )
