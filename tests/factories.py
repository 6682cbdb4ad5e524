"""Hand-written test factories: plain functions that make valid rows with overridable fields."""

import itertools

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import ApiToken, User
from customers.models import Customer
from tickets.models import Priority, Status, StatusChange, StatusGroupDefault, Ticket

_seq = itertools.count(1)

PASSWORD = "correct-horse-battery-staple"


def make_user(*, username: str | None = None, roles=(), password: str = PASSWORD, **fields) -> User:
    n = next(_seq)
    username = username or f"user{n}"
    fields.setdefault("email", f"{username}@shop.test")
    user = User.objects.create_user(username=username, password=password, **fields)
    if roles:
        user.groups.set(Group.objects.filter(name__in=roles))
    return user


def make_token(user: User, name: str = "test") -> str:
    _, plain = ApiToken.issue(user=user, name=name)
    return plain


def make_customer(**fields) -> Customer:
    n = next(_seq)
    values = {
        "first_name": "Ada",
        "last_name": f"Lovelace{n}",
        "email": f"ada{n}@example.com",
        "phone": "+1 555 0100",
        "address1": "12 Analytical Way",
        "city": "London",
        "state": "Greater London",
        "zip": "NW1 6XE",
        "country": "GB",
    }
    values.update(fields)
    return Customer.objects.create(**values)


def make_ticket(*, customer: Customer | None = None, **fields) -> Ticket:
    n = next(_seq)
    values = {
        "title": f"Dell XPS 13 — no power after liquid spill ({n})",
        "description": "Customer spilled coffee; laptop does not power on.",
        "priority": Priority.MEDIUM,
    }
    values.update(fields)
    # A status by key, or the group default part 1's `completed` stands for (as the
    # services do); completed and the overdue deadline follow the status.
    status = values.pop("status", None)
    completed = values.pop("completed", False)
    if isinstance(status, str):
        status = Status.objects.get(key=status)
    if status is None:
        status = StatusGroupDefault.objects.get(group="ready" if completed else "new").status
    values.setdefault("status_changed_at", values.get("created_at") or timezone.now())
    if status.time_limit is not None:
        values.setdefault("overdue_at", values["status_changed_at"] + status.time_limit)
    if status.completed:
        values.setdefault("completed_at", values["status_changed_at"])
    ticket = Ticket.objects.create(
        customer=customer or make_customer(), status=status, completed=status.completed, **values
    )
    StatusChange.objects.create(
        ticket=ticket, from_status=None, to_status=status, at=ticket.status_changed_at
    )
    return ticket
