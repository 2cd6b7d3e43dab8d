"""`python -m bench.members N`: replace every member with N generated ones, with profiles."""

import sys

import django

django.setup()

from accounts.models import Profile, User  # noqa: E402

count = int(sys.argv[1])
User.objects.all().delete()
users = User.objects.bulk_create(
    [User(email=f"m{n}@example.com", password="!") for n in range(count)], batch_size=5000
)
Profile.objects.bulk_create(
    [
        Profile(user=user, display_name=f"Member {user.pk}", headline="Engineer", bio="words " * 30)
        for user in users
    ],
    batch_size=5000,
)
