from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordMixin
from django.db import IntegrityError, transaction

from .models import Profile, User


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

    def save(self) -> User:
        """Create the account, or return the existing one for this address unchanged."""
        email = self.cleaned_data["email"]
        try:
            # The savepoint keeps the caller's transaction usable if the address is taken,
            # including by a signup racing this one.
            with transaction.atomic():
                return User.objects.create_user(email, self.cleaned_data["password1"])
        except IntegrityError:
            return User.objects.get(email=email)


class LoginForm(AuthenticationForm):
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


class ResendConfirmationForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["display_name", "headline", "bio", "location"]


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label="Search people", max_length=200, required=False)
