"""One deactivation path: PATCH `active: false` (customer_update) goes through
customer_deactivate, the DELETE's function: the same permission, the same HAS_DEPENDENCIES
rule, the same activity entry (docs/api.md §4)."""

import pytest

from accounts.permissions import AccessDenied
from core.errors import DomainError
from core.models import ActivityLog
from customers.models import Customer
from customers.services import customer_deactivate, customer_update
from tests import factories
from tests.helpers import ApiClient, assert_error

pytestmark = pytest.mark.django_db


def _deactivate_by_delete(actor, customer):
    return customer_deactivate(actor=actor, customer_id=customer.pk)


def _deactivate_by_patch(actor, customer):
    return customer_update(actor=actor, customer_id=customer.pk, data={"active": False})


WAYS = [_deactivate_by_delete, _deactivate_by_patch]


def _entries(customer):
    return list(
        ActivityLog.objects.filter(object_type="customer", object_id=customer.pk)
        .order_by("id")
        .values_list("action", "actor__username", "metadata")
    )


@pytest.mark.parametrize("way", WAYS)
def test_both_ways_write_the_same_row_and_activity_entry(manager, way):
    customer = factories.make_customer()
    result = way(manager, customer)
    assert result.active is False and Customer.objects.get(pk=customer.pk).active is False
    assert _entries(customer) == [
        (
            "customer:deactivate",
            "manager",
            {"changes": {"active": {"old": True, "new": False}}},
        )
    ]


@pytest.mark.parametrize("way", WAYS)
def test_an_inactive_customer_with_tickets_is_refused_both_ways(manager, way):
    # DELETE counts the tickets even when the customer is inactive already; so does PATCH.
    customer = factories.make_customer(active=False)
    factories.make_ticket(customer=customer, completed=True)
    with pytest.raises(DomainError) as caught:
        way(manager, customer)
    assert (caught.value.code, caught.value.details) == ("HAS_DEPENDENCIES", {"ticketCount": 1})


@pytest.mark.parametrize("way", WAYS)
def test_frontdesk_is_refused_both_ways_even_for_an_inactive_customer(frontdesk, way):
    customer = factories.make_customer(active=False)
    with pytest.raises(AccessDenied):
        way(frontdesk, customer)
    assert _entries(customer) == [
        ("permission:denied", "frontdesk", {"attempted": "customer:deactivate"})
    ]


@pytest.mark.parametrize("way", WAYS)
def test_deactivating_an_inactive_customer_changes_nothing(manager, way):
    customer = factories.make_customer(active=False)
    before = Customer.objects.get(pk=customer.pk).updated_at
    assert way(manager, customer).active is False
    assert Customer.objects.get(pk=customer.pk).updated_at == before
    assert _entries(customer) == []


def test_patch_with_other_fields_and_active_false_writes_both_or_nothing(manager):
    customer = factories.make_customer(zip="10001")
    updated = customer_update(
        actor=manager, customer_id=customer.pk, data={"zip": "10002", "active": False}
    )
    assert (updated.zip, updated.active) == ("10002", False)
    assert [action for action, _, _ in _entries(customer)] == [
        "customer:update",
        "customer:deactivate",
    ]
    refused = factories.make_customer(zip="20001")
    factories.make_ticket(customer=refused)
    with pytest.raises(DomainError) as caught:
        customer_update(
            actor=manager, customer_id=refused.pk, data={"zip": "20002", "active": False}
        )
    assert caught.value.code == "HAS_DEPENDENCIES"
    refused.refresh_from_db()
    assert (refused.zip, refused.active) == ("20001", True)  # nothing half-written
    assert _entries(refused) == []


def test_bad_fields_are_reported_before_the_deactivation_permission(frontdesk):
    customer = factories.make_customer()
    with pytest.raises(DomainError) as caught:
        customer_update(actor=frontdesk, customer_id=customer.pk, data={"zip": "", "active": False})
    assert (caught.value.code, list(caught.value.details)) == ("VALIDATION_ERROR", ["zip"])


def test_the_api_answers_patch_and_delete_alike(manager):
    api = ApiClient(factories.make_token(manager))
    for method in ("delete", "patch"):
        customer = factories.make_customer(active=False)
        factories.make_ticket(customer=customer)
        call = getattr(api, method)
        path = f"/api/customers/{customer.pk}"
        response = call(path) if method == "delete" else call(path, {"active": False})
        body = assert_error(response, 409, "HAS_DEPENDENCIES")
        assert body["details"] == {"ticketCount": 1}
