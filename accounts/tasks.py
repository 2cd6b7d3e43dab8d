"""Background work for accounts. Each task takes ids, reloads the row, and is safe to run twice."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse

from .models import User
from .tokens import make_token


@task(queue_name="email", priority=10)
def send_confirmation_email(user_id: int) -> str:
    """Send the address-confirmation mail, unless the address is already confirmed.

    Safe to run more than once: a confirmed, deactivated or deleted user gets nothing.
    Returns what happened, which the task result keeps.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return "skipped: no active user"
    if user.email_confirmed:
        return "skipped: already confirmed"

    context = {
        "confirm_url": settings.SITE_URL
        + reverse("accounts:confirm", kwargs={"token": make_token(user)}),
        "expiry_days": settings.EMAIL_CONFIRMATION_MAX_AGE // (24 * 60 * 60),
        "site_url": settings.SITE_URL,
    }
    subject = render_to_string("emails/confirm_email_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/confirm_email.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("emails/confirm_email.html", context), "text/html")
    message.send()
    return "sent"
