"""The tickets operations of docs/api.md §5, through HTTP."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import roles
from tests import factories
from tests.helpers import ApiClient, assert_error
from tickets.models import Notification, Priority, Ticket

pytestmark = pytest.mark.django_db

# Part 1's fields and the four that contract §12 adds (the one change to this part-1 file:
# part 1 asserts the exact set, and §12 extends it).
TICKET_FIELDS = {
    "status",
    "statusGroup",
    "statusChangedAt",
    "overdue",
    "id",
    "customerId",
    "title",
    "description",
    "tech",
    "priority",
    "category",
    "estimatedHours",
    "completed",
    "notes",
    "deviceType",
    "deviceBrand",
    "deviceModel",
    "serialNumber",
    "accessories",
    "condition",
    "createdAt",
    "updatedAt",
}


def _ids(response):
    assert response.status_code == 200, response.content
    return [t["id"] for t in response.json()["tickets"]]


def _new_ticket(customer, **extra):
    return {"customerId": customer.pk, "title": "No power", "description": "Dead.", **extra}


# ---- create --------------------------------------------------------------------------------
def test_create_auto_assigns_and_answers_201(as_frontdesk, customer, technician):
    response = as_frontdesk.post("/api/tickets", _new_ticket(customer))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"ticket", "metadata"}
    ticket = body["ticket"]
    assert set(ticket) == TICKET_FIELDS  # no `customer` unless asked for
    assert ticket["tech"] == technician.email
    assert ticket["priority"] == "medium"
    assert ticket["estimatedHours"] is None
    assert ticket["completed"] is False
    assert ticket["deviceType"] == "" and ticket["notes"] == ""
    assert Notification.objects.filter(ticket_id=ticket["id"], recipient=technician.email).exists()


def test_create_with_null_tech_also_auto_assigns(as_frontdesk, customer, technician):
    response = as_frontdesk.post("/api/tickets", _new_ticket(customer, tech=None))
    assert response.json()["ticket"]["tech"] == technician.email


def test_create_may_start_completed(as_manager, customer):
    response = as_manager.post("/api/tickets", _new_ticket(customer, completed=True))
    assert response.status_code == 201, response.content
    assert response.json()["ticket"]["completed"] is True


def test_create_without_technicians_leaves_tech_null(as_frontdesk, customer):
    response = as_frontdesk.post("/api/tickets", _new_ticket(customer))
    assert response.status_code == 201
    assert response.json()["ticket"]["tech"] is None


def test_create_goes_to_the_least_loaded_technician(
    as_frontdesk, customer, technician, other_technician
):
    factories.make_ticket(customer=customer, tech=technician)
    response = as_frontdesk.post("/api/tickets", _new_ticket(customer))
    assert response.json()["ticket"]["tech"] == other_technician.email


def test_create_with_named_technician_and_all_fields(
    as_manager, customer, technician, other_technician
):
    response = as_manager.post(
        "/api/tickets",
        _new_ticket(
            customer,
            tech=other_technician.email.upper(),
            priority="urgent",
            category="Hardware",
            estimatedHours=2.5,
            notes="Left charger",
            deviceType="laptop",
            deviceBrand="Dell",
            deviceModel="XPS 13",
            serialNumber=" SN-1 ",
            accessories="charger",
            condition="scratched lid",
        ),
    )
    assert response.status_code == 201, response.content
    ticket = response.json()["ticket"]
    assert ticket["tech"] == other_technician.email
    assert ticket["priority"] == "urgent"
    assert ticket["estimatedHours"] == 2.5
    assert ticket["serialNumber"] == "SN-1"
    assert Ticket.objects.get(pk=ticket["id"]).priority == Priority.URGENT


@pytest.mark.parametrize("tech", ["nobody@shop.test", "viewer@shop.test"])
def test_create_with_someone_who_is_not_a_technician_is_400(as_manager, customer, viewer, tech):
    error = assert_error(
        as_manager.post("/api/tickets", _new_ticket(customer, tech=tech)), 400, "VALIDATION_ERROR"
    )
    assert error["field"] == "tech"


def test_create_for_missing_or_inactive_customer_is_invalid_customer(as_manager):
    inactive = factories.make_customer(active=False)
    for customer_id in (inactive.pk, 999999):
        error = assert_error(
            as_manager.post(
                "/api/tickets", {"customerId": customer_id, "title": "t", "description": "d"}
            ),
            400,
            "INVALID_CUSTOMER",
        )
        assert error["field"] == "customerId"
        assert error["details"] == {"customerId": [error["message"]]}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"title": "  "}, "title"),
        ({"priority": "critical"}, "priority"),
        ({"estimatedHours": 1000.5}, "estimatedHours"),
        ({"estimatedHours": 1.234}, "estimatedHours"),
        ({"estimatedHours": -1}, "estimatedHours"),
        ({"deviceType": "toaster"}, "deviceType"),
        ({"completed": "no"}, "completed"),
    ],
)
def test_create_with_bad_field_is_400(as_manager, customer, extra, field):
    error = assert_error(
        as_manager.post("/api/tickets", _new_ticket(customer, **extra)), 400, "VALIDATION_ERROR"
    )
    assert field in error["details"], error


def test_create_missing_required_fields(as_manager):
    error = assert_error(as_manager.post("/api/tickets", {}), 400, "VALIDATION_ERROR")
    assert {"customerId", "title", "description"} <= set(error["details"])


def test_viewer_naming_a_tech_gets_403_not_a_lookup(as_viewer, customer, technician):
    assert_error(
        as_viewer.post("/api/tickets", _new_ticket(customer, tech="nobody@shop.test")),
        403,
        "FORBIDDEN",
    )


# ---- read ------------------------------------------------------------------------------------
def test_get_with_and_without_customer(as_viewer, customer):
    ticket = factories.make_ticket(customer=customer)
    plain = as_viewer.get(f"/api/tickets/{ticket.pk}").json()["ticket"]
    assert "customer" not in plain and plain["customerId"] == customer.pk
    full = as_viewer.get(f"/api/tickets/{ticket.pk}", includeCustomer="true").json()["ticket"]
    assert full["customer"] == {
        "id": customer.pk,
        "firstName": "Grace",
        "lastName": "Hopper",
        "email": "grace@navy.test",
    }


def test_technician_reading_someone_elses_ticket_is_403(as_technician, other_technician, customer):
    ticket = factories.make_ticket(customer=customer, tech=other_technician)
    assert_error(as_technician.get(f"/api/tickets/{ticket.pk}"), 403, "FORBIDDEN")
    assert_error(as_technician.get("/api/tickets/999999"), 404, "NOT_FOUND")


# ---- list --------------------------------------------------------------------------------------
def test_list_shape_and_default_order(as_manager, customer):
    old = factories.make_ticket(customer=customer, created_at=timezone.now() - timedelta(days=1))
    new = factories.make_ticket(customer=customer)
    response = as_manager.get("/api/tickets")
    assert _ids(response) == [new.pk, old.pk]
    body = response.json()
    assert set(body) == {"tickets", "pagination", "filters", "metadata"}
    assert set(body["tickets"][0]) == TICKET_FIELDS
    assert "responseTime" in body["metadata"]


def test_technician_sees_only_own_tickets_whatever_the_filters(
    as_technician, technician, other_technician, customer
):
    mine = factories.make_ticket(customer=customer, tech=technician)
    factories.make_ticket(customer=customer, tech=other_technician)
    factories.make_ticket(customer=customer)
    assert _ids(as_technician.get("/api/tickets")) == [mine.pk]
    assert _ids(as_technician.get("/api/tickets", tech=other_technician.email)) == []


def test_filters_are_applied_and_echoed(as_manager, customer, technician):
    target = factories.make_ticket(
        customer=customer, tech=technician, priority=Priority.HIGH, completed=True
    )
    factories.make_ticket(customer=customer, tech=technician, priority=Priority.HIGH)
    factories.make_ticket(priority=Priority.HIGH, completed=True)
    today = timezone.localdate().isoformat()
    response = as_manager.get(
        "/api/tickets",
        completed="true",
        tech=technician.email,
        customerId=customer.pk,
        priority="high",
        dateFrom=today,
        dateTo=today,
    )
    assert _ids(response) == [target.pk]
    assert response.json()["filters"] == {
        "completed": True,
        "tech": technician.email,
        "customerId": customer.pk,
        "priority": "high",
        "dateFrom": today,
        "dateTo": today,
    }


def test_search_by_text_serial_and_number(as_manager, customer):
    laptop = factories.make_ticket(customer=customer, title="Laptop hinge", serial_number="ABC-99")
    other = factories.make_ticket(customer=customer, title="Printer jam")
    assert _ids(as_manager.get("/api/tickets", search="HINGE")) == [laptop.pk]
    assert _ids(as_manager.get("/api/tickets", search="abc-9")) == [laptop.pk]
    assert other.pk in _ids(as_manager.get("/api/tickets", search=f"#{other.pk}"))
    assert as_manager.get("/api/tickets", search="hinge").json()["filters"] == {"search": "hinge"}


def test_date_range_on_created_at(as_manager, customer):
    old = factories.make_ticket(customer=customer, created_at=timezone.now() - timedelta(days=10))
    recent = factories.make_ticket(customer=customer)
    since = (timezone.now() - timedelta(days=2)).isoformat()
    assert _ids(as_manager.get("/api/tickets", dateFrom=since)) == [recent.pk]
    until = (timezone.localdate() - timedelta(days=5)).isoformat()
    assert _ids(as_manager.get("/api/tickets", dateTo=until)) == [old.pk]


def test_sort_by_priority_is_by_severity(as_manager, customer):
    urgent = factories.make_ticket(customer=customer, priority=Priority.URGENT)
    low = factories.make_ticket(customer=customer, priority=Priority.LOW)
    high = factories.make_ticket(customer=customer, priority=Priority.HIGH)
    response = as_manager.get("/api/tickets", sortBy="priority", sortOrder="asc")
    assert _ids(response) == [low.pk, high.pk, urgent.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dateFrom": "yesterday"}, "dateFrom"),
        ({"dateTo": "2026-02-30"}, "dateTo"),
        ({"dateTo": ""}, "dateTo"),
        ({"sortBy": "tech"}, "sortBy"),
        ({"priority": "critical"}, "priority"),
        ({"completed": "maybe"}, "completed"),
        ({"customerId": "abc"}, "customerId"),
        ({"pageSize": "500"}, "pageSize"),
        ({"page": "-1"}, "page"),
    ],
)
def test_bad_list_parameters_are_400(as_manager, params, field):
    error = assert_error(as_manager.get("/api/tickets", **params), 400, "VALIDATION_ERROR")
    assert field in error["details"], error


def test_list_include_customer(as_manager, customer):
    factories.make_ticket(customer=customer)
    row = as_manager.get("/api/tickets", includeCustomer="true").json()["tickets"][0]
    assert row["customer"]["lastName"] == "Hopper"
    assert "customer" not in as_manager.get("/api/tickets").json()["tickets"][0]


# ---- update ------------------------------------------------------------------------------------
def test_patch_edits_fields(as_frontdesk, customer):
    ticket = factories.make_ticket(customer=customer)
    response = as_frontdesk.patch(
        f"/api/tickets/{ticket.pk}", {"title": "New title", "priority": "low", "estimatedHours": 3}
    )
    assert response.status_code == 200, response.content
    body = response.json()["ticket"]
    assert body["title"] == "New title" and body["priority"] == "low"
    assert body["estimatedHours"] == 3


def test_patch_reassigns_and_unassigns(as_manager, customer, technician, other_technician):
    ticket = factories.make_ticket(customer=customer, tech=technician)
    response = as_manager.patch(f"/api/tickets/{ticket.pk}", {"tech": other_technician.email})
    assert response.json()["ticket"]["tech"] == other_technician.email
    assert Notification.objects.filter(ticket=ticket, recipient=other_technician.email).exists()
    response = as_manager.patch(f"/api/tickets/{ticket.pk}", {"tech": None})
    assert response.json()["ticket"]["tech"] is None
    ticket.refresh_from_db()
    assert ticket.tech is None


def test_patch_moves_ticket_to_active_customer_only(as_manager, customer):
    ticket = factories.make_ticket(customer=customer)
    inactive = factories.make_customer(active=False)
    assert_error(
        as_manager.patch(f"/api/tickets/{ticket.pk}", {"customerId": inactive.pk}),
        400,
        "INVALID_CUSTOMER",
    )


def test_patch_with_stale_updated_at_is_409_with_current_ticket(as_manager, customer, technician):
    ticket = factories.make_ticket(customer=customer, tech=technician)
    stale = as_manager.get(f"/api/tickets/{ticket.pk}").json()["ticket"]["updatedAt"]
    as_manager.patch(f"/api/tickets/{ticket.pk}", {"priority": "urgent"})
    error = assert_error(
        as_manager.patch(f"/api/tickets/{ticket.pk}", {"title": "Mine", "updatedAt": stale}),
        409,
        "CONFLICT",
    )
    current = error["details"]["current"]
    assert set(current) == TICKET_FIELDS
    assert current["priority"] == "urgent" and current["tech"] == technician.email
    fresh = current["updatedAt"]
    ok = as_manager.patch(f"/api/tickets/{ticket.pk}", {"title": "Mine", "updatedAt": fresh})
    assert ok.status_code == 200, ok.content


# ---- status ------------------------------------------------------------------------------------
def test_status_completes_and_replaces_notes(as_manager, customer):
    ticket = factories.make_ticket(customer=customer, notes="old")
    response = as_manager.post(
        f"/api/tickets/{ticket.pk}/status", {"completed": True, "notes": "Replaced board"}
    )
    assert response.status_code == 200, response.content
    body = response.json()["ticket"]
    assert body["completed"] is True and body["notes"] == "Replaced board"
    response = as_manager.post(
        f"/api/tickets/{ticket.pk}/status", {"completed": False, "notes": ""}
    )
    assert response.json()["ticket"]["notes"] == ""
    response = as_manager.post(f"/api/tickets/{ticket.pk}/status", {"completed": True})
    assert response.json()["ticket"]["notes"] == ""  # absent notes are left alone


def test_technician_changes_status_of_own_ticket_only(
    as_technician, technician, other_technician, customer
):
    mine = factories.make_ticket(customer=customer, tech=technician)
    theirs = factories.make_ticket(customer=customer, tech=other_technician)
    assert (
        as_technician.post(f"/api/tickets/{mine.pk}/status", {"completed": True}).status_code == 200
    )
    error = assert_error(
        as_technician.post(f"/api/tickets/{theirs.pk}/status", {"completed": True}),
        403,
        "FORBIDDEN",
    )
    assert error["message"] == "You can only update your assigned tickets"
    assert_error(
        as_technician.post("/api/tickets/999999/status", {"completed": True}), 404, "NOT_FOUND"
    )


def test_status_needs_completed_bool(as_manager, customer):
    ticket = factories.make_ticket(customer=customer)
    for body in ({}, {"completed": "yes"}, {"completed": None}):
        error = assert_error(
            as_manager.post(f"/api/tickets/{ticket.pk}/status", body), 400, "VALIDATION_ERROR"
        )
        assert "completed" in error["details"]


def test_status_with_stale_updated_at_is_409(as_manager, customer):
    ticket = factories.make_ticket(customer=customer)
    stale = as_manager.get(f"/api/tickets/{ticket.pk}").json()["ticket"]["updatedAt"]
    as_manager.patch(f"/api/tickets/{ticket.pk}", {"title": "Changed"})
    error = assert_error(
        as_manager.post(
            f"/api/tickets/{ticket.pk}/status", {"completed": True, "updatedAt": stale}
        ),
        409,
        "CONFLICT",
    )
    assert error["details"]["current"]["title"] == "Changed"
    ticket.refresh_from_db()
    assert ticket.completed is False


def test_status_of_user_with_several_roles(customer):
    both = factories.make_user(username="both", roles=[roles.TECHNICIAN, roles.VIEWER])
    ticket = factories.make_ticket(customer=customer)
    client = ApiClient(factories.make_token(both))
    assert client.get(f"/api/tickets/{ticket.pk}").status_code == 200  # viewer: sees all
    assert_error(
        client.post(f"/api/tickets/{ticket.pk}/status", {"completed": True}), 403, "FORBIDDEN"
    )
