"""Reads of customers (docs/api.md §4): the list with its search, filter and sorts, and one
customer. Pages and API call these, so the rules are written once."""

from django.db.models import (
    CharField,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat

from accounts import permissions
from accounts.permissions import AccessDenied
from core.errors import validation_error
from core.validation import has_nul
from customers.models import Customer
from tickets.models import Ticket

# The list's sort keys as the API and the pages name them (sortBy) -> the column; the one
# map both use. customer_list takes the column.
SORT_KEYS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "createdAt": "created_at",
}
SORT_FIELDS = tuple(SORT_KEYS.values())
SORT_ORDERS = ("asc", "desc")


def _search_filter(term: str) -> Q:
    """Substring of first name, last name, email or phone; "ada love" also matches first
    name "Ada..." + last name "Love...", at every split of the words."""
    condition = (
        Q(first_name__icontains=term)
        | Q(last_name__icontains=term)
        | Q(email__icontains=term)
        | Q(phone__icontains=term)
    )
    words = term.split()
    for split in range(1, len(words)):
        condition |= Q(
            first_name__icontains=" ".join(words[:split]),
            last_name__icontains=" ".join(words[split:]),
        )
    return condition


def customer_list(
    *,
    user,
    search: str | None = None,
    active: bool | None = None,
    sort_by: str = "last_name",
    sort_order: str = "asc",
    include_ticket_count: bool = False,
) -> QuerySet[Customer]:
    """The customers `user` may list, filtered and in a stable order (ties by id, in the
    sort's direction). With include_ticket_count each row has `ticket_count` (all its
    tickets), computed by a correlated subquery so rows are not multiplied."""
    if not permissions.can_view_customers(user):
        raise AccessDenied()
    if sort_by not in SORT_FIELDS:
        raise validation_error({"sort_by": [f"Must be one of {', '.join(SORT_FIELDS)}."]})
    if sort_order not in SORT_ORDERS:
        raise validation_error({"sort_order": ["Must be asc or desc."]})
    qs = Customer.objects.all()
    searching = search is not None and bool(search.strip())
    if searching:
        if has_nul(search):
            raise validation_error({"search": ["Must not contain NUL characters."]})
        qs = qs.filter(_search_filter(search.strip()))
    if active is not None:
        qs = qs.filter(active=active)
    if include_ticket_count:
        tickets = (
            Ticket.objects.filter(customer=OuterRef("pk"))
            .order_by()
            .values("customer")
            .annotate(n=Count("id"))
            .values("n")
        )
        qs = qs.annotate(
            ticket_count=Coalesce(Subquery(tickets, output_field=IntegerField()), Value(0))
        )
    prefix = "-" if sort_order == "desc" else ""
    if searching and sort_by != "created_at":
        # Sorting by the column being searched (surname search, sorted by surname), the
        # planner walks that column's index and filters: every match sits together in the
        # middle of the index ("Hughes" after all of A-G), so it reads 17k rows for 20 at 50k
        # customers (22 ms). Sorting by `col || ''` (same order, no index) makes it take the
        # matches from the trigram indexes and sort just those (under 1 ms).
        key = Concat(sort_by, Value(""), output_field=CharField())
        return qs.order_by(key.desc() if prefix else key.asc(), f"{prefix}id")
    return qs.order_by(f"{prefix}{sort_by}", f"{prefix}id")


def customer_get(*, user, customer_id: int) -> Customer:
    """One customer: NotFound when missing, AccessDenied when the role may not read."""
    return permissions.get_customer_for_user(user, customer_id)


PICKER_RESULTS = 8


def customer_picker(*, user, search: str | None, limit: int = PICKER_RESULTS) -> list[Customer]:
    """The check-in page's customer picker: the first active customers matching `search`
    (nothing without a search), in the list's order."""
    search = (search or "").strip()
    if not search:
        return []
    return list(customer_list(user=user, search=search, active=True)[:limit])
