"""Reads of tickets (docs/api.md §5): the list with every filter and sort, one ticket, a
technician's queue and the cheap "has anything changed" version for polling. The
visibility rule (a technician sees only their own tickets) is applied here, once."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts import permissions, roles
from accounts.models import User
from accounts.permissions import AccessDenied
from core.errors import validation_error
from core.rendered import Audience
from core.validation import has_nul, is_storable_id
from tickets.models import Priority, Ticket

# The list's sort keys as the API and the pages name them (sortBy) -> the column; the one
# map both use. ticket_list takes the column.
SORT_KEYS = {
    "id": "id",
    "title": "title",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "priority": "priority",
}
SORT_FIELDS = tuple(SORT_KEYS.values())
SORT_ORDERS = ("asc", "desc")
_TICKET_NUMBER = re.compile(r"^#?(\d{1,18})$")  # 18 digits always fit a bigint


@dataclass
class TicketFilters:
    search: str | None = None
    completed: bool | None = None
    tech_email: str | None = None
    customer_id: int | None = None
    priority: int | str | None = None  # Priority value or API name ("high")
    date_from: date | datetime | str | None = None
    date_to: date | datetime | str | None = None
    sort_by: str = "created_at"
    sort_order: str = "desc"


def as_bound(value, *, field: str, end: bool) -> datetime:
    """A dateFrom/dateTo value as an aware datetime (the one rule of the API and the pages:
    a VALIDATION_ERROR when it is malformed or out of range). A bare date is the start of that day
    in the shop's time zone; for dateTo, the start of the next day (exclusive)."""
    if isinstance(value, str):
        text = value.strip()
        parsed = None
        try:
            parsed = parse_datetime(text) if "T" in text or " " in text else parse_date(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise validation_error({field: ["Use YYYY-MM-DD or an ISO 8601 date and time."]})
        value = parsed
    try:
        if isinstance(value, datetime):
            if timezone.is_naive(value):
                value = timezone.make_aware(value)
            # Converting here surfaces an out-of-range instant (year 1 at +14:00) as a 400.
            return value.astimezone(UTC)
        if isinstance(value, date):
            day = value + timedelta(days=1) if end else value
            return timezone.make_aware(datetime.combine(day, time.min)).astimezone(UTC)
    except (OverflowError, ValueError):
        raise validation_error({field: ["Date out of range."]}) from None
    raise validation_error({field: ["Use YYYY-MM-DD or an ISO 8601 date and time."]})


def _is_bare_date(value) -> bool:
    if isinstance(value, str):
        return "T" not in value and " " not in value.strip()
    return isinstance(value, date) and not isinstance(value, datetime)


def counted_tickets(*, tech_id: int | None = None, completed: bool | None = None) -> int | None:
    """The exact number of tickets of one technician (any when None) that are open, completed
    or either, read from the counts a trigger keeps (tickets/migrations/0003_ticket_counts):
    a few rows instead of a COUNT(*) over the table. None where there is no such table
    (SQLite), so the caller counts."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n), 0) FROM tickets_ticket_count"
            " WHERE (%s::bigint IS NULL OR tech_key = %s)"
            " AND (%s::boolean IS NULL OR completed = %s)",
            [tech_id, tech_id, completed, completed],
        )
        return int(cursor.fetchone()[0])


class TicketQuerySet(QuerySet):
    """Tickets whose count() may come from the trigger-kept counts instead of COUNT(*).

    ticket_list and technician_queue mark the queryset they return with the (technician,
    status) it is limited to when those are its only filters. Any further chaining (filter,
    order_by, a slice...) clones the queryset and the clone drops the mark, so only exactly
    the marked queryset answers from the counts; everything else counts the rows."""

    _counted_as: dict | None = None

    def _clone(self):
        clone = super()._clone()
        clone._counted_as = None
        return clone

    def counted_as(self, **key) -> "TicketQuerySet":
        self._counted_as = key
        return self

    def count(self) -> int:
        if self._counted_as is not None and self._result_cache is None:
            total = counted_tickets(**self._counted_as)
            if total is not None:
                return total
        return super().count()


def _visible_tickets(user) -> TicketQuerySet:
    if not permissions.can_view_tickets(user):
        raise AccessDenied()
    qs = TicketQuerySet(Ticket).select_related("customer", "tech")
    if not permissions.can_view_all_tickets(user):
        qs = qs.filter(tech=user)
    return qs


def list_audience(user, *, status_forms: bool = False) -> Audience:
    """Who shares a rendered ticket list with `user` (core.rendered): everyone of their roles
    and permissions when they see every ticket, or only themselves when they see their own.
    With status_forms, the rows also carry a status form where the user may change the
    status: a user who may change that of their own tickets only, among everyone's, gets
    rows of their own."""
    own_rows = not permissions.can_view_all_tickets(user) or (
        status_forms
        and permissions.can_change_own_status(user)
        and not permissions.can_change_any_status(user)
    )
    return permissions.audience(user, per_user=own_rows)


def ticket_list(*, user, filters: TicketFilters | None = None) -> QuerySet[Ticket]:
    """The tickets `user` may see, filtered and in a stable order (ties by id, in the
    sort's direction), with customer and technician joined in."""
    filters = filters or TicketFilters()
    if filters.sort_by not in SORT_FIELDS:
        raise validation_error({"sort_by": [f"Must be one of {', '.join(SORT_FIELDS)}."]})
    if filters.sort_order not in SORT_ORDERS:
        raise validation_error({"sort_order": ["Must be asc or desc."]})
    qs = _visible_tickets(user)
    # Only "technician" (the visibility rule) and "open/completed": the total can come from
    # the counts (see TicketQuerySet); with any other filter it is a COUNT(*).
    counted = not any(
        (
            (filters.search or "").strip(),
            filters.tech_email is not None,
            filters.customer_id is not None,
            filters.priority is not None,
            filters.date_from is not None,
            filters.date_to is not None,
        )
    )
    counted_tech = None if permissions.can_view_all_tickets(user) else user.pk

    search = (filters.search or "").strip()
    if search:
        if has_nul(search):
            raise validation_error({"search": ["Must not contain NUL characters."]})
        # On PostgreSQL each icontains uses the trigram index on UPPER(col).
        condition = (
            Q(title__icontains=search)
            | Q(description__icontains=search)
            | Q(serial_number__icontains=search)
        )
        number = _TICKET_NUMBER.match(search)
        if number:
            condition |= Q(pk=int(number.group(1)))
        qs = qs.filter(condition)
    if filters.completed is not None:
        qs = qs.filter(completed=filters.completed)
    if filters.tech_email is not None:
        email = filters.tech_email.strip()
        if has_nul(email):
            raise validation_error({"tech": ["Must not contain NUL characters."]})
        qs = qs.filter(tech__email__iexact=email)
    if filters.customer_id is not None:
        if not is_storable_id(filters.customer_id):
            return qs.none()
        qs = qs.filter(customer_id=filters.customer_id)
    if filters.priority is not None:
        priority = priority_value(filters.priority)
        if priority is None:
            raise validation_error({"priority": [PRIORITY_MESSAGE]})
        qs = qs.filter(priority=priority)
    if filters.date_from is not None:
        qs = qs.filter(created_at__gte=as_bound(filters.date_from, field="date_from", end=False))
    if filters.date_to is not None:
        bound = as_bound(filters.date_to, field="date_to", end=True)
        if _is_bare_date(filters.date_to):
            qs = qs.filter(created_at__lt=bound)  # the whole day, in the shop's time zone
        else:
            qs = qs.filter(created_at__lte=bound)

    prefix = "-" if filters.sort_order == "desc" else ""
    if filters.sort_by == "id":
        qs = qs.order_by(f"{prefix}id")
    else:
        qs = qs.order_by(f"{prefix}{filters.sort_by}", f"{prefix}id")
    if counted:
        qs = qs.counted_as(tech_id=counted_tech, completed=filters.completed)
    return qs


PRIORITY_MESSAGE = f"Must be one of {', '.join(priority.api_name for priority in Priority)}."


def priority_value(value) -> Priority | None:
    """A priority as the API and the pages name it ("high"), or as stored (3): the Priority,
    or None when it is neither. The one parse of a priority, for the list's filter and for
    the services' writes."""
    if isinstance(value, str):
        try:
            return Priority.from_api_name(value.strip())
        except KeyError:
            return None
    if isinstance(value, int) and not isinstance(value, bool) and value in Priority.values:
        return Priority(value)
    return None


def active_technicians() -> QuerySet[User]:
    """Who may be assigned tickets: active users in the technician role. The one definition,
    for the services' assignment and the pages' technician menus."""
    return User.objects.filter(is_active=True, groups__name=roles.TECHNICIAN)


def ticket_get(*, user, ticket_id: int) -> Ticket:
    """One ticket with customer and technician: NotFound when missing, AccessDenied when
    it is someone else's and the user may only see their own."""
    return permissions.get_ticket_for_user(user, ticket_id)


def technician_queue(*, user) -> QuerySet[Ticket]:
    """The user's open tickets, most urgent first, then oldest (the ticket_queue_idx order)."""
    if not permissions.can_view_tickets(user):
        raise AccessDenied()
    return (
        TicketQuerySet(Ticket)
        .select_related("customer", "tech")
        .filter(tech=user, completed=False)
        .order_by("-priority", "created_at", "id")
        .counted_as(tech_id=user.pk, completed=False)
    )
