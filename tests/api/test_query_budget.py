"""Query budgets of the list and detail operations: a fixed number of queries, the same for
pageSize=5 and pageSize=100 with more rows than that (no N+1)."""

import pytest

from customers.models import Customer
from tests import factories
from tests.helpers import ApiClient
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

ROWS = 120

# Each budget names its queries. Every request pays for authentication: the token with its
# user (1). The user's permissions were read by the fixture's first request and are
# remembered per (user, updated_at) (accounts.backends). Rate limits are off here: in
# production their counters live in Redis, not in the database.
AUTH = 1
VERSION = 1  # the data version the lists are remembered under (core.rendered)
LISTS = [
    # + COUNT + the page (ticket counts are a correlated subquery of that same query)
    ("/api/customers", {}, AUTH + VERSION + 2),
    ("/api/customers", {"includeTickets": "true", "search": "ada"}, AUTH + VERSION + 2),
    # + COUNT + the page with customer and technician joined in
    ("/api/tickets", {}, AUTH + VERSION + 2),
    ("/api/tickets", {"includeCustomer": "true", "search": "Dell"}, AUTH + VERSION + 2),
]
DETAILS = [
    # + the row
    ("/api/customers/{customer}", {}, AUTH + 1),
    # + the row with customer and technician joined in
    ("/api/tickets/{ticket}", {"includeCustomer": "true"}, AUTH + 1),
]


@pytest.fixture
def many_rows(manager, technician, settings):
    settings.RATELIMIT_ENABLE = False
    customers = Customer.objects.bulk_create(
        Customer(
            first_name="Ada",
            last_name=f"Lovelace{i:03}",
            email=f"ada{i}@example.com",
            phone="+1 555 0100",
            address1="1 Way",
            city="London",
            state="LDN",
            zip="N1",
            country="GB",
        )
        for i in range(ROWS)
    )
    Ticket.objects.bulk_create(
        Ticket(
            customer=customers[i % 7],
            title=f"Dell laptop {i}",
            description="No power.",
            tech=technician if i % 2 else None,
        )
        for i in range(ROWS)
    )
    client = ApiClient(factories.make_token(manager))
    client.get("/api/customers")  # first use of the token writes last_used_at: not measured
    return {"client": client, "customer": customers[0].pk, "ticket": Ticket.objects.first().pk}


@pytest.mark.parametrize(("path", "params", "budget"), LISTS)
def test_list_query_budget_does_not_grow_with_page_size(
    many_rows, path, params, budget, django_assert_max_num_queries
):
    client = many_rows["client"]
    key = path.rsplit("/", 1)[-1]
    counts = {}
    for page_size in (5, 100):
        with django_assert_max_num_queries(budget) as queries:
            response = client.get(path, **params, pageSize=page_size)
        assert response.status_code == 200, response.content
        assert len(response.json()[key]) == page_size
        counts[page_size] = len(queries.captured_queries)
    assert counts[5] == counts[100], f"{path}: {counts}"


@pytest.mark.parametrize(("path", "params", "budget"), DETAILS)
def test_detail_query_budget(many_rows, path, params, budget, django_assert_max_num_queries):
    with django_assert_max_num_queries(budget):
        response = many_rows["client"].get(path.format(**many_rows), **params)
    assert response.status_code == 200, response.content


def test_technician_list_budget(many_rows, technician, django_assert_max_num_queries):
    client = ApiClient(factories.make_token(technician))
    client.get("/api/tickets")  # token's first use
    with django_assert_max_num_queries(AUTH + VERSION + 2):
        response = client.get("/api/tickets", pageSize=100)
    assert len(response.json()["tickets"]) == ROWS // 2


@pytest.mark.usefixtures("without_verify")  # a hit is not rendered again
@pytest.mark.parametrize(("path", "params", "budget"), LISTS)
def test_a_repeated_list_is_served_from_memory(
    many_rows, path, params, budget, django_assert_num_queries
):
    """The same list again, nothing changed: authentication and the version, no rows read.
    The data is the same; the metadata is the request's own."""
    client = many_rows["client"]
    first = client.get(path, **params, pageSize=100).json()
    with django_assert_num_queries(AUTH + VERSION):
        again = client.get(path, **params, pageSize=100).json()
    assert {k: v for k, v in again.items() if k != "metadata"} == {
        k: v for k, v in first.items() if k != "metadata"
    }
    assert again["metadata"]["requestId"] != first["metadata"]["requestId"]
