"""The row locks of the ticket writes never block a foreign-key check, on PostgreSQL.

Django's foreign keys are DEFERRABLE INITIALLY DEFERRED there: a transaction checks its
references (FOR KEY SHARE on the referenced row) at COMMIT, in the same queue as the
data-version trigger (migration tickets 0004), which takes the counter's row. A ticket write
that held a user, customer or ticket row FOR UPDATE while it waited for that counter row
deadlocked with such a check (503 DATABASE_ERROR under mixed load). The services lock those
rows FOR NO KEY UPDATE, which does not block FOR KEY SHARE.

Each test stops a real service call at its COMMIT, holding the counter's row from another
connection, and then checks from a third connection that the rows it locked can still be
key-shared (NOWAIT: an answer at once, no timing involved).
"""

import threading
import time

import psycopg
import pytest
from django.db import connection

from tests import factories
from tickets.models import Ticket
from tickets.services import ticket_assign, ticket_create, ticket_set_status

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _connect() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s["PASSWORD"] or None,
        dbname=s["NAME"],
        connect_timeout=5,
    )


def _key_share_nowait(probe: psycopg.Connection, table: str, ids: list[int]) -> str:
    try:
        rows = probe.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE NOWAIT", [ids]
        ).fetchall()
        return "ok" if len(rows) == len(ids) else f"missing rows: {rows}"
    except psycopg.errors.LockNotAvailable:
        return "blocked"
    finally:
        probe.rollback()


def probe_at_commit(call, rows: dict[str, list[int]]) -> tuple[object, dict[str, str]]:
    """Runs call() in a thread, holds it at its COMMIT (the data-version row is locked from
    another connection), then tries FOR KEY SHARE NOWAIT on `rows` ({table: ids}).
    Returns call()'s result (or exception) and {table: "ok" | "blocked"}."""
    hold, probe = _connect(), _connect()
    result: list = [None]

    def run():
        try:
            result[0] = call()
        except BaseException as exc:
            result[0] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    try:
        hold.execute("UPDATE repairshop_data_version SET n = n WHERE id = 1")
        thread.start()
        deadline = time.monotonic() + 20
        while True:
            waiting = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> %s AND wait_event_type = 'Lock' AND query = 'COMMIT'",
                [hold.info.backend_pid],
            ).fetchone()[0]
            probe.rollback()
            if waiting:
                break
            assert thread.is_alive(), f"the call ended without waiting at COMMIT: {result[0]!r}"
            assert time.monotonic() < deadline, "the call never reached its COMMIT"
            time.sleep(0.02)
        seen = {table: _key_share_nowait(probe, table, ids) for table, ids in rows.items()}
    finally:
        hold.rollback()
        thread.join(timeout=30)
        hold.close()
        probe.close()
    assert not thread.is_alive()
    return result[0], seen


def test_auto_assigning_create_leaves_technicians_and_customer_key_shareable(
    postgresql_only, frontdesk, technician, other_technician
):
    customer = factories.make_customer()
    frontdesk.get_all_permissions()
    created, seen = probe_at_commit(
        lambda: ticket_create(
            actor=frontdesk,
            data={"customer_id": customer.pk, "title": "Locks", "description": "At commit"},
        ),
        {
            "accounts_user": [technician.pk, other_technician.pk, frontdesk.pk],
            "customers_customer": [customer.pk],
        },
    )
    assert isinstance(created, Ticket), created
    assert created.tech_id in {technician.pk, other_technician.pk}
    assert seen == {"accounts_user": "ok", "customers_customer": "ok"}


def test_create_for_a_named_technician_leaves_its_row_key_shareable(
    postgresql_only, frontdesk, technician, other_technician
):
    customer = factories.make_customer()
    frontdesk.get_all_permissions()
    created, seen = probe_at_commit(
        lambda: ticket_create(
            actor=frontdesk,
            data={
                "customer_id": customer.pk,
                "title": "Named",
                "description": "x",
                "tech": other_technician,
            },
        ),
        {"accounts_user": [other_technician.pk]},
    )
    assert isinstance(created, Ticket), created
    assert created.tech_id == other_technician.pk
    assert seen == {"accounts_user": "ok"}


def test_reassignment_leaves_ticket_and_technician_key_shareable(
    postgresql_only, manager, technician, other_technician
):
    ticket = factories.make_ticket(tech=technician)
    manager.get_all_permissions()
    assigned, seen = probe_at_commit(
        lambda: ticket_assign(actor=manager, ticket_id=ticket.pk, tech=other_technician),
        {"tickets_ticket": [ticket.pk], "accounts_user": [technician.pk, other_technician.pk]},
    )
    assert isinstance(assigned, Ticket), assigned
    assert Ticket.objects.get(pk=ticket.pk).tech_id == other_technician.pk
    assert seen == {"tickets_ticket": "ok", "accounts_user": "ok"}


def test_status_change_leaves_ticket_key_shareable(postgresql_only, technician):
    ticket = factories.make_ticket(tech=technician)
    technician.get_all_permissions()
    done, seen = probe_at_commit(
        lambda: ticket_set_status(actor=technician, ticket_id=ticket.pk, completed=True),
        {"tickets_ticket": [ticket.pk], "accounts_user": [technician.pk]},
    )
    assert isinstance(done, Ticket), done
    assert Ticket.objects.get(pk=ticket.pk).completed
    assert seen == {"tickets_ticket": "ok", "accounts_user": "ok"}
