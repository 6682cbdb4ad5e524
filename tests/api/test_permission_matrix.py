"""The permission matrix of docs/api.md §6 for every API operation, table-driven.

Every operation of the OpenAPI schema (and every URL of the API's resolver) must have a row
here; test_every_api_operation_is_in_the_matrix fails when one is added without one.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import roles
from repairshop.api import api
from tests import factories
from tests.helpers import ApiClient, customer_body

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "bad_token", "manager", "frontdesk", "technician", "viewer")

# (method, path template, variant): expected status per caller, in CALLERS order.
# "own" tickets are assigned to the technician, "other" ones to another technician.
MATRIX = {
    ("GET", "/api/customers", ""): (401, 401, 200, 200, 200, 200),
    ("POST", "/api/customers", ""): (401, 401, 201, 201, 403, 403),
    ("GET", "/api/customers/{customer_id}", ""): (401, 401, 200, 200, 200, 200),
    ("PATCH", "/api/customers/{customer_id}", ""): (401, 401, 200, 200, 403, 403),
    ("DELETE", "/api/customers/{customer_id}", ""): (401, 401, 200, 403, 403, 403),
    ("GET", "/api/tickets", ""): (401, 401, 200, 200, 200, 200),
    ("POST", "/api/tickets", ""): (401, 401, 201, 201, 403, 403),
    ("GET", "/api/tickets/{ticket_id}", "own"): (401, 401, 200, 200, 200, 200),
    ("GET", "/api/tickets/{ticket_id}", "other"): (401, 401, 200, 200, 403, 200),
    ("PATCH", "/api/tickets/{ticket_id}", "own"): (401, 401, 200, 200, 403, 403),
    ("POST", "/api/tickets/{ticket_id}/status", "own"): (401, 401, 200, 200, 200, 403),
    ("POST", "/api/tickets/{ticket_id}/status", "other"): (401, 401, 200, 200, 403, 403),
    # §12 rule 4: into the closed group only for who hands devices over.
    ("POST", "/api/tickets/{ticket_id}/status", "own-collect"): (401, 401, 200, 200, 403, 403),
    ("GET", "/api/tickets/{ticket_id}/history", "own"): (401, 401, 200, 200, 200, 200),
    ("GET", "/api/tickets/{ticket_id}/history", "other"): (401, 401, 200, 200, 403, 200),
    ("GET", "/api/statuses", ""): (401, 401, 200, 200, 200, 200),
    # The schema and the docs need a token or a session when DEBUG is off (docs/api.md §1).
    ("GET", "/api/openapi.json", ""): (401, 401, 200, 200, 200, 200),
    ("GET", "/api/docs", ""): (401, 401, 200, 200, 200, 200),
}

CASES = [
    pytest.param(
        op, caller, expected[i], id=f"{op[0]} {op[1]} {op[2]} as {caller}".replace("  ", " ")
    )
    for op, expected in MATRIX.items()
    for i, caller in enumerate(CALLERS)
]


def _client_for(caller: str, users: dict) -> ApiClient:
    if caller == "anonymous":
        return ApiClient()
    if caller == "bad_token":
        return ApiClient("rs_this-token-was-never-issued-by-the-shop-000000")
    return ApiClient(factories.make_token(users[caller]))


def _body(method: str, path: str, variant: str, users: dict) -> dict | None:
    if (method, path) == ("POST", "/api/customers"):
        return customer_body(email="matrix@example.com")
    if (method, path) == ("PATCH", "/api/customers/{customer_id}"):
        return {"notes": "called back"}
    if (method, path) == ("POST", "/api/tickets"):
        return {
            "customerId": users["customer"].pk,
            "title": "Screen flickers",
            "description": "Flickers when the lid moves.",
        }
    if (method, path) == ("PATCH", "/api/tickets/{ticket_id}"):
        return {"priority": "high"}
    if path.endswith("/status"):
        return {"status": "collected"} if variant == "own-collect" else {"completed": True}
    return None


@pytest.mark.parametrize(("operation", "caller", "expected"), CASES)
def test_permission_matrix(operation, caller, expected, settings):
    settings.DEBUG = False
    method, template, variant = operation
    users = {
        "manager": factories.make_user(username="m", roles=[roles.MANAGER]),
        "frontdesk": factories.make_user(username="f", roles=[roles.FRONTDESK]),
        "technician": factories.make_user(username="t", roles=[roles.TECHNICIAN]),
        "viewer": factories.make_user(username="v", roles=[roles.VIEWER]),
    }
    other_technician = factories.make_user(username="t2", roles=[roles.TECHNICIAN])
    users["customer"] = customer = factories.make_customer()
    lonely = factories.make_customer()  # no tickets, so it may be deactivated
    own = factories.make_ticket(
        customer=customer,
        tech=users["technician"],
        status="ready" if variant == "own-collect" else None,
    )
    other = factories.make_ticket(customer=customer, tech=other_technician)
    path = template.format(
        customer_id=lonely.pk, ticket_id=(other if variant == "other" else own).pk
    )

    client = _client_for(caller, users)
    body = _body(method, template, variant, users)
    response = (
        getattr(client, method.lower())(path, body)
        if body
        else getattr(client, method.lower())(path)
    )

    assert response.status_code == expected, response.content
    if expected >= 400:
        error = response.json()
        assert error["code"] == {401: "UNAUTHORIZED", 403: "FORBIDDEN"}[expected]
        assert error["statusCode"] == expected


def _api_url_patterns():
    """(route, name) of every URL the API's resolver serves."""
    found = []

    def walk(patterns, prefix, inside_api):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    inside_api or pattern.namespace == "api",
                )
            elif isinstance(pattern, URLPattern) and inside_api:
                found.append((prefix + str(pattern.pattern), pattern.name))

    walk(get_resolver().url_patterns, "", False)
    assert found, "the API's URLs were not found under the 'api' namespace"
    return found


def test_every_api_operation_is_in_the_matrix():
    in_table = {(method, path) for method, path, _ in MATRIX}
    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    missing = operations - in_table
    assert not missing, f"operations without a row in MATRIX: {sorted(missing)}"

    # URLs outside the schema (the schema itself, the docs) and any future route: each
    # route of the resolver must appear among the table's paths.
    table_routes = {
        path.removeprefix("/").replace("{", "<").replace("}", ">") for _, path in in_table
    }
    # api-root is the JSON 404 for "/api/" itself, not an operation.
    routes = {route for route, name in _api_url_patterns() if name != "api-root"}
    normalised = {route.replace("<int:", "<") for route in routes}
    assert normalised <= table_routes, f"routes without a row: {sorted(normalised - table_routes)}"
