"""HEAD wherever GET works (load balancers probe with it): /healthz, the API's GET
operations and the pages answer the GET's status and headers, without a body."""

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import RequestFactory

from repairshop.api import api
from tests import factories
from tests.helpers import assert_error

# Headers that differ between any two requests.
PER_REQUEST = {"X-Request-ID", "Content-Length", "Date", "Expires", "Set-Cookie"}


def raw_wsgi(method: str, path: str, headers: dict | None = None):
    """(status, headers, body) as a WSGI server gets them: through every middleware, but
    without the test client, which drops a HEAD body by itself."""
    environ = getattr(RequestFactory(), method.lower())(path, headers=headers or {}).environ
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(response_headers)

    # As the test client does: the test's transaction must outlive the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(environ, start_response)
        body = b"".join(result)
        result.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return started["status"], started["headers"], body


def assert_head_like_get(path: str, headers: dict | None = None) -> int:
    get_status, get_headers, get_body = raw_wsgi("GET", path, headers)
    head_status, head_headers, head_body = raw_wsgi("HEAD", path, headers)
    assert head_status == get_status, (path, head_status, get_status)
    assert head_body == b"", path
    assert get_body, path
    assert {k: v for k, v in head_headers.items() if k not in PER_REQUEST} == {
        k: v for k, v in get_headers.items() if k not in PER_REQUEST
    }, path
    # The length is the GET's (list bodies carry a timestamp and a time: a few bytes vary).
    assert abs(int(head_headers["Content-Length"]) - len(get_body)) <= 8, path
    return head_status


# ---- /healthz -----------------------------------------------------------------------------------
def test_healthz_answers_head_as_get(db):
    assert assert_head_like_get("/healthz") == 200
    _, headers, _ = raw_wsgi("HEAD", "/healthz")
    assert int(headers["Content-Length"]) == len(b'{"status": "ok", "database": "ok"}')


def test_healthz_still_refuses_writes(client, db):
    assert client.post("/healthz").status_code == 405


# ---- the API ------------------------------------------------------------------------------------
@pytest.fixture
def bearer(manager):
    return {"Authorization": f"Bearer {factories.make_token(manager)}"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/customers",
        "/api/customers?search=grace&pageSize=5",
        "/api/customers/{customer}",
        "/api/tickets",
        "/api/tickets/{ticket}?includeCustomer=true",
        "/api/openapi.json",
    ],
)
def test_api_get_operations_answer_head(path, bearer, customer):
    ticket = factories.make_ticket(customer=customer)
    path = path.format(customer=customer.pk, ticket=ticket.pk)
    assert assert_head_like_get(path, bearer) == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/customers/999999", 404),
        ("/api/customers?pageSize=0", 400),
        ("/api/nowhere", 404),
    ],
)
def test_api_head_errors_are_the_gets(path, status, bearer):
    assert assert_head_like_get(path, bearer) == status


def test_api_head_without_credentials_is_401_like_get(db):
    assert assert_head_like_get("/api/customers") == 401


def test_head_on_a_post_only_path_is_405(as_manager, customer):
    ticket = factories.make_ticket(customer=customer)
    response = as_manager.client.head(
        f"/api/tickets/{ticket.pk}/status", headers=as_manager.headers
    )
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_405_lists_head_where_get_works(as_manager, customer):
    response = as_manager.put("/api/customers", {})
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response["Allow"].split(", ")) == {"GET", "HEAD", "POST"}
    response = as_manager.put(f"/api/customers/{customer.pk}", {})
    assert set(response["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


def test_head_runs_the_get_operation_not_a_write(as_manager, customer):
    # HEAD stands for GET: the customer is read, nothing is written or deleted.
    response = as_manager.client.head(f"/api/customers/{customer.pk}", headers=as_manager.headers)
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.active


def test_openapi_schema_has_no_head_operations(db):
    schema = api.get_openapi_schema()
    methods = {method for operations in schema["paths"].values() for method in operations}
    assert methods == {"get", "post", "patch", "delete"}
    assert schema["paths"]["/api/customers"]["get"]["operationId"] == "listCustomers"


# ---- the pages ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/customers/",
        "/customers/new/",
        "/customers/{customer}/",
        "/customers/{customer}/edit/",
        "/tickets/",
        "/tickets/new/",
        "/tickets/{ticket}/",
    ],
)
def test_pages_answer_head_as_get(path, client, manager, customer):
    ticket = factories.make_ticket(customer=customer)
    path = path.format(customer=customer.pk, ticket=ticket.pk)
    if not path.startswith("/accounts/"):
        client.force_login(manager)
    get = client.get(path)
    head = client.head(path)
    assert get.status_code == 200, path
    assert head.status_code == get.status_code, path
    assert head["Content-Type"] == get["Content-Type"]
    assert head.content == b""


def test_home_redirect_answers_head(client, manager):
    client.force_login(manager)
    response = client.head("/")
    assert response.status_code == 302
    assert response["Location"] == "/tickets/"


def test_page_posts_still_refuse_head_and_get(client, manager, customer):
    client.force_login(manager)
    assert client.head(f"/customers/{customer.pk}/deactivate/").status_code == 405
