from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.shortcuts import redirect, render
from django.tasks import TaskResultStatus
from django.urls import reverse_lazy
from django.views.generic import FormView, ListView, TemplateView, UpdateView, View

from worker import retries

from . import search
from .forms import LoginForm, PeopleSearchForm, ProfileForm, ResendConfirmationForm, SignupForm
from .models import Profile, SearchEntry, User
from .ratelimit import allow, client_address
from .signals import email_confirmed, profile_updated
from .tasks import send_confirmation_email, update_search_entry
from .tokens import TokenError, TokenExpired, TokenUsed, user_for_token

# The session, not the URL, carries the task result id: only the visitor who signed up
# can watch their email being sent.
EMAIL_RESULT_SESSION_KEY = "confirmation_email_result_id"

EMAIL_STATUS_LABELS = {
    TaskResultStatus.READY: "Waiting for a worker",
    TaskResultStatus.RUNNING: "Sending",
    TaskResultStatus.SUCCESSFUL: "Sent",
    TaskResultStatus.FAILED: "Failed",
}


def confirmation_email_allowed(email: str) -> bool:
    """Per-address limit shared by signup and resend, so neither can flood an inbox."""
    limits = settings.RESEND_RATE_LIMIT
    return allow("confirmation-email", email, limits["per_address"], limits["window_seconds"])


def enqueue_confirmation_email(request, user_id: int) -> None:
    result = send_confirmation_email.enqueue(user_id)
    request.session[EMAIL_RESULT_SESSION_KEY] = result.id


class SignupView(FormView):
    template_name = "accounts/signup.html"
    form_class = SignupForm
    success_url = reverse_lazy("accounts:check_inbox")

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        # A second signup in the same browser must not show the first one's email status.
        self.request.session.pop(EMAIL_RESULT_SESSION_KEY, None)
        with transaction.atomic():
            # An existing address gets the same answer as a new one, so signup can't be
            # used to find out who has an account. The task sends nothing to a confirmed one.
            user = form.save()
            if confirmation_email_allowed(email):
                # Enqueue after commit: a rolled-back signup must not send mail, and the
                # worker must never look for a user row that isn't visible yet.
                transaction.on_commit(partial(enqueue_confirmation_email, self.request, user.pk))
        self.request.session["signup_email"] = email
        return super().form_valid(form)


def email_task_result(request):
    """The latest attempt of this visitor's confirmation email, if the backend keeps results.

    The session holds the first attempt's id; a retry is a new result, found by following
    the chain of retries from there.
    """
    result_id = request.session.get(EMAIL_RESULT_SESSION_KEY)
    if result_id is None or not send_confirmation_email.get_backend().supports_get_result:
        return None
    return retries.latest_result(send_confirmation_email, result_id)


def email_status(result) -> tuple[str, str]:
    """What the status fragment says about an attempt: a label, and why, when it failed."""
    if result.status == TaskResultStatus.FAILED:
        # The exception's last line: a mail server's refusal says what was wrong.
        return "Failed", result.errors[-1].traceback.strip().splitlines()[-1][:300]
    if result.status == TaskResultStatus.READY and (reason := retries.reason_for_retry(result.id)):
        return "Retrying", reason
    return EMAIL_STATUS_LABELS[result.status], ""


class CheckInboxView(TemplateView):
    """After signup: "check your inbox", with the email task's live status."""

    template_name = "accounts/check_inbox.html"

    def get_context_data(self, **kwargs):
        result = email_task_result(self.request)
        status, reason = email_status(result) if result else (None, "")
        return super().get_context_data(
            email=self.request.session.get("signup_email"),
            email_task=result,
            email_status=status,
            email_status_reason=reason,
            **kwargs,
        )


class EmailStatusView(CheckInboxView):
    """Just the status fragment, which static/js/poll.js swaps in until the task finishes."""

    template_name = "accounts/check_inbox.html#email-status"


class ConfirmEmailView(View):
    def get(self, request, token):
        try:
            user = user_for_token(token)
        except TokenUsed:
            return self.failed("used", status=200)
        except TokenExpired:
            return self.failed("expired")
        except TokenError:
            return self.failed("invalid")

        with transaction.atomic():
            if not user.confirm_email():  # Another click on the same link got there first.
                return self.failed("used", status=200)
            email_confirmed.send(sender=User, user=user)
        messages.success(request, "Your email address is confirmed. You can log in now.")
        return redirect("accounts:login")

    def failed(self, reason, status=400):
        return render(
            self.request, "accounts/confirm_failed.html", {"reason": reason}, status=status
        )


class ResendConfirmationView(FormView):
    template_name = "accounts/resend.html"
    form_class = ResendConfirmationForm

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        limits = settings.RESEND_RATE_LIMIT
        client_allowed = allow(
            "resend-client",
            client_address(self.request),
            limits["per_client"],
            limits["window_seconds"],
        )
        if not client_allowed or not confirmation_email_allowed(email):
            return render(
                self.request, self.template_name, {"form": form, "rate_limited": True}, status=429
            )

        user = User.objects.filter(
            email=email, is_active=True, email_confirmed_at__isnull=True
        ).first()
        if user is not None:
            transaction.on_commit(partial(send_confirmation_email.enqueue, user.pk))
        # The same page whether or not the address has an account waiting: no enumeration.
        return render(self.request, "accounts/resend_done.html", {"email": email})


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


class ProfileView(LoginRequiredMixin, UpdateView):
    form_class = ProfileForm
    template_name = "accounts/profile.html"
    success_url = reverse_lazy("accounts:profile")

    def get_object(self, queryset=None):
        return Profile.objects.filter(user=self.request.user).first() or Profile(
            user=self.request.user
        )

    def form_valid(self, form):
        with transaction.atomic():
            profile = form.save()
            profile_updated.send(sender=Profile, profile=profile)
            # Enqueue after commit, so the task reads the row this request saved.
            transaction.on_commit(partial(update_search_entry.enqueue, profile.user_id))
        messages.success(
            self.request,
            "Profile saved. The directory shows the change once the worker has indexed it.",
        )
        return redirect(self.success_url)


class PeopleView(LoginRequiredMixin, ListView):
    """The member directory. It reads only the search index, which the worker keeps."""

    template_name = "accounts/people.html"
    context_object_name = "entries"
    paginate_by = 20

    def get_queryset(self):
        self.form = PeopleSearchForm(self.request.GET)
        if not self.form.is_valid():
            return SearchEntry.objects.none()
        query = self.form.cleaned_data["q"].strip()
        if not query:
            return SearchEntry.objects.order_by("display_name")
        return search.search(query)

    def get_context_data(self, **kwargs):
        return super().get_context_data(form=self.form, **kwargs)
