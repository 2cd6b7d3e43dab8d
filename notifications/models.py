import uuid

from django.conf import settings
from django.db import models

from .signing import generate_secret


class Event(models.TextChoices):
    """Events the site emits. Members subscribe an endpoint to any of them."""

    EMAIL_CONFIRMED = "account.email_confirmed", "Email address confirmed"
    PROFILE_UPDATED = "profile.updated", "Profile updated"
    TEST = "webhook.test", "Test event"


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Endpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField("URL", max_length=2000)
    events = models.JSONField(default=list, help_text="Event types this endpoint receives.")
    secret = models.CharField(max_length=100, default=generate_secret)
    is_active = models.BooleanField("active", default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # Set when an attempt got no answer within the deadline: until then, deliveries to
    # this endpoint are not sent (attempts.send), so a receiver that never answers holds
    # a webhooks thread once per attempts.REST_AFTER_TIMEOUT, not once per delivery.
    resting_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.url

    def rotate_secret(self):
        self.secret = generate_secret()
        self.save(update_fields=["secret"])


class Delivery(models.Model):
    """One event for one endpoint, and the state of getting it there. This row, not the
    task result (which may be pruned sooner), is the record of its attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50, choices=Event.choices)
    payload = models.JSONField()
    # The Standard Webhooks "webhook-id": the same on every retry, so receivers can
    # drop duplicates.
    webhook_id = models.CharField(
        max_length=50, unique=True, editable=False, default=new_webhook_id
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due. None while an attempt is in flight, or once finished.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The start of the receiver's last answer: its error message is what a member needs.
    # Written by the receiver, so hostile: templates escape it like any user input.
    last_response = models.CharField(max_length=500, blank=True)
    # The task run that made the last attempt: where to find its log lines and traceback.
    task_result_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        # An endpoint's page and its log's polling read its latest deliveries.
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="delivery_latest")]

    def __str__(self):
        return f"{self.event} to {self.endpoint}"

    @property
    def can_redeliver(self) -> bool:
        return self.status == self.Status.FAILED and self.endpoint.is_active
