"""The customers operations of docs/api.md §4, through HTTP."""

from datetime import datetime

import pytest

from core.models import ActivityLog
from customers.models import Customer
from tests import factories
from tests.helpers import assert_error, customer_body

pytestmark = pytest.mark.django_db

CUSTOMER_FIELDS = {
    "id",
    "firstName",
    "lastName",
    "email",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "notes",
    "active",
    "createdAt",
    "updatedAt",
}


def _ids(response):
    return [c["id"] for c in response.json()["customers"]]


# ---- list ------------------------------------------------------------------------------------
def test_list_shape(as_manager, customer):
    body = as_manager.get("/api/customers").json()
    assert set(body) == {"customers", "pagination", "filters", "metadata"}
    assert set(body["customers"][0]) == CUSTOMER_FIELDS
    assert body["pagination"] == {
        "page": 1,
        "pageSize": 20,
        "total": 1,
        "totalPages": 1,
        "hasNextPage": False,
        "hasPrevPage": False,
    }
    assert body["filters"] == {}
    assert set(body["metadata"]) == {"timestamp", "version", "requestId", "responseTime"}


def test_timestamps_are_iso_8601_with_offset(as_manager, customer):
    row = as_manager.get("/api/customers").json()["customers"][0]
    for key in ("createdAt", "updatedAt"):
        parsed = datetime.fromisoformat(row[key])
        assert parsed.utcoffset() is not None
        assert parsed == getattr(customer, {"createdAt": "created_at"}.get(key, "updated_at"))


def test_default_sort_is_last_name_then_id(as_manager):
    b2 = factories.make_customer(last_name="Babbage")
    a = factories.make_customer(last_name="Adams")
    b1 = factories.make_customer(last_name="Babbage")
    assert _ids(as_manager.get("/api/customers")) == [a.pk, b2.pk, b1.pk]
    desc = as_manager.get("/api/customers", sortOrder="desc")
    assert _ids(desc) == [b1.pk, b2.pk, a.pk]  # ties broken by id in the sort's direction


@pytest.mark.parametrize(("sort_by", "field"), [("firstName", "first_name"), ("email", "email")])
def test_sort_by(as_manager, sort_by, field):
    made = [
        factories.make_customer(**{field: value}) for value in ("c@x.test", "a@x.test", "b@x.test")
    ]
    expected = [c.pk for c in sorted(made, key=lambda c: (getattr(c, field), c.pk))]
    assert _ids(as_manager.get("/api/customers", sortBy=sort_by)) == expected


def test_search_matches_names_email_phone_and_full_name(as_manager):
    ada = factories.make_customer(first_name="Ada", last_name="Lovelace", phone="+44 555 1234")
    factories.make_customer(first_name="Charles", last_name="Babbage", email="cb@engine.test")
    assert _ids(as_manager.get("/api/customers", search="LOVE")) == [ada.pk]
    assert _ids(as_manager.get("/api/customers", search="ada love")) == [ada.pk]
    assert _ids(as_manager.get("/api/customers", search="555 12")) == [ada.pk]
    response = as_manager.get("/api/customers", search="engine.test")
    assert len(_ids(response)) == 1
    assert response.json()["filters"] == {"search": "engine.test"}


def test_active_filter_and_echo(as_manager):
    active = factories.make_customer()
    inactive = factories.make_customer(active=False)
    response = as_manager.get("/api/customers", active="false")
    assert _ids(response) == [inactive.pk]
    assert response.json()["filters"] == {"active": False}
    assert _ids(as_manager.get("/api/customers", active="true")) == [active.pk]
    assert set(_ids(as_manager.get("/api/customers"))) == {active.pk, inactive.pk}


def test_blank_search_is_no_filter(as_manager, customer):
    response = as_manager.get("/api/customers", search="   ")
    assert _ids(response) == [customer.pk]
    assert response.json()["filters"] == {}


