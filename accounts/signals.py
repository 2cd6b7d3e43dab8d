"""What happened to an account, for other apps (webhooks, for one), which accounts doesn't
know. Sent inside the transaction that made the change: a receiver's writes commit with it."""

from django.dispatch import Signal

# kwargs: user. The address was confirmed, by the confirmation link or a password reset.
email_confirmed = Signal()

# kwargs: profile. The member saved their profile; profile.public_data() is what may be shared.
profile_updated = Signal()
