"""Writes on tickets (docs/api.md §5): create with auto-assignment, edit, (re)assign, status.

Each function checks the permission (docs/api.md §6) first, validates and normalises the input,
then writes the row, its activity entry and the technician's email (queued) in one
transaction.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import permissions
from accounts.models import User
from accounts.permissions import NotFound
from core import errors
from core.activity import record_activity
from core.errors import DomainError, validation_error
from core.validation import (
    FieldErrors,
    clean_bool,
    clean_decimal,
    clean_text,
    full_clean,
    is_storable_id,
)
from customers.models import Customer
from tickets.models import (
    STATUS_KEY_PATTERN,
    DeviceType,
    Priority,
    Status,
    StatusChange,
    StatusGroup,
    StatusGroupDefault,
    StatusTransition,
    Ticket,
)
from tickets.notifications import queue_assignment_email
from tickets.queries import (
    PRIORITY_MESSAGE,
    Workflow,
    active_technicians,
    priority_value,
    workflow,
)

CONFLICT_MESSAGE = "This ticket was changed by someone else. Reload and try again."
INVALID_CUSTOMER_MESSAGE = "Customer does not exist or is inactive"
INVALID_TECH_MESSAGE = "No active technician has this email"

# field -> (max length, required)
TEXT_FIELDS: dict[str, tuple[int, bool]] = {
    "title": (200, True),
    "description": (10000, True),
    "category": (100, False),
    "notes": (10000, False),
    "device_brand": (100, False),
    "device_model": (100, False),
    "serial_number": (100, False),
    "accessories": (500, False),
    "condition": (2000, False),
}
EDITABLE_FIELDS = frozenset(
    [*TEXT_FIELDS, "customer_id", "tech", "priority", "estimated_hours", "device_type"]
)
CREATE_FIELDS = EDITABLE_FIELDS | {"completed", "status"}
UNKNOWN_STATUS_MESSAGE = "Unknown or inactive status"
STATUS_OR_COMPLETED_MESSAGE = "Give either status or completed, not both."
CLOSED_ON_CREATE_MESSAGE = "A new ticket cannot start in a closed status."
CLOSED_NOT_YOURS_MESSAGE = "Only the front desk and managers hand devices over (closed statuses)"
TRANSITION_MESSAGE = "{source} cannot move to {target}. Allowed: {allowed}."
COMMENT_MAX = 2000
REQUIRED_ON_CREATE = ("customer_id", "title", "description")


class _Denied(Exception):
    """Raised inside a transaction to roll it back; the denial is logged outside it."""

    def __init__(self, action: str, message: str | None = None):
        self.action = action
        self.message = message


# --- validation ------------------------------------------------------------------------------
def _clean_priority(value: Any, field_errors: FieldErrors) -> int | None:
    # The API name ("high", what the API and the pages send) or the stored value.
    priority = priority_value(value)
    if priority is None:
        field_errors.add("priority", PRIORITY_MESSAGE)
    return priority


def _clean_tech(value: Any, field_errors: FieldErrors) -> User | None:
    # An email (what the API and the pages send) is looked up here, after the permission
    # check: someone who may not write is not told who the technicians are. A User is taken
    # as it is (checked against the active technicians when written); None is no technician.
    if value is None or isinstance(value, User):
        return value
    tech = _technician_by_email(value)
    if tech is None:
        field_errors.add("tech", INVALID_TECH_MESSAGE)
    return tech


def clean_ticket_data(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validates and normalises ticket fields (docs/api.md §5); raises one VALIDATION_ERROR
    listing every bad field (snake_case names). `tech` is a technician's email (or a User);
    `priority` its API name ("high") or its value."""
    field_errors = FieldErrors()
    allowed = CREATE_FIELDS if creating else EDITABLE_FIELDS
    for key in data:
        if key not in allowed:
            field_errors.add(key, "Unknown field.")
    if creating:
        for key in REQUIRED_ON_CREATE:
            if key not in data:
                field_errors.add(key, "This field is required.")
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if key in TEXT_FIELDS:
            max_length, required = TEXT_FIELDS[key]
            cleaned[key] = clean_text(
                value, field=key, errors=field_errors, max_length=max_length, required=required
            )
        elif key == "customer_id":
            if isinstance(value, bool) or not isinstance(value, int):
                field_errors.add(key, "Must be a customer id.")
            cleaned[key] = value
        elif key == "tech":
            cleaned[key] = _clean_tech(value, field_errors)
        elif key == "priority":
            cleaned[key] = _clean_priority(value, field_errors)
        elif key == "estimated_hours":
            cleaned[key] = (
                None
                if value is None
                else clean_decimal(
                    value, field=key, errors=field_errors, minimum=0, maximum=1000, places=2
                )
            )
        elif key == "device_type":
            value = "" if value is None else value
            if value not in DeviceType.values:
                field_errors.add(key, f"Must be one of {', '.join(DeviceType.values[1:])}.")
            cleaned[key] = value
        elif key == "completed":
            cleaned[key] = clean_bool(value, field=key, errors=field_errors)
        elif key == "status":
            cleaned[key] = _clean_status_key(value, field_errors)
    if "status" in data and "completed" in data:
        field_errors.add("status", STATUS_OR_COMPLETED_MESSAGE)
    if isinstance(cleaned.get("status"), Status) and cleaned["status"].group == StatusGroup.CLOSED:
        field_errors.add("status", CLOSED_ON_CREATE_MESSAGE)
    field_errors.raise_if_any()
    return cleaned


