"""What happened to an account, for other apps to act on (webhooks, for one).

Each is sent inside the transaction that made the change, so a receiver's writes commit
with it or not at all. Accounts knows nothing about who listens.
"""

from django.dispatch import Signal

# kwargs: user. The member's address was confirmed (by the confirmation link, or by a
# password reset, which proves the same).
email_confirmed = Signal()

# kwargs: profile. The member saved their profile; profile.public_data() is what may be shared.
profile_updated = Signal()
