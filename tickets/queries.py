"""Reads of tickets (contract §5): the list with every filter and sort, one ticket, a
technician's queue and the cheap "has anything changed" version for polling. The
visibility rule (a technician sees only their own tickets) is applied here, once."""

import functools
import hashlib
import re
import threading
import time as monotonic_clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts import permissions
from accounts.models import User
from accounts.permissions import AccessDenied
from core.errors import validation_error
from core.validation import has_nul, is_storable_id
from customers.models import Customer
from tickets.models import Priority, Ticket

SORT_FIELDS = ("id", "title", "created_at", "updated_at", "priority")
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


def _as_bound(value, *, field: str, end: bool) -> datetime:
    """A dateFrom/dateTo value as an aware datetime. A bare date is the start of that day
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


def visibility_scope(user, *, status_forms: bool = False) -> str:
    """Whose tickets `user` sees, as a key part for what is rendered once and shared
    (core.rendered): "all", or their own ("tech:<id>"). With status_forms, also which
    rows carry a status form for them: a user who may change the status of their own
    tickets only, among everyone's, gets rows of their own."""
    if not permissions.can_view_all_tickets(user):
        return f"tech:{user.pk}"
    if not status_forms or permissions.can_change_any_status(user):
        return "all"
    if not permissions.can_change_own_status(user):
        return "all"
    return f"all:own-forms:{user.pk}"


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
        qs = qs.filter(priority=_priority(filters.priority))
    if filters.date_from is not None:
        qs = qs.filter(created_at__gte=_as_bound(filters.date_from, field="date_from", end=False))
    if filters.date_to is not None:
        bound = _as_bound(filters.date_to, field="date_to", end=True)
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


def _priority(value) -> int:
    if isinstance(value, str):
        try:
            return Priority.from_api_name(value.strip())
        except KeyError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool) and value in Priority.values:
        return value
    raise validation_error({"priority": ["Must be one of low, medium, high, urgent."]})


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


# The newest ticket id and the latest ticket, customer and user changes: each a single
# step down an index (pk, ticket_updated_idx, customer_updated_idx; the staff table is
# small). Plain SQL: building it with the ORM cost ten times the query itself (0.63 ms of
# CPU against 0.06 ms), on every poll.
_VERSION_SQL = (
    f"SELECT (SELECT id FROM {Ticket._meta.db_table} ORDER BY id DESC LIMIT 1), "  # noqa: S608
    f"(SELECT updated_at FROM {Ticket._meta.db_table} ORDER BY updated_at DESC LIMIT 1) "
    f'AS "last_change", '
    f"(SELECT updated_at FROM {Customer._meta.db_table} ORDER BY updated_at DESC LIMIT 1), "
    f"(SELECT max(updated_at) FROM {User._meta.db_table})"
)
# On PostgreSQL also the commit-ordered change counter (tickets/migrations/0004_data_version):
# the maxima alone can miss a change whose id or timestamp is lower but which commits later.
_COUNTER_SQL = ", (SELECT n FROM repairshop_data_version WHERE id = 1)"


def _version_sql() -> str:
    return _VERSION_SQL + (_COUNTER_SQL if connection.vendor == "postgresql" else ", NULL")


def _version_cursor():
    """A cursor for the version query: on PostgreSQL one that runs it as a prepared
    statement of the (pooled, long-lived) connection.

    Planning the four sub-selects took 0.18 ms of the server's time against 0.08 ms to run
    them, on every page, poll and API list. Django turns psycopg's prepared statements off
    (OPTIONS["prepare_threshold"] None, for transaction-mode poolers); repairshop.settings
    turns them back on unless DATABASE_PREPARED_STATEMENTS=false, and even then only this
    statement is prepared: Django's own cursors bind on the client and never prepare. The
    cursor is wrapped by Django as its own are (query log, execute wrappers, database errors
    as django.db errors)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        return connection.cursor()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_prepared_cursor_class()(raw))


@functools.cache
def _prepared_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor  # needs psycopg

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True)

    return PreparedCursor


def tickets_version(*, user) -> str:
    """An opaque string that changes whenever a list could show something new: a ticket
    created (max id) or changed (max updated_at, which every service write bumps,
    reassignments and status changes included), a customer changed (max customer
    updated_at) or a member of staff renamed, deactivated or given other rights (max user
    updated_at, see accounts.signals) and, on PostgreSQL, the change counter that follows
    commit order (tickets/migrations/0004_data_version). One query. The rendered lists are
    keyed by it (core.rendered).

    It is the same for every user (a technician may poll once too often but never misses a
    change) and so checks no permission: all an unchanged poll learns is "no change" (a 204
    without a body) for a version only a page the user was allowed to see gave them; as
    soon as anything changes, the list itself is read, and that checks. `user` stays in the
    signature for the callers."""
    with _version_cursor() as cursor:
        cursor.execute(_version_sql())
        raw = "|".join(str(value) for value in cursor.fetchone())
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class _PolledVersion:
    """This process's latest tickets_version and when it was read."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value: str | None = None
        self._read_at = 0.0

    def get(self, *, max_age: float) -> str:
        now = monotonic_clock.monotonic()
        with self._lock:
            if self._value is not None and now - self._read_at < max_age:
                return self._value
        value = tickets_version(user=None)
        with self._lock:
            self._value, self._read_at = value, now
        return value

    def forget(self) -> None:
        with self._lock:
            self._value = None


_polled = _PolledVersion()
forget_polled_version = _polled.forget


def polled_version(*, max_age: float) -> str:
    """tickets_version as read by this process at most `max_age` seconds ago.

    Only for the timed polls of the lists (X-Poll: timer): every open screen asks every 30 s,
    and answering "no change" from a version up to a second old spares the database one
    query per poll, at the price of showing a change at most one second later than the
    poll would have. Everything else reads tickets_version itself: a page, the API and the
    refresh that follows a change made on the page (read-your-own-writes)."""
    if max_age <= 0:
        return tickets_version(user=None)
    return _polled.get(max_age=max_age)
