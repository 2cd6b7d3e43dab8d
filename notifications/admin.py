from django.contrib import admin, messages
from django.db import transaction

from . import events
from .models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "is_active", "disabled_reason", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["url", "owner__email"]
    exclude = ["secret"]  # Staff have no need to read members' signing secrets.


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "webhook_id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event", "endpoint__is_active", "created_at"]
    list_select_related = ["endpoint"]
    search_fields = ["webhook_id", "endpoint__url", "endpoint__owner__email"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Delivery._meta.fields]
    actions = ["retry_failed"]

    @admin.action(description="Retry the selected failed deliveries")
    def retry_failed(self, request, queryset):
        with transaction.atomic():
            failed = queryset.select_for_update().filter(
                status=Delivery.Status.FAILED, endpoint__is_active=True
            )
            for delivery in failed:
                events.redeliver(delivery)
        self.message_user(
            request,
            f"{len(failed)} deliveries queued again. Deliveries to disabled endpoints are skipped.",
            messages.SUCCESS,
        )

    def has_add_permission(self, request):
        return False
