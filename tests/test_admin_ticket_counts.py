"""The admin ticket changelist: 20 rows a page, and its total from the trigger-kept counts
when nothing filters it (PostgreSQL), an exact COUNT(*) otherwise."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tickets.admin import TicketAdmin


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def thirty_tickets(customer):
    for n in range(30):
        factories.make_ticket(customer=customer, completed=n < 4)


def _total(response) -> int:
    return response.context["cl"].result_count


@pytest.mark.django_db
def test_changelist_pages_and_totals(manager_client, thirty_tickets):
    response = manager_client.get("/admin/tickets/ticket/")
    assert response.status_code == 200
    assert _total(response) == 30
    assert len(response.context["cl"].result_list) == TicketAdmin.list_per_page == 20
    assert _total(manager_client.get("/admin/tickets/ticket/?o=2&p=2")) == 30
    assert _total(manager_client.get("/admin/tickets/ticket/?completed__exact=1")) == 4
    assert _total(manager_client.get("/admin/tickets/ticket/?q=no+power")) == 30


@pytest.mark.postgres
@pytest.mark.django_db
def test_unfiltered_changelist_counts_no_rows(postgresql_only, manager_client, thirty_tickets):
    manager_client.get("/admin/tickets/ticket/")
    with CaptureQueriesContext(connection) as captured:
        manager_client.get("/admin/tickets/ticket/")
    sql = [q["sql"] for q in captured.captured_queries]
    assert not [s for s in sql if "COUNT(*)" in s.upper()], sql
    assert any("tickets_ticket_count" in s for s in sql)
    with CaptureQueriesContext(connection) as captured:
        manager_client.get("/admin/tickets/ticket/?priority__exact=2")
    assert any("COUNT(*)" in q["sql"].upper() for q in captured.captured_queries)