def test_pagination_pages_never_repeat_or_skip(as_manager):
    made = {factories.make_customer(last_name="Same").pk for _ in range(7)}
    seen = []
    for page in (1, 2, 3):
        response = as_manager.get("/api/customers", page=page, pageSize=3)
        seen += _ids(response)
    assert sorted(seen) == sorted(made)
    last = as_manager.get("/api/customers", page=3, pageSize=3).json()["pagination"]
    assert last == {
        "page": 3,
        "pageSize": 3,
        "total": 7,
        "totalPages": 3,
        "hasNextPage": False,
        "hasPrevPage": True,
    }


def test_page_past_the_end_is_empty_with_totals(as_manager, customer):
    body = as_manager.get("/api/customers", page=9).json()
    assert body["customers"] == []
    assert body["pagination"]["total"] == 1 and body["pagination"]["totalPages"] == 1


def test_no_rows_is_zero_pages(as_manager):
    pagination = as_manager.get("/api/customers").json()["pagination"]
    assert pagination["total"] == 0 and pagination["totalPages"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "101"}, "pageSize"),
        ({"sortBy": "phone"}, "sortBy"),
        ({"sortOrder": "up"}, "sortOrder"),
        ({"active": "yes"}, "active"),
        ({"includeTickets": "1"}, "includeTickets"),
    ],
)
def test_bad_query_parameters_are_400(as_manager, params, field):
    error = assert_error(as_manager.get("/api/customers", **params), 400, "VALIDATION_ERROR")
    assert field in error["details"]


def test_ticket_count_only_with_include_tickets(as_manager, customer):
    factories.make_ticket(customer=customer)
    factories.make_ticket(customer=customer, completed=True)
    plain = as_manager.get("/api/customers").json()["customers"][0]
    assert "ticketCount" not in plain
    counted = as_manager.get("/api/customers", includeTickets="true").json()["customers"][0]
    assert counted["ticketCount"] == 2


