"""What the site's events send: accounts says what happened, these decide the deliveries.

accounts sends its signals inside the transaction that made the change, so the
deliveries recorded here commit with it or not at all.
"""

from django.dispatch import receiver

from accounts.signals import email_confirmed, profile_updated

from . import events
from .models import Event


@receiver(email_confirmed, dispatch_uid="notifications.email_confirmed")
def email_was_confirmed(sender, user, **kwargs):
    events.emit(user, Event.EMAIL_CONFIRMED, {"user_id": user.pk, "email": user.email})


@receiver(profile_updated, dispatch_uid="notifications.profile_updated")
def profile_was_updated(sender, profile, **kwargs):
    events.emit(profile.user, Event.PROFILE_UPDATED, profile.public_data())
