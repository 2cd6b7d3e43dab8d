from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
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