# ---- create ----------------------------------------------------------------------------------
def test_create_returns_201_with_message_and_normalised_customer(as_manager):
    response = as_manager.post(
        "/api/customers", customer_body(firstName="  Ada ", email="Ada@EXAMPLE.com", country="us")
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["message"] == "Customer created successfully"
    assert set(body["metadata"]) == {"timestamp", "version", "requestId"}
    created = body["customer"]
    assert set(created) == CUSTOMER_FIELDS
    assert created["firstName"] == "Ada"
    assert created["email"] == "Ada@example.com"
    assert created["country"] == "US"
    assert created["address2"] == "" and created["notes"] == "" and created["active"] is True
    assert Customer.objects.filter(pk=created["id"]).exists()
    assert ActivityLog.objects.filter(action="customer:create", object_id=created["id"]).exists()


def test_create_may_set_active_false(as_manager):
    response = as_manager.post("/api/customers", customer_body(active=False))
    assert response.json()["customer"]["active"] is False


def test_duplicate_email_any_case_is_409(as_manager, customer):
    error = assert_error(
        as_manager.post("/api/customers", customer_body(email="GRACE@navy.test")),
        409,
        "DUPLICATE_EMAIL",
    )
    assert error["field"] == "email"
    assert error["details"] == {"email": ["Customer with this email already exists"]}


def test_missing_required_fields_are_listed(as_manager):
    error = assert_error(as_manager.post("/api/customers", {}), 400, "VALIDATION_ERROR")
    assert {
        "firstName",
        "lastName",
        "email",
        "phone",
        "address1",
        "city",
        "state",
        "zip",
        "country",
    } <= set(error["details"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("firstName", ""),
        ("lastName", "   "),
        ("email", "not-an-email"),
        ("phone", "123"),
        ("phone", "call me"),
        ("country", "XX"),
        ("firstName", "x" * 101),
        ("notes", "x" * 5001),
    ],
)
def test_invalid_field_is_400_on_that_field(as_manager, field, value):
    error = assert_error(
        as_manager.post("/api/customers", customer_body(**{field: value})), 400, "VALIDATION_ERROR"
    )
    assert field in error["details"], error


# ---- read, update, deactivate ------------------------------------------------------------------
def test_get_customer(as_manager, customer):
    body = as_manager.get(f"/api/customers/{customer.pk}").json()
    assert body["customer"]["email"] == "grace@navy.test"
    assert "metadata" in body


def test_patch_is_partial(as_manager, customer):
    response = as_manager.patch(f"/api/customers/{customer.pk}", {"city": "Arlington"})
    assert response.status_code == 200
    assert response.json()["customer"]["city"] == "Arlington"
    assert response.json()["customer"]["firstName"] == "Grace"


def test_patch_with_current_updated_at_succeeds(as_manager, customer):
    current = as_manager.get(f"/api/customers/{customer.pk}").json()["customer"]["updatedAt"]
    response = as_manager.patch(
        f"/api/customers/{customer.pk}", {"city": "Arlington", "updatedAt": current}
    )
    assert response.status_code == 200, response.content


def test_patch_with_stale_updated_at_is_409_with_current_object(as_manager, customer):
    stale = as_manager.get(f"/api/customers/{customer.pk}").json()["customer"]["updatedAt"]
    as_manager.patch(f"/api/customers/{customer.pk}", {"city": "Arlington"})
    error = assert_error(
        as_manager.patch(f"/api/customers/{customer.pk}", {"city": "Paris", "updatedAt": stale}),
        409,
        "CONFLICT",
    )
    current = error["details"]["current"]
    assert set(current) == CUSTOMER_FIELDS
    assert current["city"] == "Arlington"
    customer.refresh_from_db()
    assert customer.city == "Arlington"


def test_patch_to_duplicate_email_is_409(as_manager, customer):
    other = factories.make_customer()
    assert_error(
        as_manager.patch(f"/api/customers/{other.pk}", {"email": "Grace@Navy.test"}),
        409,
        "DUPLICATE_EMAIL",
    )


def test_patch_active_false_is_deactivation_with_its_rules(as_manager, as_frontdesk, customer):
    factories.make_ticket(customer=customer)
    error = assert_error(
        as_manager.patch(f"/api/customers/{customer.pk}", {"active": False}),
        409,
        "HAS_DEPENDENCIES",
    )
    assert error["details"] == {"ticketCount": 1}
    lonely = factories.make_customer()
    assert_error(
        as_frontdesk.patch(f"/api/customers/{lonely.pk}", {"active": False}), 403, "FORBIDDEN"
    )
    response = as_manager.patch(f"/api/customers/{lonely.pk}", {"active": False})
    assert response.json()["customer"]["active"] is False


def test_delete_is_a_soft_delete(as_manager):
    lonely = factories.make_customer()
    response = as_manager.delete(f"/api/customers/{lonely.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == lonely.pk and "metadata" in body
    lonely.refresh_from_db()
    assert lonely.active is False


def test_delete_customer_with_completed_ticket_is_409(as_manager, customer):
    factories.make_ticket(customer=customer, completed=True)
    error = assert_error(
        as_manager.delete(f"/api/customers/{customer.pk}"), 409, "HAS_DEPENDENCIES"
    )
    assert error["details"]["ticketCount"] == 1
    customer.refresh_from_db()
    assert customer.active is True


def test_missing_customer_is_404_for_every_operation(as_manager):
    assert_error(as_manager.get("/api/customers/999999"), 404, "NOT_FOUND")
    assert_error(as_manager.patch("/api/customers/999999", {"city": "x"}), 404, "NOT_FOUND")
    assert_error(as_manager.delete("/api/customers/999999"), 404, "NOT_FOUND")
    assert_error(as_manager.get(f"/api/customers/{2**63}"), 404, "NOT_FOUND")
