"""The permission matrix of docs/api.md §6, as small named checks.

Services call these before they write, the API and the pages call them to decide what to
offer, so the matrix is enforced in one place. A denied write is recorded in the activity
log and the security log before the error is raised.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts import roles
from accounts.backends import RememberedPerUser
from core import errors
from core.errors import DomainError
from core.rendered import Audience

security_log = logging.getLogger("repairshop.security")

STATUS_NOT_OWN_MESSAGE = "You can only update your assigned tickets"


class AccessDenied(DomainError, PermissionDenied):
    """403: Django answers it with the 403 page, the API with the error envelope."""

    def __init__(self, message: str = "You do not have permission to do this"):
        super().__init__(errors.FORBIDDEN, message)


class NotFound(DomainError, Http404):
    """404: Django answers it with the 404 page, the API with the error envelope."""

    def __init__(self, message: str = "Not found"):
        super().__init__(errors.NOT_FOUND, message)


remembered_roles = RememberedPerUser(512)


def _has(user, perm: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(perm))


# --- customers ---------------------------------------------------------------------------
def can_view_customers(user) -> bool:
    return _has(user, "customers.view_customer")


def can_create_customers(user) -> bool:
    return _has(user, "customers.add_customer")


def can_edit_customers(user) -> bool:
    return _has(user, "customers.change_customer")


def can_deactivate_customers(user) -> bool:
    """Deactivation and reactivation are the managers' (docs/api.md §4, §6)."""
    return _has(user, "customers.delete_customer")


# --- tickets -------------------------------------------------------------------------------
def can_view_tickets(user) -> bool:
    return _has(user, "tickets.view_ticket")


def can_view_all_tickets(user) -> bool:
    return _has(user, "tickets.view_all_tickets")


def can_create_tickets(user) -> bool:
    return _has(user, "tickets.add_ticket")


def can_edit_tickets(user) -> bool:
    """Edit ticket fields and (re)assign."""
    return _has(user, "tickets.change_ticket")


def is_own_ticket(user, ticket) -> bool:
    return ticket.tech_id is not None and ticket.tech_id == user.pk


def can_see_ticket(user, ticket) -> bool:
    return can_view_tickets(user) and (can_view_all_tickets(user) or is_own_ticket(user, ticket))


def can_change_status(user, ticket) -> bool:
    if _has(user, "tickets.update_all_tickets"):
        return True
    return _has(user, "tickets.change_ticket_status") and is_own_ticket(user, ticket)


def can_change_own_status(user) -> bool:
    return _has(user, "tickets.change_ticket_status")


def can_change_any_status(user) -> bool:
    return _has(user, "tickets.update_all_tickets")


def can_override_status_rules(user) -> bool:
    """Any move between active statuses, not only the current status's `next` (§12 rule 3)."""
    return _has(user, "tickets.override_status_rules")


def can_hand_over_devices(user) -> bool:
    """Moves into the closed group: the device leaves the shop (§12 rule 4)."""
    return _has(user, "tickets.hand_over_devices")


def role_names(user) -> frozenset[str]:
    """The names of the user's groups (their roles). Remembered per (user id, updated_at)
    like the permissions (accounts.backends): group changes move updated_at."""
    if not (user and user.is_authenticated):
        return frozenset()
    return remembered_roles.read(
        user, lambda member: frozenset(member.groups.values_list("name", flat=True))
    )


def is_front_desk(user) -> bool:
    """A member of the front desk's group: the open tickets are their list's default view."""
    return roles.FRONTDESK in role_names(user)


def is_technician(user) -> bool:
    """A member of the technicians' group: has a queue, can be assigned tickets."""
    return roles.TECHNICIAN in role_names(user)


def audience(user, *, per_user: bool) -> Audience:
    """Who `user` is for a rendering shared between users (core.rendered): their roles and
    permissions, and with `per_user` (the rows depend on whose they are) their id."""
    if user.is_superuser:
        # Every permission: the flag says it without reading the whole permission table.
        return Audience(roles=role_names(user), permissions=frozenset(), superuser=True)
    return Audience(
        roles=role_names(user),
        permissions=frozenset(user.get_all_permissions()) if user.is_active else frozenset(),
        user_id=user.pk if per_user else None,
    )


def can_use_admin(user) -> bool:
    return bool(
        user and user.is_active and (user.is_superuser or _has(user, "accounts.access_admin"))
    )


# --- enforcing ---------------------------------------------------------------------------------
def deny(user, *, action: str, object_type: str = "", object_id=None, message: str | None = None):
    """Records a refused write (docs/api.md §7) and raises AccessDenied."""
    from core.activity import record_activity

    security_log.warning(
        "permission denied: user=%s action=%s object=%s#%s",
        getattr(user, "pk", None),
        action,
        object_type,
        object_id,
    )
    if user is not None and user.is_authenticated:
        record_activity(
            actor=user,
            action="permission:denied",
            object_type=object_type,
            object_id=object_id,
            metadata={"attempted": action},
        )
    raise AccessDenied(message) if message else AccessDenied()


def require(allowed: bool, user, *, action: str, object_type: str = "", object_id=None):
    """Raises (and records) AccessDenied unless `allowed`."""
    if not allowed:
        deny(user, action=action, object_type=object_type, object_id=object_id)


def get_ticket_for_user(user, pk: int, *, queryset=None):
    """The ticket `user` may see: NotFound when there is no such ticket, AccessDenied when it
    belongs to someone else and the user may only see their own."""
    from tickets.models import Ticket

    if not can_view_tickets(user):
        raise AccessDenied()
    if queryset is None:
        queryset = Ticket.objects.select_related("customer", "tech", "status")
    qs = queryset
    try:
        ticket = qs.get(pk=pk)
    except Ticket.DoesNotExist:
        raise NotFound("Ticket not found") from None
    if not can_see_ticket(user, ticket):
        raise AccessDenied("You can only see your assigned tickets")
    return ticket


def get_customer_for_user(user, pk: int, *, queryset=None):
    from customers.models import Customer

    if not can_view_customers(user):
        raise AccessDenied()
    qs = queryset if queryset is not None else Customer.objects.all()
    try:
        return qs.get(pk=pk)
    except Customer.DoesNotExist:
        raise NotFound("Customer not found") from None
