"""The Django admin site for managers: who may enter it, and how they sign in and out.

Staff here are not `is_staff`: the admin is open to users holding accounts.access_admin
(the manager role) and to superusers, as docs/api.md §6 says. Signing in goes through the
app's own login page (repairshop/urls.py routes admin/login/ there), so the admin gets
its rate limits and single sign-on too.
"""

from functools import update_wrapper

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest

from accounts.permissions import can_use_admin
from core.validation import has_nul


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
            if any(has_nul(v) for _, values in request.GET.lists() for v in values):
                # A list filter (?status__exact=%00) goes to the database unchecked, and
                # PostgreSQL refuses NUL in text: a 400, not a DataError.
                return HttpResponseBadRequest("Query parameters must not contain NUL characters.")
            return guarded(request, *args, **kwargs)

        return update_wrapper(inner, guarded)

    def logout(self, request, extra_context=None):
        # The app's sign-out: it records the logout and ends a single sign-on session too.
        from accounts.views import logout_view

        return logout_view(request)
