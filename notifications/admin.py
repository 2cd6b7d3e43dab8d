from django.contrib import admin

from .models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "owner__email"]
    exclude = ["secret"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["webhook_id", "event", "endpoint", "status", "attempts", "last_status_code"]
    list_filter = ["status", "event"]
    search_fields = ["webhook_id", "endpoint__url"]
    readonly_fields = ["webhook_id", "payload", "task_result_id", "created_at"]
