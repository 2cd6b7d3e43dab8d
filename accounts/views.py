from datetime import timedelta
from functools import partial

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.forms.forms import NON_FIELD_ERRORS
from django.http import Http404
from django.shortcuts import redirect, render
from django.tasks import TaskResultStatus
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.generic import FormView, TemplateView, UpdateView, View

from worker import outbox, retries
from worker.models import OutboxTask

from . import devices, search, signals, throttles
from .durations import durations
from .forms import (
    ConfirmEmailForm,
    LoginForm,
    PasswordResetRequestForm,
    PeopleSearchForm,
    ProfileForm,
    ResendConfirmationForm,
    ResetPasswordForm,
    SignupForm,
)
from .mail import reason_to_show
from .models import Profile, SearchEntry, User
from .tasks import UNCONFIRMED_ACCOUNT_RETENTION_DAYS, send_confirmation_email, update_search_entry
from .tokens import TokenError, TokenExpired, TokenUsed, user_for_token

# The session, not the URL, carries the email's outbox id: only the visitor who signed up
# can watch their email being sent.
EMAIL_TASK_SESSION_KEY = "confirmation_email_outbox_id"

EMAIL_STATUS_LABELS = {
    TaskResultStatus.READY: "Waiting for a worker",
    TaskResultStatus.RUNNING: "Sending",
    TaskResultStatus.SUCCESSFUL: "Sent",
    TaskResultStatus.FAILED: "Failed",
}


class SignupView(FormView):
    template_name = "accounts/signup.html"
    form_class = SignupForm
    success_url = reverse_lazy("accounts:check_inbox")

    def form_valid(self, form):
        # Before anything is hashed or written: a refused signup costs a counter update.
        if not throttles.signup_allowed(self.request):
            context = self.get_context_data(form=form, rate_limited=True)
            return self.render_to_response(context, status=429)
        email = form.cleaned_data["email"]
        # A second signup in the same browser must not show the first one's email status.
        self.request.session.pop(EMAIL_TASK_SESSION_KEY, None)
        with transaction.atomic():
            # A taken address gets the same answer, and the same visible task, as a new one
            # (the task mails its owner a note): nothing tells a stranger who has an account.
            user, already_registered = form.save()
            if throttles.confirmation_email_allowed(email):
                # Recorded with the account, enqueued after commit (worker/outbox.py): a
                # rolled-back signup sends nothing, the worker never looks for a user row
                # that isn't visible yet, and an engine that is down delays the mail.
                email_task = outbox.enqueue_on_commit(
                    send_confirmation_email, user.pk, already_registered=already_registered
                )
                self.request.session[EMAIL_TASK_SESSION_KEY] = email_task.pk
        self.request.session["signup_email"] = email
        return super().form_valid(form)


def email_task_result(request):
    """This visitor's signup email, if the backend keeps results: its outbox row, and the
    latest attempt's result (following the retries) once the row is enqueued, else None."""
    outbox_id = request.session.get(EMAIL_TASK_SESSION_KEY)
    if outbox_id is None or not send_confirmation_email.get_backend().supports_get_result:
        return None, None
    email_task = OutboxTask.objects.filter(pk=outbox_id).first()
    if email_task is None:  # Pruned, after TASK_RESULT_RETENTION_DAYS.
        return None, None
    return email_task, outbox.task_result(email_task)


def email_status(result) -> tuple[str, str]:
    """What the status fragment says about an attempt: a label, and why, when it failed."""
    if result.status == TaskResultStatus.FAILED:
        last_line = result.errors[-1].traceback.strip().splitlines()[-1] if result.errors else ""
        return "Failed", reason_to_show(last_line)
    if result.status == TaskResultStatus.READY and (reason := retries.reason_for_retry(result.id)):
        return "Retrying", reason_to_show(reason)
    return EMAIL_STATUS_LABELS[result.status], ""


class CheckInboxView(TemplateView):
    """After signup: "check your inbox", with the email task's live status."""

    template_name = "accounts/check_inbox.html"

    def get_context_data(self, **kwargs):
        email_task, result = email_task_result(self.request)
        if result is not None:
            status, reason = email_status(result)
        elif email_task is not None and email_task.enqueued_at is None:
            status, reason = EMAIL_STATUS_LABELS[TaskResultStatus.READY], ""  # In the outbox.
        else:  # No email to follow, or its result is gone.
            status, reason = None, ""
        state = result.status if result is not None else TaskResultStatus.READY
        return super().get_context_data(
            email=self.request.session.get("signup_email"),
            email_status=status,
            email_status_reason=reason,
            email_state=state.lower(),
            email_finished=result is not None and result.is_finished,
            email_failed=state == TaskResultStatus.FAILED,
            **kwargs,
        )


class EmailStatusView(CheckInboxView):
    """Just the status fragment, which static/js/poll.js swaps in until the task finishes."""

    template_name = "accounts/check_inbox.html#email-status"


