from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def normalize_email(self, email):
        # One address, one account: "Ann@Example.com" and "ann@example.com" are the same person.
        return super().normalize_email(email).strip().lower()

    def create_user(self, email, password=None, **extra_fields):
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        # Made on the command line by someone who owns the address.
        extra_fields.setdefault("email_confirmed_at", timezone.now())
        return self.create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A member, who logs in with their email address once it is confirmed."""

    email = models.EmailField("email", unique=True)
    email_confirmed_at = models.DateTimeField(null=True, blank=True)
    # When the latest confirmation link was mailed: pruning spares an account while its
    # link may still work (accounts.tasks.prune_unconfirmed_accounts).
    confirmation_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self):
        return self.email

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    def confirm_email(self) -> bool:
        """Mark the address confirmed; return False if it already was.

        A conditional UPDATE, so two clicks on the same link racing each other
        confirm once.
        """
        now = timezone.now()
        updated = User.objects.filter(pk=self.pk, email_confirmed_at__isnull=True).update(
            email_confirmed_at=now
        )
        if updated:
            self.email_confirmed_at = now
        return bool(updated)


class Profile(models.Model):
    """What a member shows the directory. Edited at /accounts/profile/."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True)
    display_name = models.CharField(max_length=100)
    headline = models.CharField(max_length=200, blank=True)
    bio = models.TextField(max_length=2000, blank=True)
    location = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.display_name

    def public_data(self) -> dict:
        """What the outside world (webhook receivers) may learn: public fields only."""
        return {
            "user_id": self.user_id,
            "display_name": self.display_name,
            "headline": self.headline,
            "bio": self.bio,
            "location": self.location,
        }


class SearchEntry(models.Model):
    """One member's row in the directory index, rebuilt by the update_search_entry task.

    The people page reads only this table, so it shows what the worker last indexed: a
    profile edit appears in results once its task has run. `vector` is filled on
    PostgreSQL only; SQLite searches `document` instead (see accounts/search.py).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True)
    display_name = models.CharField(max_length=100)
    headline = models.CharField(max_length=200, blank=True)
    bio = models.TextField(blank=True)
    location = models.CharField(max_length=100, blank=True)
    document = models.TextField(help_text="Every searchable word, lower-cased (SQLite's search).")
    vector = SearchVectorField(null=True)
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "search entries"
        indexes = [GinIndex(fields=["vector"], name="accounts_search_vector_gin")]

    def __str__(self):
        return self.display_name
