"""The Django admin for managers: who may enter it, and helpers the apps' admins share.

Staff here are not `is_staff`: the admin is open to users holding accounts.access_admin
(the manager role) and to superusers, as contract §6 says. Signing in goes through the
app's own login page (repairshop/urls.py routes admin/login/ there), so the admin gets
its rate limits and single sign-on too.
"""

from functools import update_wrapper

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect

from accounts.permissions import can_use_admin
from repairshop.activity import record_activity
from repairshop.errors import DomainError


class RepairshopAdminSite(admin.AdminSite):
    site_header = "Repairshop administration"
    site_title = "Repairshop admin"
    index_title = "Back office"
    # The collapsible sidebar repeats the index's list of every model on every page: it was
    # a third of the ticket changelist's rendering (benchmark, docs/benchmarks.md). The
    # breadcrumbs and the index page still lead everywhere.
    enable_nav_sidebar = False

    def has_permission(self, request):
        return can_use_admin(request.user)

    def each_context(self, request):
        request._building_each_context = True
        try:
            return super().each_context(request)
        finally:
            del request._building_each_context

    def get_app_list(self, request, app_label=None):
        # each_context builds the whole app list on every page for the sidebar alone (its
        # `available_apps`); with the sidebar off that was a tenth of a changelist's CPU for
        # nothing. The index and app pages ask for their own list, outside each_context.
        if getattr(request, "_building_each_context", False) and not self.enable_nav_sidebar:
            return []
        return super().get_app_list(request, app_label)

    def admin_view(self, view, cacheable=False):
        guarded = super().admin_view(view, cacheable)

        def inner(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                # Signed in, but not a manager: 403 rather than a login form inviting a
                # second account.
                raise PermissionDenied
            return guarded(request, *args, **kwargs)

        return update_wrapper(inner, guarded)

    def logout(self, request, extra_context=None):
        # The app's sign-out: it records the logout and ends a single sign-on session too.
        from accounts.views import logout_view

        return logout_view(request)


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
    also goes to the activity log (contract §7). Change messages hold field labels only."""

    activity_object_type = ""

    def log_addition(self, request, obj, message):
        record_activity(
            actor=request.user,
            action=f"{self.activity_object_type}:create",
            object_type=self.activity_object_type,
            object_id=obj.pk,
            metadata={"via": "admin"},
        )
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        record_activity(
            actor=request.user,
            action=f"{self.activity_object_type}:update",
            object_type=self.activity_object_type,
            object_id=obj.pk,
            metadata={"via": "admin", "changes": message},
        )
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