def _clean_status_key(value: Any, field_errors: FieldErrors, flow: Workflow | None = None):
    # Rule 1 of §12: an unknown or inactive status is a 400 on field "status".
    if isinstance(value, Status):
        value = value.key
    status = (flow or workflow()).active_key(value)
    if status is None:
        field_errors.add("status", UNKNOWN_STATUS_MESSAGE)
    return status


@dataclass(frozen=True)
class StatusRequest:
    """A status change as asked: part 1's `completed` or §12's `status` (exactly one)."""

    completed: bool | None
    status: Status | None
    notes: str | None  # part 1's: replaces the ticket's notes when given
    comment: str  # §12's: goes to the history entry
    notify_customer: bool | None


def clean_status_data(
    *,
    completed: Any = None,
    status: Any = None,
    notes: Any = None,
    comment: Any = None,
    notify_customer: Any = None,
    flow: Workflow | None = None,
) -> StatusRequest:
    """Validates a status change's fields (every bad one at once): exactly one of
    `completed` and `status` (an active status's key)."""
    field_errors = FieldErrors()
    if completed is not None and status is not None:
        field_errors.add("status", STATUS_OR_COMPLETED_MESSAGE)
    elif completed is None and status is None:
        field_errors.add("completed", "Give completed (true or false) or a status.")
    if completed is not None:
        clean_bool(completed, field="completed", errors=field_errors)
    target = None
    if status is not None:
        target = _clean_status_key(status, field_errors, flow)
    if notes is not None:
        notes = clean_text(
            notes, field="notes", errors=field_errors, max_length=10000, required=False
        )
    comment = (
        ""
        if comment is None
        else clean_text(
            comment, field="comment", errors=field_errors, max_length=COMMENT_MAX, required=False
        )
    )
    if notify_customer is not None:
        clean_bool(notify_customer, field="notify_customer", errors=field_errors)
    field_errors.raise_if_any()
    return StatusRequest(
        completed=completed,
        status=target,
        notes=notes,
        comment=comment or "",
        notify_customer=notify_customer,
    )


def _technician_by_email(email: Any) -> User | None:
    """The active technician with this email (case-insensitive), or None."""
    if not isinstance(email, str) or "\x00" in email or not email.strip():
        return None
    return (
        active_technicians()
        .annotate(email_lower=Lower("email"))  # the user_email_ci_unique index
        .filter(email_lower=email.strip().lower())
        .first()
    )


def resolve_technician(email: str) -> User:
    """The active technician with this email (case-insensitive); VALIDATION_ERROR on field
    "tech" otherwise. The services do this themselves with an email as `tech`."""
    tech = _technician_by_email(email)
    if tech is None:
        raise validation_error({"tech": [INVALID_TECH_MESSAGE]})
    return tech


def _lock_technicians():
    """Active technicians' rows, locked FOR NO KEY UPDATE in id order: the one lock mode and
    the one order every ticket write uses on user rows (see _pick_technician)."""
    return active_technicians().select_for_update(of=("self",), no_key=True).order_by("id")


def _check_technician(tech: User | None) -> None:
    """An explicitly named technician must (still) be an active technician. Its row stays
    locked (as _pick_technician locks them) until the assignment bookkeeping is written."""
    if tech is not None and not list(_lock_technicians().filter(pk=tech.pk).values_list("pk")):
        raise validation_error({"tech": [INVALID_TECH_MESSAGE]})


def _lock_active_customer(customer_id: int) -> Customer:
    # Locked so that customer_deactivate (which locks it too) cannot count the tickets
    # between this check and the insert.
    customer = (
        Customer.objects.select_for_update(no_key=True).filter(pk=customer_id, active=True).first()
        if is_storable_id(customer_id)
        else None
    )
    if customer is None:
        raise DomainError(errors.INVALID_CUSTOMER, INVALID_CUSTOMER_MESSAGE, field="customer_id")
    return customer


