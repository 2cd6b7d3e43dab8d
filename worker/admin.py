from django.contrib import admin

from .models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["process_id", "worker_id", "hostname", "pid", "started_at", "seen_at"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False
