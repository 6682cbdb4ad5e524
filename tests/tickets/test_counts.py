"""The exact totals the ticket lists read from the trigger-kept counts (PostgreSQL), and the
COUNT(*) they fall back to (SQLite, or any other filter)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import roles
from tests import factories
from tickets import queries
from tickets.models import Status, Ticket
from tickets.queries import TicketFilters, counted_tickets


def _exact(qs) -> int:
    """COUNT(*) of exactly these rows, bypassing the counts."""
    return qs.model.objects.filter(pk__in=qs.values("pk")).count()


def _check_every_list(users):
    for user in users:
        for completed in (None, True, False):
            qs = queries.ticket_list(user=user, filters=TicketFilters(completed=completed))
            assert qs.count() == _exact(qs), (user.username, completed)
        queue = queries.technician_queue(user=user)
        assert queue.count() == _exact(queue), user.username


@pytest.fixture
def shop(db, manager, technician, other_technician, customer):
    tickets = [
        factories.make_ticket(customer=customer, tech=technician),
        factories.make_ticket(customer=customer, tech=technician, completed=True),
        factories.make_ticket(customer=customer, tech=other_technician),
        factories.make_ticket(customer=customer, tech=None),
    ]
    return {"tickets": tickets, "users": [manager, technician, other_technician]}


def test_totals_follow_every_kind_of_write(shop, technician, other_technician):
    users = shop["users"]
    _check_every_list(users)
    first, second, third, unassigned = shop["tickets"]

    first.status, first.completed = Status.objects.get(key="ready"), True
    first.save()  # open -> completed
    _check_every_list(users)
    third.tech = technician
    third.save()  # reassigned
    _check_every_list(users)
    unassigned.tech = other_technician
    unassigned.status, unassigned.completed = Status.objects.get(key="collected"), True
    unassigned.save()  # both at once
    _check_every_list(users)
    Ticket.objects.filter(pk=second.pk).update(
        status=Status.objects.get(key="in_repair"), completed=False, tech=None
    )  # no save()
    _check_every_list(users)
    Ticket.objects.filter(pk=first.pk).delete()
    _check_every_list(users)
    assert queries.ticket_list(user=users[0], filters=TicketFilters()).count() == 3


def test_a_technician_counts_only_their_tickets(shop, technician):
    open_own = queries.ticket_list(user=technician, filters=TicketFilters(completed=False))
    assert open_own.count() == 1
    assert queries.ticket_list(user=technician, filters=TicketFilters()).count() == 2


def test_other_filters_count_the_rows(shop, manager, customer):
    other = factories.make_customer()
    factories.make_ticket(customer=other)
    for filters in (
        TicketFilters(customer_id=customer.pk),
        TicketFilters(search="Dell"),
        TicketFilters(priority="medium"),
        TicketFilters(completed=False, date_from="2000-01-01"),
    ):
        qs = queries.ticket_list(user=manager, filters=filters)
        assert qs.count() == _exact(qs), filters
    # Chaining after ticket_list drops the shortcut: this filter is not in the counts.
    narrowed = queries.ticket_list(user=manager, filters=TicketFilters()).filter(customer=other)
    assert narrowed.count() == 1


@pytest.mark.postgres
def test_the_counts_answer_in_one_small_query(postgresql_only, shop, manager):
    qs = queries.ticket_list(user=manager, filters=TicketFilters(completed=False))
    with CaptureQueriesContext(connection) as captured:
        assert qs.count() == 3
    assert len(captured) == 1
    assert "tickets_ticket_count" in captured[0]["sql"]
    assert counted_tickets(completed=False) == 3


@pytest.mark.postgres
def test_a_rolled_back_write_leaves_the_counts(postgresql_only, shop, customer):
    from django.db import transaction

    before = counted_tickets()
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.make_ticket(customer=customer)
        assert counted_tickets() == before + 1
        raise RuntimeError
    assert counted_tickets() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_truncate_and_rebuild(postgresql_only):
    tech = factories.make_user(roles=[roles.TECHNICIAN])
    factories.make_ticket(tech=tech)
    assert counted_tickets(tech_id=tech.pk) == 1
    with connection.cursor() as cursor:
        # What the benchmark's bulk load does: rows written with the triggers off...
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "INSERT INTO tickets_ticket (customer_id, title, description, tech_id, priority,"
            " category, completed, notes, device_type, device_brand, device_model,"
            " serial_number, accessories, condition, created_at, updated_at, status_id,"
            " status_changed_at)"
            " SELECT customer_id, title, description, tech_id, priority, category, true, notes,"
            " device_type, device_brand, device_model, serial_number, accessories, condition,"
            " created_at, updated_at, (SELECT id FROM tickets_status WHERE key = 'ready'),"
            " status_changed_at FROM tickets_ticket"
        )
        cursor.execute("SET session_replication_role = origin")
        assert counted_tickets(tech_id=tech.pk) == 1  # stale until rebuilt
        cursor.execute("SELECT tickets_ticket_count_rebuild()")
    assert counted_tickets(tech_id=tech.pk) == 2
    assert counted_tickets(tech_id=tech.pk, completed=True) == 1
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tickets_ticket CASCADE")
    assert counted_tickets() == 0