def _pick_technician() -> User | None:
    """Contract §5: the active technician with the fewest open tickets, then the one whose
    last assignment is oldest (never assigned first), then the lowest id.

    Locks every active technician's row first (in id order, so two callers cannot
    deadlock): a concurrent create waits here and then counts the ticket this one adds.
    On SQLite the IMMEDIATE transaction already serialises writers.

    FOR NO KEY UPDATE, not FOR UPDATE: the foreign keys to accounts_user are DEFERRABLE
    INITIALLY DEFERRED, so another transaction checks its references to a technician (the
    actor of its activity entry, a ticket's tech) with FOR KEY SHARE at COMMIT, while it
    already holds the data-version row (migration tickets 0004) that this transaction needs at
    its own commit. FOR UPDATE would make that check wait for us, and us for it: a deadlock.
    FOR NO KEY UPDATE still serialises the creates and does not block FOR KEY SHARE.
    """
    techs = list(_lock_technicians())
    if not techs:
        return None
    open_counts = dict(
        Ticket.objects.filter(tech__in=techs, completed=False)
        .values_list("tech")
        .annotate(n=Count("id"))
        .values_list("tech", "n")
    )
    return min(
        techs,
        key=lambda t: (
            open_counts.get(t.pk, 0),
            t.last_assigned_at is not None,
            t.last_assigned_at or timezone.now(),
            t.pk,
        ),
    )


def _mark_assigned(tech: User) -> None:
    tech.last_assigned_at = timezone.now()
    User.objects.filter(pk=tech.pk).update(last_assigned_at=tech.last_assigned_at)


def _json_safe(key: str, value: Any) -> Any:
    if isinstance(value, User):
        return value.email
    if isinstance(value, Status):
        return value.key
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if key == "priority" and value is not None:
        return Priority(value).api_name
    return value


def _field_value(ticket: Ticket, key: str) -> Any:
    return ticket.tech if key == "tech" else getattr(ticket, key)


def _lock_ticket(ticket_id: int) -> Ticket:
    """The ticket, read after its row is locked (FOR NO KEY UPDATE: no key of a ticket ever
    changes, and it must not block the deferred FK checks of rows referencing it).

    The row is locked alone, without joins, then read with its customer and technician: a
    joined locking read that waited for a concurrent writer re-checks the newer ticket row
    against the joined rows found before the wait, which can drop the row (a 404) or pair it
    with the technician it no longer has."""
    if not is_storable_id(ticket_id):
        raise NotFound("Ticket not found")
    locked = Ticket.objects.select_for_update(no_key=True).filter(pk=ticket_id).values_list("pk")
    if not list(locked):
        raise NotFound("Ticket not found")
    return Ticket.objects.select_related("customer", "tech", "status").get(pk=ticket_id)


def _check_version(ticket: Ticket, expected_updated_at: datetime | None) -> None:
    # Compared after the row lock, so of two writers holding the same updatedAt exactly one
    # gets through; the other sees the row the first one wrote.
    if expected_updated_at is not None and expected_updated_at != ticket.updated_at:
        raise DomainError(errors.CONFLICT, CONFLICT_MESSAGE, details={"current": ticket})


def _get_ticket(ticket_id: int) -> Ticket:
    if not is_storable_id(ticket_id):
        raise NotFound("Ticket not found")
    try:
        return Ticket.objects.select_related("customer", "tech", "status").get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise NotFound("Ticket not found") from None


# --- services --------------------------------------------------------------------------------
def ticket_create(*, actor, data: dict[str, Any]) -> Ticket:
    """Creates a ticket for an active customer. `tech` absent or None: auto-assigned."""
    permissions.require(
        permissions.can_create_tickets(actor), actor, action="ticket:create", object_type="ticket"
    )
    cleaned = clean_ticket_data(data, creating=True)
    tech = cleaned.pop("tech", None)
    customer_id = cleaned.pop("customer_id")
    # Part 1's "completed": true is the ready group's default; no status: the new group's.
    status = cleaned.pop("status", None)
    completed = cleaned.pop("completed", False)
    with transaction.atomic():
        flow = workflow()
        if status is None:
            status = flow.defaults[StatusGroup.READY if completed else StatusGroup.NEW]
        customer = _lock_active_customer(customer_id)
        if tech is None:
            tech = _pick_technician()
        else:
            _check_technician(tech)
        now = timezone.now()
        ticket = Ticket(customer=customer, tech=tech, **cleaned, created_at=now)
        _enter_status(ticket, status, now=now, was_completed=False)
        full_clean(ticket, exclude=("customer", "tech", "status"))
        ticket.save()
        StatusChange.objects.create(
            ticket=ticket, from_status=None, to_status=status, at=now, by=actor
        )
        cleaned["status"] = status.key
        record_activity(
            actor=actor,
            action="ticket:create",
            object_type="ticket",
            object_id=ticket.pk,
            metadata={
                "changes": {
                    key: {"old": None, "new": _json_safe(key, value)}
                    for key, value in {**cleaned, "customer_id": customer.pk, "tech": tech}.items()
                }
            },
        )
        if tech is not None:
            _mark_assigned(tech)
            record_activity(
                actor=actor,
                action="ticket:assign",
                object_type="ticket",
                object_id=ticket.pk,
                metadata={"changes": {"tech": {"old": None, "new": tech.email}}},
            )
            queue_assignment_email(ticket=ticket, tech=tech)
    return ticket


