"""The rules that must hold when requests race (docs/api.md §4, §5), on PostgreSQL with real
threads and connections: the unique email index, the technician row locks of the
auto-assignment and the row lock of optimistic concurrency."""

import itertools
import threading
from collections import Counter

import pytest
from django.db import connection

from accounts import roles
from core.errors import DomainError
from customers.services import customer_create, customer_update
from tests import factories
from tickets.models import Ticket
from tickets.services import ticket_create, ticket_update

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_together(functions) -> list:
    """Runs each function in its own thread with its own connection, all released at once
    by a barrier. Returns each one's result, or the exception it raised."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def worker(index, function):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def outcome(result) -> str:
    if isinstance(result, DomainError):
        return result.code
    if isinstance(result, BaseException):
        return f"error: {result!r}"
    return "ok"


def customer_data(email):
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "phone": "+44 20 7946 0958",
        "address1": "12 Analytical Way",
        "city": "London",
        "state": "Greater London",
        "zip": "NW1 6XE",
        "country": "GB",
    }


def test_twenty_simultaneous_creates_of_one_email_make_one_customer(postgresql_only, frontdesk):
    from customers.models import Customer

    frontdesk.get_all_permissions()  # fill the shared user's permission cache first
    emails = [
        "".join(c.upper() if (i >> n) & 1 else c for n, c in enumerate("racer@example.com"))
        for i in range(20)
    ]
    assert len(set(emails)) == 20
    results = run_together(
        [lambda e=e: customer_create(actor=frontdesk, data=customer_data(e)) for e in emails]
    )
    assert Counter(outcome(r) for r in results) == {"ok": 1, "DUPLICATE_EMAIL": 19}
    assert Customer.objects.count() == 1


def test_ten_simultaneous_tickets_split_evenly_between_two_idle_technicians(
    postgresql_only, frontdesk, technician, other_technician
):
    # One customer each: the customer row lock must not be what serialises them.
    customers = [factories.make_customer() for _ in range(10)]
    frontdesk.get_all_permissions()
    results = run_together(
        [
            lambda c=c: ticket_create(
                actor=frontdesk,
                data={"customer_id": c.pk, "title": "Race", "description": "Ten at once"},
            )
            for c in customers
        ]
    )
    assert Counter(outcome(r) for r in results) == {"ok": 10}
    per_tech = Counter(Ticket.objects.values_list("tech__username", flat=True))
    assert per_tech == {technician.username: 5, other_technician.username: 5}


def test_two_updates_with_the_same_updated_at_one_wins_one_conflicts(postgresql_only, frontdesk):
    ticket = factories.make_ticket(title="Original")
    frontdesk.get_all_permissions()
    seen = ticket.updated_at
    results = run_together(
        [
            lambda title=title: ticket_update(
                actor=frontdesk,
                ticket_id=ticket.pk,
                data={"title": title},
                expected_updated_at=seen,
            )
            for title in ("First", "Second")
        ]
    )
    assert sorted(outcome(r) for r in results) == ["CONFLICT", "ok"]
    winner = next(r for r in results if not isinstance(r, BaseException))
    loser = next(r for r in results if isinstance(r, DomainError))
    ticket.refresh_from_db()
    assert ticket.title == winner.title
    # The loser is shown the row as the winner left it.
    assert loser.details["current"].title == winner.title


def test_two_customer_updates_with_the_same_updated_at_one_wins(postgresql_only, frontdesk):
    customer = factories.make_customer()
    frontdesk.get_all_permissions()
    seen = customer.updated_at
    results = run_together(
        [
            lambda city=city: customer_update(
                actor=frontdesk,
                customer_id=customer.pk,
                data={"city": city},
                expected_updated_at=seen,
            )
            for city in ("Paris", "Rome")
        ]
    )
    assert sorted(outcome(r) for r in results) == ["CONFLICT", "ok"]


def test_technicians_stay_balanced_under_repeated_bursts(postgresql_only, frontdesk):
    techs = [factories.make_user(roles=[roles.TECHNICIAN]) for _ in range(3)]
    customers = [factories.make_customer() for _ in range(6)]
    frontdesk.get_all_permissions()
    for _ in range(2):
        results = run_together(
            [
                lambda c=c: ticket_create(
                    actor=frontdesk,
                    data={"customer_id": c.pk, "title": "Burst", "description": "x"},
                )
                for c in customers
            ]
        )
        assert all(outcome(r) == "ok" for r in results)
    per_tech = Counter(Ticket.objects.values_list("tech_id", flat=True))
    assert per_tech == {t.pk: 4 for t in techs}


def test_deactivation_racing_a_new_ticket_never_leaves_an_inactive_customer_with_tickets(
    postgresql_only, manager, frontdesk
):
    from customers.models import Customer
    from customers.services import customer_deactivate

    customers = [factories.make_customer() for _ in range(5)]
    manager.get_all_permissions()
    frontdesk.get_all_permissions()
    calls = []
    for c in customers:
        calls.append(lambda c=c: customer_deactivate(actor=manager, customer_id=c.pk))
        calls.append(
            lambda c=c: ticket_create(
                actor=frontdesk,
                data={"customer_id": c.pk, "title": "Race", "description": "x"},
            )
        )
    results = run_together(calls)
    for index in range(0, len(results), 2):
        pair = (outcome(results[index]), outcome(results[index + 1]))
        assert pair in {("ok", "INVALID_CUSTOMER"), ("HAS_DEPENDENCIES", "ok")}
    assert not Customer.objects.filter(active=False, tickets__isnull=False).exists()


def test_twenty_simultaneous_moves_of_one_ticket_are_applied_one_after_the_other(
    postgresql_only, frontdesk
):
    """Contract §12: each move is checked against the status the previous one left (the
    ticket's row lock), and writes exactly one history entry; none is lost or doubled."""
    from core.models import ActivityLog
    from tickets.models import StatusChange
    from tickets.queries import workflow
    from tickets.services import ticket_set_status

    frontdesk.get_all_permissions()  # fill the shared user's permission cache first
    ticket = factories.make_ticket()
    # From one to the other of these some moves are allowed and some are not (waiting_parts
    # -> ready, ready -> diagnosing, ready -> waiting_parts are refused).
    targets = ["diagnosing", "in_repair", "waiting_parts", "ready"] * 5
    results = run_together(
        [
            lambda key=key: ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, status=key)
            for key in targets
        ]
    )
    outcomes = Counter(outcome(result) for result in results)
    assert set(outcomes) <= {"ok", "INVALID_TRANSITION"}, outcomes
    assert outcomes["ok"] >= 1

    chain = list(
        StatusChange.objects.filter(ticket=ticket)
        .select_related("from_status", "to_status")
        .order_by("id")
    )
    flow = workflow()
    assert chain[0].from_status is None
    for before, after in itertools.pairwise(chain):
        # Every entry starts where the previous one ended, and was an allowed move.
        assert after.from_status_id == before.to_status_id
        assert after.to_status.key in flow.next_keys(before.to_status)
    moves = chain[1:]
    accepted = [
        key for key, result in zip(targets, results, strict=True) if outcome(result) == "ok"
    ]
    # An accepted request either moved (one entry) or found the ticket already there.
    for key, result in zip(targets, results, strict=True):
        if outcome(result) == "ok":
            assert result.status.key == key
    assert Counter(change.to_status.key for change in moves) <= Counter(accepted)
    assert ActivityLog.objects.filter(action="ticket:status_change").count() == len(moves)
    stored = Ticket.objects.select_related("status").get(pk=ticket.pk)
    assert stored.status_id == chain[-1].to_status_id
    assert stored.completed is (stored.status.key == "ready")
    # Every refusal named the status it found, which some entry had left the ticket in.
    reached = {change.to_status.key for change in chain}
    for result in results:
        if outcome(result) == "INVALID_TRANSITION":
            assert result.details["from"] in reached
