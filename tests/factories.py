"""Rows for tests that need several: factory_boy factories, one per model.

Add factories for other apps at the end of this file.
"""

import factory
from django.utils import timezone

from accounts.models import Profile, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A confirmed, active member whose password is PASSWORD; `confirmed=False` for a new signup."""

    class Meta:
        model = User

    class Params:
        confirmed = True

    email = factory.Sequence(lambda n: f"member{n}@example.com")
    email_confirmed_at = factory.Maybe("confirmed", factory.LazyFunction(timezone.now), None)
    password = factory.django.Password(PASSWORD)


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Member {n}")
    headline = ""
    bio = ""
    location = ""
