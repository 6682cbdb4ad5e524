"""Reads of tickets (docs/api.md §5): the list with every filter and sort, one ticket, a
technician's queue and the cheap "has anything changed" version for polling. The
visibility rule (a technician sees only their own tickets) is applied here, once."""

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts import permissions, roles
from accounts.models import User
from accounts.permissions import AccessDenied
from core.errors import validation_error
from core.rendered import Audience
from core.validation import has_nul, is_storable_id
from tickets.models import (
    BOARD_GROUPS,
    Priority,
    Status,
    StatusChange,
    StatusGroup,
    StatusGroupDefault,
    StatusTransition,
    Ticket,
)

# The list's sort keys as the API and the pages name them (sortBy) -> the column; the one
# map both use. ticket_list takes the column.
SORT_KEYS = {
    "id": "id",
    "title": "title",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "priority": "priority",
    "status": "status",  # by the status's position, ties by id
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
    statuses: list[str] | str | None = None  # status keys; a comma-separated string too
    groups: list[str] | str | None = None  # status groups, the same
    overdue: bool | None = None
    sort_by: str = "created_at"
    sort_order: str = "desc"


def _values(value) -> list[str]:
    """A filter given as "a,b", ["a", "b"] or ["a,b"]: its values, blanks dropped."""
    items = [value] if isinstance(value, str) else list(value)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def status_ids(filters: TicketFilters, flow: "Workflow | None" = None) -> list[int] | None:
    """The statuses the status and group filters leave (both given: those in both), or None
    without either. VALIDATION_ERROR naming every unknown key and group at once."""
    if not filters.statuses and not filters.groups:
        return None
    flow = flow or workflow()
    field_errors: dict[str, list[str]] = {}
    chosen = set(flow.by_id)
    # A blank filter ("", ",") is no filter, as an empty search is no search.
    keys = _values(filters.statuses or ())
    if keys:
        unknown = [key for key in keys if key not in flow.by_key]
        if unknown:
            field_errors["status"] = [f"Unknown status: {', '.join(unknown)}."]
        chosen &= {flow.by_key[key].pk for key in keys if key in flow.by_key}
    groups = _values(filters.groups or ())
    if groups:
        unknown = [group for group in groups if group not in StatusGroup.values]
        if unknown:
            field_errors["status_group"] = [
                f"Unknown group: {', '.join(unknown)}. Use {', '.join(StatusGroup.values)}."
            ]
        chosen &= {status.pk for status in flow.in_groups(groups)}
    if not keys and not groups:
        return None
    if field_errors:
        raise validation_error(field_errors)
    return sorted(chosen)


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
    qs = TicketQuerySet(Ticket).select_related("customer", "tech", "status")
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


def ticket_list(
    *, user, filters: TicketFilters | None = None, flow: "Workflow | None" = None
) -> QuerySet[Ticket]:
    """The tickets `user` may see, filtered and in a stable order (ties by id, in the
    sort's direction), with customer and technician joined in. `flow`: the workflow the
    caller has already read, for the status filters."""
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
            filters.statuses is not None,
            filters.groups is not None,
            filters.overdue is not None,
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

    chosen = status_ids(filters, flow)
    if chosen is not None:
        qs = qs.filter(status_id__in=chosen)
    if filters.overdue is not None:
        overdue = Q(overdue_at__lte=timezone.now())
        qs = qs.filter(overdue if filters.overdue else ~overdue)

    prefix = "-" if filters.sort_order == "desc" else ""
    if filters.sort_by == "status":
        qs = qs.order_by(f"{prefix}status__position", f"{prefix}status_id", f"{prefix}id")
    elif filters.sort_by == "id":
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
    """The user's open tickets (groups new, in progress and waiting: their load), by status
    (its position), then most urgent first, then oldest."""
    if not permissions.can_view_tickets(user):
        raise AccessDenied()
    return (
        TicketQuerySet(Ticket)
        .select_related("customer", "tech", "status")
        .filter(tech=user, completed=False)
        .order_by("status__position", "status_id", "-priority", "created_at", "id")
        .counted_as(tech_id=user.pk, completed=False)
    )


# --- statuses (contract §12) -----------------------------------------------------------------
@dataclass(frozen=True)
class Workflow:
    """Every status, its allowed moves and each group's default, read at once (three small
    queries): what the services check a move against and what the pages offer."""

    statuses: tuple[Status, ...]  # by position, then id
    next_ids: dict[int, tuple[int, ...]]  # status id -> the ids of its `next`, by position
    defaults: dict[str, Status]  # group -> its default status

    @functools.cached_property
    def by_id(self) -> dict[int, Status]:
        return {status.pk: status for status in self.statuses}

    @functools.cached_property
    def by_key(self) -> dict[str, Status]:
        return {status.key: status for status in self.statuses}

    @functools.cached_property
    def default_ids(self) -> frozenset[int]:
        return frozenset(status.pk for status in self.defaults.values())

    def next_of(self, status: Status) -> list[Status]:
        return [self.by_id[pk] for pk in self.next_ids.get(status.pk, ())]

    def next_keys(self, status: Status) -> list[str]:
        return [target.key for target in self.next_of(status)]

    def active_key(self, key) -> Status | None:
        """The active status with this key, or None (unknown, inactive or not a key)."""
        status = self.by_key.get(key) if isinstance(key, str) else None
        return status if status is not None and status.active else None

    def in_groups(self, groups) -> list[Status]:
        return [status for status in self.statuses if status.group in groups]

    def moves_for(self, user, ticket: Ticket) -> list[Status]:
        """The statuses `user` may move `ticket` to from a page: the active ones of its
        status's `next`, without the closed group for a role that does not hand devices
        over, and nothing where they may not change this ticket's status at all."""
        if not permissions.can_change_status(user, ticket):
            return []
        current = self.by_id[ticket.status_id]
        hand_over = permissions.can_hand_over_devices(user)
        return [
            target
            for target in self.next_of(current)
            if target.active and (hand_over or target.group != StatusGroup.CLOSED)
        ]


def workflow() -> Workflow:
    statuses = tuple(Status.objects.order_by("position", "id"))
    position = {status.pk: (status.position, status.pk) for status in statuses}
    next_ids: dict[int, list[int]] = {}
    for source, target in StatusTransition.objects.values_list("source_id", "target_id"):
        next_ids.setdefault(source, []).append(target)
    by_id = {status.pk: status for status in statuses}
    defaults = {
        group: by_id[status_id]
        for group, status_id in StatusGroupDefault.objects.values_list("group", "status_id")
    }
    return Workflow(
        statuses=statuses,
        next_ids={k: tuple(sorted(v, key=position.__getitem__)) for k, v in next_ids.items()},
        defaults=defaults,
    )


def status_list(*, user) -> Workflow:
    """Every status (active and inactive), for every role that may read tickets."""
    if not permissions.can_view_tickets(user):
        raise AccessDenied()
    return workflow()


@dataclass(frozen=True)
class HistoryEntry:
    change: StatusChange
    # How long the ticket stayed in `change.to_status`: until the next entry, or until now
    # for the status it is still in (then `current` is True).
    duration: timedelta
    current: bool


def ticket_history(*, user, ticket_id: int) -> tuple[Ticket, list[HistoryEntry]]:
    """A ticket's status history, oldest first, with the time spent in each status. The
    same visibility as the ticket. Two queries, however long the history."""
    ticket = ticket_get(user=user, ticket_id=ticket_id)
    changes = list(
        StatusChange.objects.filter(ticket=ticket)
        .select_related("from_status", "to_status", "by")
        .order_by("id")
    )
    now = timezone.now()
    entries = []
    for i, change in enumerate(changes):
        following = changes[i + 1] if i + 1 < len(changes) else None
        until = following.at if following is not None else now
        entries.append(
            HistoryEntry(
                change=change,
                duration=max(until - change.at, timedelta(0)),
                current=following is None,
            )
        )
    return ticket, entries


# --- the board (contract §12 "Lists") --------------------------------------------------------
BOARD_COLUMN_CARDS = 50


@dataclass(frozen=True)
class BoardColumn:
    status: Status
    cards: list[Ticket]  # most urgent first, then oldest; at most BOARD_COLUMN_CARDS
    total: int  # every ticket of the column this user may see

    @property
    def more(self) -> int:
        return self.total - len(self.cards)


@dataclass(frozen=True)
class Board:
    columns: list[BoardColumn]
    flow: Workflow


def board(*, user, per_column: int = BOARD_COLUMN_CARDS) -> Board:
    """The open tickets `user` may see in one column per status of the groups new to ready:
    the active statuses by position, and an inactive one only while it still holds tickets
    this user sees. Each column holds its most urgent and then oldest tickets, at most
    `per_column`, with its total.

    Five queries whatever the number of tickets: the workflow (three), the totals per status
    (one GROUP BY) and the cards of every column (one query, see _first_of_each)."""
    visible = _visible_tickets(user)
    flow = workflow()
    statuses = flow.in_groups(BOARD_GROUPS)
    totals = dict(
        visible.filter(status__in=statuses)
        .order_by()
        .values_list("status_id")
        .annotate(n=Count("id"))
        .values_list("status_id", "n")
    )
    shown = [status for status in statuses if status.active or totals.get(status.pk)]
    cards: dict[int, list[Ticket]] = {status.pk: [] for status in shown}
    card_ids = _first_of_each(
        [
            visible.filter(status_id=status.pk).order_by("-priority", "created_at", "id")
            for status in shown
            if totals.get(status.pk)
        ],
        per_column,
    )
    if card_ids is not None:
        for ticket in visible.filter(pk__in=card_ids).order_by():
            cards[ticket.status_id].append(ticket)
    for column in cards.values():
        # A UNION ALL keeps no order of its own.
        column.sort(key=lambda ticket: (-ticket.priority, ticket.created_at, ticket.pk))
    return Board(
        columns=[
            BoardColumn(status=status, cards=cards[status.pk], total=totals.get(status.pk, 0))
            for status in shown
        ],
        flow=flow,
    )


def _first_of_each(querysets: list[QuerySet], limit: int) -> RawSQL | None:
    """The ids of the first `limit` rows of each queryset, as one subquery: a UNION ALL of one
    slice per queryset, each a walk down an index (ticket_board_idx) that stops after `limit`
    rows. A window function (row_number() per status) would read every ticket of the
    statuses instead, and the ready ones pile up when devices are not collected. Django
    refuses sliced parts in a UNION on SQLite, so each part is wrapped in a sub-select here,
    which both backends accept."""
    parts, params = [], []
    for i, queryset in enumerate(querysets):
        sql, part_params = queryset.values_list("pk")[:limit].query.sql_with_params()
        parts.append(f"SELECT * FROM ({sql}) AS part{i}")  # noqa: S608 - compiled by the ORM
        params.extend(part_params)
    if not parts:
        return None
    return RawSQL(" UNION ALL ".join(parts), params)  # noqa: S611 - parts compiled by the ORM