def ticket_update(
    *,
    actor,
    ticket_id: int,
    data: dict[str, Any],
    expected_updated_at: datetime | None = None,
) -> Ticket:
    """Edits ticket fields. A `tech` key reassigns (None unassigns) and emails the new
    technician; `customer_id` must name an active customer."""
    permissions.require(
        permissions.can_edit_tickets(actor),
        actor,
        action="ticket:update",
        object_type="ticket",
        object_id=ticket_id,
    )
    cleaned = clean_ticket_data(data, creating=False)
    with transaction.atomic():
        ticket = _lock_ticket(ticket_id)
        _check_version(ticket, expected_updated_at)
        changes = {}
        for key, value in cleaned.items():
            old = _field_value(ticket, key)
            if old != value:
                changes[key] = {"old": _json_safe(key, old), "new": _json_safe(key, value)}
        if not changes:
            return ticket
        if "customer_id" in changes:
            ticket.customer = _lock_active_customer(cleaned.pop("customer_id"))
        if "tech" in changes:
            _check_technician(cleaned["tech"])
        for key, value in cleaned.items():
            if key != "customer_id":
                setattr(ticket, key, value)
        full_clean(ticket, exclude=("customer", "tech"))
        ticket.save()
        tech_change = changes.pop("tech", None)
        if changes:
            record_activity(
                actor=actor,
                action="ticket:update",
                object_type="ticket",
                object_id=ticket.pk,
                metadata={"changes": changes},
            )
        if tech_change is not None:
            _after_reassignment(actor=actor, ticket=ticket, tech_change=tech_change)
    return ticket


def _after_reassignment(*, actor, ticket: Ticket, tech_change: dict) -> None:
    record_activity(
        actor=actor,
        action="ticket:assign",
        object_type="ticket",
        object_id=ticket.pk,
        metadata={"changes": {"tech": tech_change}},
    )
    if ticket.tech is not None:
        _mark_assigned(ticket.tech)
        queue_assignment_email(ticket=ticket, tech=ticket.tech)


def ticket_assign(*, actor, ticket_id: int, tech: User | None) -> Ticket:
    """(Re)assigns a ticket; None unassigns. The new technician is emailed."""
    permissions.require(
        permissions.can_edit_tickets(actor),
        actor,
        action="ticket:assign",
        object_type="ticket",
        object_id=ticket_id,
    )
    clean_ticket_data({"tech": tech}, creating=False)
    with transaction.atomic():
        ticket = _lock_ticket(ticket_id)
        _check_technician(tech)
        if ticket.tech_id == (tech.pk if tech else None):
            return ticket
        tech_change = {"old": _json_safe("tech", ticket.tech), "new": _json_safe("tech", tech)}
        ticket.tech = tech
        ticket.save(update_fields=["tech", "updated_at"])
        _after_reassignment(actor=actor, ticket=ticket, tech_change=tech_change)
    return ticket


def _enter_status(ticket: Ticket, status: Status, *, now: datetime, was_completed: bool):
    """Puts the ticket in `status` as of `now`: part 1's completed and completedAt (when it
    last entered the ready or closed groups from an open one), the overdue deadline."""
    ticket.status = status
    ticket.status_changed_at = now
    ticket.overdue_at = None if status.time_limit is None else now + status.time_limit
    ticket.completed = status.completed
    if not status.completed:
        ticket.completed_at = None
    elif not was_completed:
        ticket.completed_at = now


