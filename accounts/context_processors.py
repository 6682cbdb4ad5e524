"""Template context shared by every page."""

from functools import cached_property

from django.conf import settings

from accounts import permissions


class RoleChecks:
    """What the signed-in user may do, for the navigation and the buttons (contract §6).

    Lazy: a page that never asks costs no query; the first check loads the user's permissions
    once (Django caches them on the user)."""

    def __init__(self, user):
        self._user = user

    @cached_property
    def view_customers(self):
        return permissions.can_view_customers(self._user)

    @cached_property
    def create_customers(self):
        return permissions.can_create_customers(self._user)

    @cached_property
    def edit_customers(self):
        return permissions.can_edit_customers(self._user)

    @cached_property
    def deactivate_customers(self):
        return permissions.can_deactivate_customers(self._user)

    @cached_property
    def view_tickets(self):
        return permissions.can_view_tickets(self._user)

    @cached_property
    def view_all_tickets(self):
        return permissions.can_view_all_tickets(self._user)

    @cached_property
    def create_tickets(self):
        return permissions.can_create_tickets(self._user)

    @cached_property
    def edit_tickets(self):
        return permissions.can_edit_tickets(self._user)

    @cached_property
    def use_admin(self):
        return permissions.can_use_admin(self._user)

    @cached_property
    def see_queue(self):
        """ "My queue" is the technicians' page."""
        return permissions.is_technician(self._user)


def shop(request):
    return {
        "poll_interval_seconds": settings.POLL_INTERVAL_SECONDS,
        "can": RoleChecks(getattr(request, "user", None)),
    }
