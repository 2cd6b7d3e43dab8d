from functools import partial

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from . import devices
from .models import Profile, User
from .tasks import update_search_entry


@receiver(post_save, sender=User)
def reindex_member(sender, instance, update_fields, **kwargs):
    """Keep the directory in step with account changes made anywhere, the admin included."""
    # A login saves last_login only; nothing the directory shows has changed.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    if Profile.objects.filter(user_id=instance.pk).exists():
        # robust: an engine that is down is logged; check_search_index repairs the entry.
        transaction.on_commit(partial(update_search_entry.enqueue, instance.pk), robust=True)


@receiver(user_logged_in)
def remember_device(sender, request, user, **kwargs):
    """Every login, at the site or at /admin/, makes the browser a known device."""
    devices.remember(request, user)