def ticket_set_status(
    *,
    actor,
    ticket_id: int,
    completed: bool | None = None,
    status: Any = None,
    notes: str | None = None,
    comment: str | None = None,
    notify_customer: bool | None = None,
    expected_updated_at: datetime | None = None,
) -> Ticket:
    """Moves a ticket to another status (contract §12), by `status` (a key or a Status) or by
    part 1's `completed` (true: the ready group's default; false: the in-progress group's;
    nothing changes when the ticket's `completed` already is that). The rules, in order:
    an unknown or inactive status is a 400; the status it already has changes nothing; the
    target must be in the current status's `next` (409 INVALID_TRANSITION), unless the actor
    may override the rules (logged); only who hands devices over moves into the closed group.

    The ticket's row is locked first and every rule is checked against the status found
    under the lock, so concurrent moves of one ticket are applied one after the other, each
    against the status the previous one left. The move, its history entry and its activity
    entry are one transaction. `notes`, when given (even ""), replaces the ticket's notes
    (part 1), also when the status stays."""
    # A role without any status permission is refused outright (403, like every service);
    # for a technician the ticket must exist (404) before "not your ticket" (403) is said.
    permissions.require(
        permissions.can_change_any_status(actor) or _may_change_own_status(actor),
        actor,
        action="ticket:status_change",
        object_type="ticket",
        object_id=ticket_id,
    )
    ticket = _get_ticket(ticket_id)
    _require_status_permission(actor, ticket)
    asked = clean_status_data(
        completed=completed,
        status=status,
        notes=notes,
        comment=comment,
        notify_customer=notify_customer,
    )
    try:
        with transaction.atomic():
            ticket = _lock_ticket(ticket_id)
            if not permissions.can_change_status(actor, ticket):  # reassigned meanwhile
                raise _Denied("ticket:status_change", permissions.STATUS_NOT_OWN_MESSAGE)
            _check_version(ticket, expected_updated_at)
            _move(actor, ticket, asked, workflow())
    except _Denied as denied:
        permissions.deny(
            actor,
            action=denied.action,
            object_type="ticket",
            object_id=ticket_id,
            message=denied.message,
        )
    return ticket


def _move(actor, ticket: Ticket, asked: StatusRequest, flow: Workflow) -> None:
    source = flow.by_id[ticket.status_id]
    if asked.completed is not None:
        target = (
            source
            if asked.completed == ticket.completed
            else flow.defaults[StatusGroup.READY if asked.completed else StatusGroup.IN_PROGRESS]
        )
    else:
        target = flow.by_id[asked.status.pk]  # as it is now, under the ticket's lock
    if target.pk == source.pk:  # rule 2: nothing about the status changes
        if asked.notes is not None:
            ticket.notes = asked.notes
            ticket.save(update_fields=["notes", "updated_at"])
            _record_status_change(actor, ticket, source, source, asked, override=False)
        return
    if not target.active:  # deactivated since the request was checked
        raise validation_error({"status": [UNKNOWN_STATUS_MESSAGE]})
    allowed = flow.next_keys(source)
    override = target.key not in allowed
    if override and not permissions.can_override_status_rules(actor):  # rule 3
        raise DomainError(
            errors.INVALID_TRANSITION,
            TRANSITION_MESSAGE.format(
                source=source.label,
                target=target.label,
                allowed=", ".join(status.label for status in flow.next_of(source)) or "none",
            ),
            details={"from": source.key, "to": target.key, "allowed": allowed},
        )
    if target.group == StatusGroup.CLOSED and not permissions.can_hand_over_devices(actor):
        raise _Denied("ticket:status_change", CLOSED_NOT_YOURS_MESSAGE)  # rule 4
    now = timezone.now()
    was_completed = ticket.completed
    _enter_status(ticket, target, now=now, was_completed=was_completed)
    update_fields = [
        "status",
        "status_changed_at",
        "overdue_at",
        "completed",
        "completed_at",
        "updated_at",
    ]
    if asked.notes is not None:
        ticket.notes = asked.notes
        update_fields.append("notes")
    ticket.save(update_fields=update_fields)
    StatusChange.objects.create(
        ticket=ticket,
        from_status=source,
        to_status=target,
        at=now,
        by=actor,
        comment=asked.comment,
        override=override,
        # Customer messages (contract §13) are not sent yet: nobody was told.
        notified=False,
    )
    _record_status_change(
        actor, ticket, source, target, asked, override=override, was_completed=was_completed
    )


def _record_status_change(
    actor, ticket, source, target, asked, *, override: bool, was_completed: bool | None = None
):
    record_activity(
        actor=actor,
        action="ticket:status_change",
        object_type="ticket",
        object_id=ticket.pk,
        metadata={
            "from": source.key,
            "to": target.key,
            # part 1's old and new status, its notes
            "oldStatus": ticket.completed if was_completed is None else was_completed,
            "newStatus": ticket.completed,
            "notes": asked.notes,
            "comment": asked.comment,
            "override": override,
        },
    )


def _may_change_own_status(actor) -> bool:
    # can_view_tickets first: it is False for anonymous and inactive users.
    return permissions.can_view_tickets(actor) and actor.has_perm("tickets.change_ticket_status")


def _require_status_permission(actor, ticket: Ticket) -> None:
    if not permissions.can_change_status(actor, ticket):
        # Only a technician gets here (the others hold update_all_tickets or were refused).
        permissions.deny(
            actor,
            action="ticket:status_change",
            object_type="ticket",
            object_id=ticket.pk,
            message=permissions.STATUS_NOT_OWN_MESSAGE,
        )


