"""Each rule once: the services take a technician by email and a priority by name and do
the lookup themselves, after their permission check; the lists' sort keys are one map in
the queries, used by the pages and the API alike."""

import typing

import pytest

from accounts.permissions import AccessDenied
from core.errors import DomainError
from core.models import ActivityLog
from customers import api as customer_api
from customers import forms as customer_forms
from customers import queries as customer_queries
from tests import factories
from tests.helpers import ApiClient
from tickets import api as ticket_api
from tickets import forms as ticket_forms
from tickets import queries as ticket_queries
from tickets.models import Priority, Ticket
from tickets.services import ticket_create, ticket_update

pytestmark = pytest.mark.django_db


def ticket_data(customer, **overrides):
    return {
        "customer_id": customer.pk,
        "title": "Cracked screen",
        "description": "Dropped on tiles.",
        **overrides,
    }


def test_create_takes_the_technician_by_email_in_any_case(frontdesk, customer, technician):
    ticket = ticket_create(
        actor=frontdesk, data=ticket_data(customer, tech="  TECH@Shop.test ", priority="urgent")
    )
    ticket.refresh_from_db()
    assert ticket.tech == technician
    assert ticket.priority == Priority.URGENT


def test_create_with_no_technician_is_auto_assigned(frontdesk, customer, technician):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer, tech=None))
    assert ticket.tech == technician


@pytest.mark.parametrize("email", ["nobody@shop.test", "", "  ", "tech\x00@shop.test", 7])
def test_an_unknown_technician_is_listed_with_every_other_bad_field(
    frontdesk, customer, technician, email
):
    with pytest.raises(DomainError) as caught:
        ticket_create(
            actor=frontdesk,
            data=ticket_data(customer, tech=email, title=" ", priority="critical"),
        )
    error = caught.value
    assert (error.code, error.status) == ("VALIDATION_ERROR", 400)
    assert set(error.details) == {"tech", "title", "priority"}
    assert not Ticket.objects.exists()


def test_a_user_who_is_not_a_technician_is_refused_by_email(frontdesk, customer, viewer):
    with pytest.raises(DomainError) as caught:
        ticket_create(actor=frontdesk, data=ticket_data(customer, tech=viewer.email))
    assert list(caught.value.details) == ["tech"]


def test_the_permission_is_checked_before_the_technician_is_looked_up(viewer, customer):
    # A viewer may not create: refused with 403 whatever the email, never told whether it
    # names a technician (the lookup would answer 400 for an unknown one).
    with pytest.raises(AccessDenied):
        ticket_create(actor=viewer, data=ticket_data(customer, tech="nobody@shop.test"))
    entry = ActivityLog.objects.get(action="permission:denied")
    assert entry.metadata == {"attempted": "ticket:create"}


def test_update_reassigns_by_email_and_unassigns_with_none(frontdesk, customer, technician):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer, tech=None))
    assert ticket.tech == technician
    other = ticket_update(
        actor=frontdesk, ticket_id=ticket.pk, data={"tech": None, "priority": "low"}
    )
    assert other.tech is None and other.priority == Priority.LOW
    again = ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"tech": "tech@shop.test"})
    assert again.tech == technician
    assigns = ActivityLog.objects.filter(action="ticket:assign", object_id=ticket.pk)
    assert assigns.count() == 3  # auto-assign, unassign, reassign


def test_update_to_the_same_technician_by_email_changes_nothing(frontdesk, customer, technician):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer, tech=technician))
    before = ActivityLog.objects.count()
    same = ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"tech": "TECH@shop.test"})
    assert same.updated_at == ticket.updated_at
    assert ActivityLog.objects.count() == before


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("high", Priority.HIGH),
        (" urgent ", Priority.URGENT),
        (1, Priority.LOW),
        ("HIGH", Priority.HIGH),  # any case: the API's schema is what limits the spelling
        ("critical", None),
        ("", None),
        (True, None),
        (9, None),
        (None, None),
    ],
)
def test_priority_value_is_the_one_parse(value, expected):
    assert ticket_queries.priority_value(value) == expected


# --- one sort-key map per list ------------------------------------------------------------
def _literal_values(model, field: str) -> set[str]:
    return set(typing.get_args(model.model_fields[field].annotation))


def test_ticket_sort_keys_are_one_map_for_the_pages_and_the_api():
    keys = set(ticket_queries.SORT_KEYS)
    assert {key for key, _ in ticket_forms.SORT_CHOICES} == keys
    assert _literal_values(ticket_api.TicketListQuery, "sort_by") == keys
    assert set(ticket_queries.SORT_KEYS.values()) == set(ticket_queries.SORT_FIELDS)
    assert not hasattr(ticket_forms, "SORT_FIELDS") and not hasattr(ticket_api, "_SORT_FIELDS")


def test_customer_sort_keys_are_one_map_for_the_pages_and_the_api():
    keys = set(customer_queries.SORT_KEYS)
    assert {key for key, _ in customer_forms.SORT_CHOICES} == keys
    assert _literal_values(customer_api.CustomerListQuery, "sort_by") == keys
    assert not hasattr(customer_forms, "SORT_FIELDS")
    assert not hasattr(customer_api, "_SORT_FIELDS")


@pytest.mark.parametrize("sort_by", sorted(ticket_queries.SORT_KEYS))
def test_the_ticket_page_and_the_api_sort_alike(client, frontdesk, customer, sort_by):
    for title, priority in [
        ("B fan", Priority.LOW),
        ("A hinge", Priority.URGENT),
        ("C keys", Priority.MEDIUM),
    ]:
        factories.make_ticket(customer=customer, title=title, priority=priority)
    api = ApiClient(factories.make_token(frontdesk))
    body = api.get("/api/tickets", sortBy=sort_by, sortOrder="asc").json()
    api_titles = [t["title"] for t in body["tickets"]]
    client.force_login(frontdesk)
    page = client.get("/tickets/", {"sortBy": sort_by, "sortOrder": "asc"}).content.decode()
    page_titles = sorted(api_titles, key=page.index)
    assert page_titles == api_titles