class ConfirmEmailView(View):
    """The link opens a page; only its button (a POST, with the password) confirms, so a
    mail scanner or link preview opening it changes nothing."""

    template_name = "accounts/confirm_email.html"

    def get(self, request, token):
        user, failure = self.user_or_failure(token)
        if failure:
            return failure
        return self.page(ConfirmEmailForm(user, request))

    def post(self, request, token):
        user, failure = self.user_or_failure(token)
        if failure:
            return failure
        form = ConfirmEmailForm(user, request, data=request.POST)
        if not form.is_valid():
            status = 429 if form.has_error("password", "throttled") else 200
            return self.page(form, status=status)
        # The password was right: this browser is the owner's.
        devices.remember(request, user)
        if not form.save():  # Another click on the same link got there first.
            return self.failed("used", status=200)
        messages.success(request, "Your email address is confirmed. You can log in now.")
        return redirect("accounts:login")

    def user_or_failure(self, token):
        try:
            return user_for_token(token), None
        except TokenUsed:
            return None, self.failed("used", status=200)
        except TokenExpired:
            return None, self.failed("expired")
        except TokenError:
            return None, self.failed("invalid")

    def page(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {"form": form, "email": form.user.email},
            status=status,
        )

    def failed(self, reason, status=400):
        return render(
            self.request, "accounts/confirm_failed.html", {"reason": reason}, status=status
        )


class ResendConfirmationView(FormView):
    template_name = "accounts/resend.html"
    form_class = ResendConfirmationForm

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        if not throttles.resend_allowed(self.request, email):
            return render(
                self.request, self.template_name, {"form": form, "rate_limited": True}, status=429
            )

        # Past the retention period the account is about to be pruned: a new link would
        # outlive it (accounts.tasks.prune_unconfirmed_accounts).
        retention = timedelta(days=UNCONFIRMED_ACCOUNT_RETENTION_DAYS)
        user = User.objects.filter(
            email=email,
            is_active=True,
            email_confirmed_at__isnull=True,
            date_joined__gte=timezone.now() - retention,
        ).first()
        if user is not None:
            # Through the outbox: an engine that is down must not mean a 500 that only
            # addresses with an account waiting get.
            outbox.enqueue_on_commit(send_confirmation_email, user.pk)
        # The same page whether or not the address has an account waiting: no enumeration.
        return render(self.request, "accounts/resend_done.html", {"email": email})


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's view; the form enqueues the mail, and each request is counted first."""

    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        if not throttles.password_reset_allowed(self.request, form.cleaned_data["email"]):
            context = self.get_context_data(form=form, rate_limited=True)
            return self.render_to_response(context, status=429)
        # The same redirect whether or not the address has an account.
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    # Other sessions end by themselves: each session carries a hash of the password it
    # logged in with, and Django refuses one that no longer matches.
    form_class = ResetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        # The mailed link proved the mailbox: this browser is the owner's.
        devices.remember(self.request, form.user)
        return response


class ProfileView(LoginRequiredMixin, UpdateView):
    form_class = ProfileForm
    template_name = "accounts/profile.html"
    success_url = reverse_lazy("accounts:profile")

    def get_object(self, queryset=None):
        return Profile.objects.filter(user=self.request.user).first() or Profile(
            user=self.request.user
        )

    def form_valid(self, form):
        if not throttles.profile_save_allowed(self.request.user):
            window = durations()["profile_save_window"]
            form.add_error(None, f"You have saved your profile many times lately. Wait {window}.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        with transaction.atomic():
            profile = form.save()
            signals.profile_updated.send(sender=Profile, profile=profile)
            # Enqueue after commit, so the task reads the row this request saved. robust:
            # an engine that is down is logged, and check_search_index repairs the entry.
            transaction.on_commit(
                partial(update_search_entry.enqueue, profile.user_id), robust=True
            )
        messages.success(
            self.request,
            "Profile saved. The directory shows the change once the worker has indexed it.",
        )
        return redirect(self.success_url)


class PeopleView(LoginRequiredMixin, TemplateView):
    """The member directory, read from the search index only. Pages link to the previous
    and next and give no total, which would COUNT every match on every visit (docs/web.md):
    one row more than a page shows tells whether there is a next."""

    template_name = "accounts/people.html"
    per_page = 20
    MAX_PAGE = 500

    def get_context_data(self, **kwargs):
        page = self.page_number()
        form = PeopleSearchForm(self.request.GET)
        if not form.is_valid():
            return super().get_context_data(form=form, **kwargs)
        query = form.cleaned_data["q"].strip()
        # user_id breaks ties between equal names: each page is a query of its own, and
        # without a total order a member could appear on two pages and another on none.
        everyone = SearchEntry.objects.order_by("display_name", "user_id")
        entries = search.search(query) if query else everyone
        start = (page - 1) * self.per_page
        entries = list(entries[start : start + self.per_page + 1])
        if not entries and page > 1:
            raise Http404("There is no such page of results.")
        return super().get_context_data(
            form=form,
            entries=entries[: self.per_page],
            page=page,
            previous_page=page - 1 if page > 1 else None,
            next_page=page + 1 if len(entries) > self.per_page else None,
            **kwargs,
        )

    def page_number(self) -> int:
        try:
            page = int(self.request.GET.get("page") or 1)
        except ValueError:
            raise Http404("The page must be a number.") from None
        # Each page sorts and skips every row before it, so a page number is a cost that
        # anyone logged in chooses. Past MAX_PAGE (10,000 members), search instead.
        if not 1 <= page <= self.MAX_PAGE:
            raise Http404("There is no such page of results.")
        return page