# --- statuses (contract §12): shop data the managers edit in the admin ----------------------
STATUS_FIELDS = (
    "key",
    "label",
    "group",
    "position",
    "notify_customer",
    "time_limit_hours",
    "active",
    "is_default",
    "next",
)
STATUS_MODEL_FIELDS = STATUS_FIELDS[:7]
STATUS_REQUIRED = ("key", "label", "group")
MAX_POSITION = 32767  # the column is a small integer
MAX_TIME_LIMIT_HOURS = 8760  # a year
KEY_MESSAGE = "Use 1 to 40 characters: lower-case letters a-z, digits 0-9 and _."
KEY_TAKEN_MESSAGE = "A status with this key already exists."
KEY_FIXED_MESSAGE = "The key of a status cannot change: the API and integrations name it."
GROUP_MESSAGE = f"Must be one of {', '.join(StatusGroup.values)}."
POSITION_MESSAGE = f"Must be a whole number from 0 to {MAX_POSITION}."
TIME_LIMIT_MESSAGE = (
    f"Must be a whole number of hours from 1 to {MAX_TIME_LIMIT_HOURS}, or empty for no limit."
)
SELF_MOVE_MESSAGE = "A status cannot move to itself: that is not a move."
UNKNOWN_MOVE_MESSAGE = "Unknown status: {keys}."
GROUP_IN_USE_MESSAGE = (
    "This status has {count} in it, so its group cannot change (what the ticket's history and "
    "its completed flag mean would change with it). Move the tickets first, or add a new "
    "status in the other group."
)
DEFAULT_DEACTIVATED_MESSAGE = (
    "This status is the default of the {group} group and cannot be deactivated: make another "
    "status of the group its default first."
)
DEFAULT_MOVED_MESSAGE = (
    "This status is the default of the {group} group and cannot move to another group: make "
    "another status of the group its default first."
)
DEFAULT_KEPT_MESSAGE = (
    "A group always has a default: to change the {group} group's, make another of its "
    "statuses the default (this one then stops being it)."
)
INACTIVE_DEFAULT_MESSAGE = "An inactive status cannot be a group's default: make it active too."
STATUS_CONFLICT_MESSAGE = "The statuses or their tickets changed meanwhile. Reload and try again."
STATUS_IN_USE_MESSAGE = "{label} cannot be deleted: {reasons}. Deactivate it instead."


def _tickets_phrase(count: int) -> str:
    return "1 ticket" if count == 1 else f"{count} tickets"


def _group_label(group: str) -> str:
    return StatusGroup(group).label


