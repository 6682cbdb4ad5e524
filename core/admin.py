"""The activity log in the admin: read-only for everyone, superusers included (docs/api.md §7)."""

from django.contrib import admin

from core.admin_base import ReadOnlyAdmin
from core.models import ActivityLog


class ActionKindFilter(admin.SimpleListFilter):
    """Fixed choices by action prefix: a DISTINCT over the whole log on every page would
    grow with the log."""

    title = "action"
    parameter_name = "kind"
    KINDS = (
        ("customer:", "Customers"),
        ("ticket:", "Tickets"),
        ("user:", "Users"),
        ("api_token:", "API tokens"),
        ("auth:", "Sign-ins and sign-outs"),
        ("permission:", "Refused actions"),
    )

    def lookups(self, request, model_admin):
        return self.KINDS

    def queryset(self, request, queryset):
        if self.value() in dict(self.KINDS):
            return queryset.filter(action__startswith=self.value())
        return queryset


@admin.register(ActivityLog)
class ActivityLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "request_id")
    list_filter = (ActionKindFilter,)
    list_select_related = ("actor",)
    search_fields = ("request_id__exact", "object_id__exact", "action__startswith")
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # the log only grows
    fields = ("created_at", "actor", "action", "object_type", "object_id", "metadata", "request_id")
