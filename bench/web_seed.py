"""`python -m bench.web_seed`: the site bench/web.py loads: a member with endpoints, and
200 other members in the search index."""

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.models import Profile, User  # noqa: E402
from bench.web import MEMBER, PASSWORD  # noqa: E402
from notifications.models import Endpoint, Event  # noqa: E402

member = User.objects.create_user(MEMBER, PASSWORD)
member.confirm_email()
Profile.objects.create(user=member, display_name="Bench Member", headline="Engineer")
for n in range(5):
    Endpoint.objects.create(
        owner=member, url=f"https://example.com/hook/{n}", events=[Event.PROFILE_UPDATED]
    )
others = User.objects.bulk_create(User(email=f"m{n}@example.com", password="!") for n in range(200))
Profile.objects.bulk_create(
    Profile(user=user, display_name=f"Member {user.pk}", headline="Engineer", bio="words " * 30)
    for user in others
)
call_command("rebuild_search_index", verbosity=0)
