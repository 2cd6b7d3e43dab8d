"""The half-hourly index check repairs whatever index tasks were lost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import search
from accounts.models import Profile, SearchEntry
from accounts.tasks import check_search_index

pytestmark = pytest.mark.django_db


def test_index_check_repairs_missing_stale_and_extra_entries(make_user):
    missing, stale, gone = (make_user(f"{n}@example.com", confirmed=True) for n in "abc")
    for user in (missing, stale, gone):
        Profile.objects.create(user=user, display_name=f"Old {user.email}")
    search.rebuild_entries([stale.pk, gone.pk])
    SearchEntry.objects.filter(user=missing).delete()
    SearchEntry.objects.filter(user=stale).update(indexed_at=timezone.now() - timedelta(hours=1))
    Profile.objects.filter(user=stale).update(display_name="New name", updated_at=timezone.now())
    Profile.objects.filter(user=gone).delete()

    assert check_search_index.call() == "repaired 3"

    assert dict(SearchEntry.objects.values_list("user_id", "display_name")) == {
        missing.pk: "Old a@example.com",
        stale.pk: "New name",
    }
    assert check_search_index.call() == "repaired 0"