def _clean_whole_number(value: Any, *, minimum: int, maximum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if minimum <= value <= maximum else None


def _clean_moves(value: Any, own_key: Any, field_errors: FieldErrors) -> list[Status]:
    # Statuses (the admin's form), or their keys (what an API client would send); kept in
    # position order.
    items = None if isinstance(value, str | bytes | dict) else value
    try:
        items = list(items)
    except TypeError:
        items = None
    if items is None or any(not isinstance(item, Status | str) for item in items):
        field_errors.add("next", "Must be a list of status keys.")
        return []
    by_key = {s.key: s for s in Status.objects.all()}
    keys = {item.key if isinstance(item, Status) else item for item in items}
    unknown = sorted(key for key in keys if key not in by_key and key != own_key)
    if unknown:
        field_errors.add("next", UNKNOWN_MOVE_MESSAGE.format(keys=", ".join(unknown)))
    if own_key in keys:
        field_errors.add("next", SELF_MOVE_MESSAGE)
    return sorted(
        (by_key[key] for key in keys if key in by_key and key != own_key),
        key=lambda target: (target.position, target.pk),
    )


@dataclass(frozen=True)
class StatusCheck:
    """A status edit as validated: the cleaned fields, every broken rule per field, and what
    the rules read (the group it is the default of, the tickets in it)."""

    cleaned: dict[str, Any]
    errors: dict[str, list[str]]
    default_of: str | None
    ticket_count: int


def check_status_data(*, status: Status | None, data: dict[str, Any]) -> StatusCheck:
    """Every rule of a status edit (contract §12, issue 12), each broken one named on its
    field at once: the admin's form shows them before anything is written, status_save
    raises them. `status` None is a new status; `data` holds the fields given (`next`:
    statuses or keys; `is_default`: make it its group's default). The database triggers of
    tickets/migrations/0007_status_rules hold the same rules; these say why, first."""
    field_errors = FieldErrors()
    creating = status is None
    for name in data:
        if name not in STATUS_FIELDS:
            field_errors.add(name, "Unknown field.")
    if creating:
        for name in STATUS_REQUIRED:
            if name not in data:
                field_errors.add(name, "This field is required.")
    cleaned: dict[str, Any] = {}
    if "key" in data:
        key = data["key"]
        if not creating and key != status.key:
            field_errors.add("key", KEY_FIXED_MESSAGE)
        elif not isinstance(key, str) or not re.fullmatch(STATUS_KEY_PATTERN, key):
            field_errors.add("key", KEY_MESSAGE)
        elif creating and Status.objects.filter(key=key).exists():
            field_errors.add("key", KEY_TAKEN_MESSAGE)
        else:
            cleaned["key"] = key
    if "label" in data:
        label = clean_text(
            data["label"], field="label", errors=field_errors, max_length=100, required=True
        )
        if label is not None:
            cleaned["label"] = label
    if "group" in data:
        if data["group"] in StatusGroup.values:
            cleaned["group"] = str(data["group"])
        else:
            field_errors.add("group", GROUP_MESSAGE)
    if "position" in data:
        position = _clean_whole_number(data["position"], minimum=0, maximum=MAX_POSITION)
        if position is None:
            field_errors.add("position", POSITION_MESSAGE)
        else:
            cleaned["position"] = position
    if "time_limit_hours" in data:
        hours = data["time_limit_hours"]
        if hours is not None:
            hours = _clean_whole_number(hours, minimum=1, maximum=MAX_TIME_LIMIT_HOURS)
            if hours is None:
                field_errors.add("time_limit_hours", TIME_LIMIT_MESSAGE)
        if "time_limit_hours" not in field_errors.errors:
            cleaned["time_limit_hours"] = hours
    for name in ("notify_customer", "active", "is_default"):
        if name in data:
            value = clean_bool(data[name], field=name, errors=field_errors)
            if value is not None:
                cleaned[name] = value
    if "next" in data:
        cleaned["next"] = _clean_moves(
            data["next"], data.get("key") if creating else status.key, field_errors
        )

    # The rules between fields, on the values the status would have.
    default_of = None
    ticket_count = 0
    if not creating:
        default_of = (
            StatusGroupDefault.objects.filter(status=status).values_list("group", flat=True).first()
        )
        moving_group = cleaned.get("group", status.group) != status.group
        if moving_group:
            ticket_count = Ticket.objects.filter(status=status).count()
            if ticket_count:
                field_errors.add(
                    "group", GROUP_IN_USE_MESSAGE.format(count=_tickets_phrase(ticket_count))
                )
        if default_of is not None:
            group = _group_label(default_of)
            if cleaned.get("active") is False:
                field_errors.add("active", DEFAULT_DEACTIVATED_MESSAGE.format(group=group))
            if moving_group:
                field_errors.add("group", DEFAULT_MOVED_MESSAGE.format(group=group))
            if cleaned.get("is_default") is False:
                field_errors.add("is_default", DEFAULT_KEPT_MESSAGE.format(group=group))
    active_after = cleaned.get("active", True if creating else status.active)
    if cleaned.get("is_default") and default_of is None and not active_after:
        field_errors.add("is_default", INACTIVE_DEFAULT_MESSAGE)
    return StatusCheck(
        cleaned=cleaned,
        errors=field_errors.errors,
        default_of=default_of,
        ticket_count=ticket_count,
    )


def _status_snapshot(status: Status, *, is_default: bool, next_keys: list[str]) -> dict:
    return {
        **{name: getattr(status, name) for name in STATUS_MODEL_FIELDS},
        "is_default": is_default,
        "next": next_keys,
    }


def _next_keys(status: Status) -> list[str]:
    targets = StatusTransition.objects.filter(source=status).select_related("target")
    return [t.target.key for t in sorted(targets, key=lambda t: (t.target.position, t.target.pk))]


def status_save(*, actor, status_id: int | None, data: dict[str, Any]) -> Status:
    """Creates (`status_id` None) or changes a status, in one transaction: its fields, its
    allowed moves (`next`, replaced as a whole) and, with `is_default`, the switch of its
    group's default (the group's StatusGroupDefault row is repointed: there is never a
    moment with none or two). Every broken rule is one VALIDATION_ERROR naming each field
    (check_status_data); the activity entry status:create / status:update holds the
    changes. A change that changes nothing writes nothing."""
    creating = status_id is None
    action = "status:create" if creating else "status:update"
    permissions.require(
        (permissions.can_add_statuses if creating else permissions.can_edit_statuses)(actor),
        actor,
        action=action,
        object_type="status",
        object_id=status_id,
    )
    try:
        with transaction.atomic():
            status = None
            if not creating:
                status = Status.objects.select_for_update().filter(pk=status_id).first()
                if status is None:
                    raise NotFound("Status not found")
            check = check_status_data(status=status, data=data)
            if check.errors:
                raise validation_error(check.errors)
            status, changes = _write_status(status, check)
            if changes:
                record_activity(
                    actor=actor,
                    action=action,
                    object_type="status",
                    object_id=status.pk,
                    metadata={"key": status.key, "changes": changes},
                )
    except IntegrityError:
        # A ticket entered the status, or another manager changed the defaults, between the
        # check and the write: the triggers refused what the check had allowed.
        raise DomainError(errors.CONFLICT, STATUS_CONFLICT_MESSAGE) from None
    return status


def _write_status(status: Status | None, check: StatusCheck) -> tuple[Status, dict]:
    cleaned = check.cleaned
    if status is None:
        before = None
        status = Status()
    else:
        before = _status_snapshot(
            status, is_default=check.default_of is not None, next_keys=_next_keys(status)
        )
    for name in STATUS_MODEL_FIELDS:
        if name in cleaned:
            setattr(status, name, cleaned[name])
    if "next" in cleaned:
        next_keys = [target.key for target in cleaned["next"]]
    else:
        next_keys = [] if before is None else before["next"]
    becomes_default = bool(cleaned.get("is_default")) and check.default_of is None
    after = _status_snapshot(
        status, is_default=becomes_default or check.default_of is not None, next_keys=next_keys
    )
    if before is None:
        changes = {name: {"old": None, "new": value} for name, value in after.items()}
    else:
        changes = {
            name: {"old": before[name], "new": value}
            for name, value in after.items()
            if before[name] != value
        }
        if not changes:
            return status, {}
    full_clean(status)
    status.save()  # moves updated_at: the data version of the lists that show statuses
    if "next" in cleaned:
        StatusTransition.objects.filter(source=status).exclude(target__in=cleaned["next"]).delete()
        kept = set(
            StatusTransition.objects.filter(source=status).values_list("target_id", flat=True)
        )
        StatusTransition.objects.bulk_create(
            [StatusTransition(source=status, target=t) for t in cleaned["next"] if t.pk not in kept]
        )
    if becomes_default:
        row = StatusGroupDefault.objects.select_for_update().filter(group=status.group).first()
        if row is None:
            StatusGroupDefault.objects.create(group=status.group, status=status)
        else:
            previous_id = row.status_id
            row.status = status
            row.save(update_fields=["status"])
            # The former default's isDefault changed: move its updated_at, which the data
            # version reads (on SQLite it is all it reads of the statuses).
            Status.objects.filter(pk=previous_id).update(updated_at=timezone.now())
    return status, changes


def status_delete(*, actor, status_id: int) -> None:
    """Deletes a status no ticket is or was ever in and that is no group's default (its moves
    go with it). Otherwise HAS_DEPENDENCIES, saying why: such a status is deactivated
    instead (contract §12). The tickets' and the history's foreign keys (PROTECT) hold the
    same rule."""
    permissions.require(
        permissions.can_delete_statuses(actor),
        actor,
        action="status:delete",
        object_type="status",
        object_id=status_id,
    )
    try:
        with transaction.atomic():
            status = Status.objects.select_for_update().filter(pk=status_id).first()
            if status is None:
                raise NotFound("Status not found")
            reasons, details = status_dependencies(status)
            if reasons:
                raise DomainError(
                    errors.HAS_DEPENDENCIES,
                    STATUS_IN_USE_MESSAGE.format(label=status.label, reasons="; ".join(reasons)),
                    details=details,
                )
            StatusTransition.objects.filter(Q(source=status) | Q(target=status)).delete()
            status.delete()
            # Every list of statuses loses a row, which on SQLite the data version (the
            # newest id and updated_at) would not show when the row was neither.
            Status.objects.update(updated_at=timezone.now())
            record_activity(
                actor=actor,
                action="status:delete",
                object_type="status",
                object_id=status_id,
                metadata={"key": status.key, "label": status.label},
            )
    except (IntegrityError, ProtectedError):
        raise DomainError(errors.HAS_DEPENDENCIES, STATUS_CONFLICT_MESSAGE) from None


def status_dependencies(status: Status) -> tuple[list[str], dict[str, Any]]:
    """Why `status` cannot be deleted (nothing: it can), and the counts for the error."""
    ticket_count = Ticket.objects.filter(status=status).count()
    history_count = StatusChange.objects.filter(Q(from_status=status) | Q(to_status=status)).count()
    default_of = (
        StatusGroupDefault.objects.filter(status=status).values_list("group", flat=True).first()
    )
    reasons = []
    if ticket_count:
        reasons.append(f"{_tickets_phrase(ticket_count)} in it")
    if history_count:
        reasons.append(
            "1 history entry names it"
            if history_count == 1
            else f"{history_count} history entries name it"
        )
    if default_of is not None:
        reasons.append(f"it is the default of the {_group_label(default_of)} group")
    details = {"ticketCount": ticket_count, "historyCount": history_count}
    return reasons, details
