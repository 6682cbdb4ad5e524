"""Template context shared by every page: the poll interval and what the user may do."""

from django.conf import settings

from accounts import permissions

# {{ can.<name> }} in templates -> the check of accounts.permissions it stands for.
ROLE_CHECKS = {
    "view_customers": permissions.can_view_customers,
    "create_customers": permissions.can_create_customers,
    "edit_customers": permissions.can_edit_customers,
    "deactivate_customers": permissions.can_deactivate_customers,
    "view_tickets": permissions.can_view_tickets,
    "view_all_tickets": permissions.can_view_all_tickets,
    "create_tickets": permissions.can_create_tickets,
    "edit_tickets": permissions.can_edit_tickets,
    "use_admin": permissions.can_use_admin,
    "see_queue": permissions.is_technician,  # "My queue" is the technicians' page
}


class RoleChecks:
    """What the signed-in user may do, for the navigation and the buttons (docs/api.md §6).

    Lazy: a page that never asks costs no query; the first check loads the user's permissions
    once (Django caches them on the user), and each answer is kept for the request."""

    def __init__(self, user):
        self._user = user
        self._answers: dict[str, bool] = {}

    def __getattr__(self, name: str) -> bool:
        check = ROLE_CHECKS.get(name)
        if check is None:
            raise AttributeError(name)
        if name not in self._answers:
            self._answers[name] = check(self._user)
        return self._answers[name]


def shop(request):
    return {
        "poll_interval_seconds": settings.POLL_INTERVAL_SECONDS,
        "can": RoleChecks(getattr(request, "user", None)),
    }
