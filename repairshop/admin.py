"""The activity log in the admin: read-only for everyone, superusers included (contract §7)."""

from django.contrib import admin

from repairshop.admin_site import ReadOnlyAdmin
from repairshop.models import ActivityLog


@admin.register(ActivityLog)
class ActivityLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "request_id")
    list_filter = ("action", "object_type")
    list_select_related = ("actor",)
    search_fields = ("request_id__exact", "object_id__exact", "action__startswith")
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # the log only grows
    fields = ("created_at", "actor", "action", "object_type", "object_id", "metadata", "request_id")
