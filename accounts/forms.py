from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    SetPasswordForm,
    SetPasswordMixin,
)
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from worker import outbox

from . import signals, throttles
from .durations import durations
from .models import Profile, User
from .tasks import send_password_reset_email
from .throttles import login_allowed

THROTTLED_LOGIN = (
    "Too many login attempts. Wait {login_window} and try again, "
    "or set a new password with “Forgot your password?”."
)


class SignupForm(SetPasswordMixin, forms.Form):
    # Deliberately not a ModelForm: its uniqueness check would tell anyone which
    # addresses have accounts. The view handles an existing address quietly.
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password1, password2 = SetPasswordMixin.create_password_fields()

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])

    def clean(self):
        self.validate_passwords()
        return super().clean()

    def _post_clean(self):
        super()._post_clean()
        # Validators such as UserAttributeSimilarityValidator compare against the new user.
        self.validate_password_for_user(User(email=self.cleaned_data.get("email", "")))

    def save(self) -> tuple[User, bool]:
        """Create the account; return it, and whether the address already had one.

        An existing account is returned unchanged (docs/accounts.md says why). The password
        is hashed either way, so a taken address takes as long to answer as a new one.
        """
        email = self.cleaned_data["email"]
        password = make_password(self.cleaned_data["password1"])
        try:
            # The savepoint keeps the caller's transaction usable if the address is taken,
            # including by a signup racing this one.
            with transaction.atomic():
                user = User(email=email, password=password)
                user.save()
                return user, False
        except IntegrityError:
            return User.objects.get(email=email), True


class ThrottledLoginMixin:
    """Counts every password guess (accounts/throttles.py) before the password is hashed."""

    def clean_username(self):
        # Stored addresses are lower case: "Ann@Example.com" is the same account and throttle.
        return User.objects.normalize_email(self.cleaned_data["username"])

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username and password and not login_allowed(self.request, username):
            raise forms.ValidationError(THROTTLED_LOGIN.format(**durations()), code="throttled")
        return super().clean()


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "unconfirmed": (
            "Please confirm your email address first: follow the link in the email "
            "we sent you, or ask for a new one."
        ),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        # Reached only with the right password, so this reveals nothing to a stranger.
        if not user.email_confirmed:
            raise forms.ValidationError(self.error_messages["unconfirmed"], code="unconfirmed")


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """/admin/'s login, under the same limits as the site's."""


class ConfirmEmailForm(forms.Form):
    """Confirming takes the link (control of the mailbox) and the account's password, so no
    owner confirms an account a stranger made first with their address, and a password the
    stranger knows (pre-hijacking, docs/accounts.md). A password reset confirms instead."""

    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "wrong_password": (
            "That isn't this account's password. If someone else may have signed up with "
            "your address before you, set a new password instead: that confirms your "
            "address too, and only your password will work."
        ),
    }

    def __init__(self, user, request, *args, **kwargs):
        self.user = user
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not login_allowed(self.request, self.user.email):
            raise forms.ValidationError(THROTTLED_LOGIN.format(**durations()), code="throttled")
        if not self.user.check_password(password):
            raise forms.ValidationError(self.error_messages["wrong_password"], code="wrong")
        return password

    def save(self) -> bool:
        """Confirm the address; False if another click on the same link got there first."""
        with transaction.atomic():
            if not self.user.confirm_email():
                return False
            signals.email_confirmed.send(sender=User, user=self.user)
        return True


class ResendConfirmationForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])


class PasswordResetRequestForm(PasswordResetForm):
    """Django's form and its choice of accounts; the mail goes through the worker."""

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])

    def save(self, **kwargs) -> None:
        # Through the outbox (worker/outbox.py): a task engine that is down delays the mail,
        # rather than a 500 only addresses with an account would get.
        for user in self.get_users(self.cleaned_data["email"]):
            outbox.enqueue_on_commit(send_password_reset_email, user.pk)


class ResetPasswordForm(SetPasswordForm):
    """Django's set-password form. Reaching it took the mailed link, which proves the
    mailbox, so it confirms an unconfirmed address too (pre-hijacking, docs/accounts.md)."""

    def save(self, commit=True):
        with transaction.atomic():
            user = super().save(commit=commit)
            # Whoever was guessing at the old password no longer keeps the owner waiting.
            throttles.forget_login_attempts(user.email)
            if user.confirm_email():
                signals.email_confirmed.send(sender=User, user=user)
        return user


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["display_name", "headline", "bio", "location"]


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label="Search people", max_length=200, required=False)
