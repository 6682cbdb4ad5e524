"""Admin classes the apps' admins share: service-backed writes, logged writes, read-only."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from core.activity import record_activity
from core.errors import DomainError


def error_message(exc: DomainError) -> str:
    """The domain error as one line, with the per-field messages when there are any."""
    details = exc.details or {}
    parts = [
        f"{field}: {'; '.join(str(m) for m in msgs)}"
        for field, msgs in details.items()
        if isinstance(msgs, list | tuple)
    ]
    return f"{exc.message} ({', '.join(parts)})" if parts else exc.message


class ServiceWriteAdmin(admin.ModelAdmin):
    """For models whose writes go through a service: a broken business rule raised by the
    service rolls the admin's transaction back and comes back as an error message."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # The service records the activity entry; the admin's own LogEntry is kept as well.


class ActivityLoggedAdmin(admin.ModelAdmin):
    """For models the admin writes directly (users, tokens): each add and change made here
    also goes to the activity log (docs/api.md §7). Change messages hold field labels only."""

    activity_object_type = ""

    def _record(self, request, obj, verb: str, **metadata) -> None:
        record_activity(
            actor=request.user,
            action=f"{self.activity_object_type}:{verb}",
            object_type=self.activity_object_type,
            object_id=obj.pk,
            metadata={"via": "admin", **metadata},
        )

    def log_addition(self, request, obj, message):
        self._record(request, obj, "create")
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._record(request, obj, "update", changes=message)
        return super().log_change(request, obj, message)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody, superusers included, adds, changes or deletes these rows here."""

    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
