"""Reads of customers (contract §4): the list with its search, filter and sorts, and one
customer. Pages and API call these, so the rules are written once."""

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts import permissions
from accounts.permissions import AccessDenied
from customers.models import Customer
from repairshop.errors import validation_error
from repairshop.validation import has_nul
from tickets.models import Ticket

SORT_FIELDS = ("first_name", "last_name", "email", "created_at")
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
    if search is not None and search.strip():
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
    return qs.order_by(f"{prefix}{sort_by}", f"{prefix}id")


def customer_get(*, user, customer_id: int) -> Customer:
    """One customer: NotFound when missing, AccessDenied when the role may not read."""
    return permissions.get_customer_for_user(user, customer_id)
