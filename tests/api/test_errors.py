"""The one error envelope (docs/api.md §3): every way a request can fail under /api/."""

import gzip
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
import sentry_sdk
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404
from django.test import Client, RequestFactory
from django_ratelimit.exceptions import Ratelimited

from core.errors import DomainError
from core.request_id import current_request_id
from ops.sentry import init_sentry
from repairshop.api import handle_exception
from tests import factories
from tests.helpers import assert_error, customer_body

pytestmark = pytest.mark.django_db


# ---- URLs and methods --------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/", "/api", "/api/customers/abc", "/api/customers/", "/api/x/y/z"]
)
def test_unknown_api_url_is_404_envelope_for_anyone(path, as_manager, anonymous):
    assert_error(as_manager.get(path), 404, "NOT_FOUND")
    assert_error(anonymous.get(path), 404, "NOT_FOUND")
    assert_error(anonymous.post(path, {}), 404, "NOT_FOUND")


def test_missing_object_is_404(as_manager):
    body = assert_error(as_manager.get("/api/customers/987654"), 404, "NOT_FOUND")
    assert body["message"] == "Customer not found"
    assert_error(as_manager.get("/api/tickets/987654"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # HEAD works wherever GET does (tests/api/test_head.py).
        ("put", "/api/customers", {"GET", "HEAD", "POST"}),
        ("delete", "/api/tickets", {"GET", "HEAD", "POST"}),
        ("put", "/api/customers/1", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("get", "/api/tickets/1/status", {"POST"}),
    ],
)
def test_wrong_method_is_405_envelope_with_allow(method, path, allowed, as_manager):
    response = getattr(as_manager, method)(path)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response["Allow"].split(",")} == allowed


# ---- request ids -------------------------------------------------------------------------
def test_inbound_request_id_is_reused_in_header_and_body(anonymous):
    response = anonymous.get("/api/customers", headers={"X-Request-ID": "trace-42.a_b"})
    assert response["X-Request-ID"] == "trace-42.a_b"
    assert response.json()["requestId"] == "trace-42.a_b"


def test_success_metadata_carries_the_request_id(as_manager):
    response = as_manager.get("/api/customers", headers={"X-Request-ID": "abc-1"})
    metadata = response.json()["metadata"]
    assert metadata["requestId"] == "abc-1" == response["X-Request-ID"]
    assert metadata["version"] == "1.0"
    assert metadata["timestamp"].endswith("+00:00")
    assert isinstance(metadata["responseTime"], float | int)


# ---- bodies ------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["{bad", "", "\xff", "[]", "null", '"text"', "42"])
def test_malformed_or_non_object_body_is_400(raw, as_manager):
    response = as_manager.post("/api/customers", raw=raw.encode("latin-1"))
    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/customers", customer_body(nickname="Countess")),
        ("patch", "/api/customers/{customer}", {"nickname": "Countess"}),
        ("post", "/api/tickets", {"customerId": 1, "title": "t", "description": "d", "x": 1}),
        ("patch", "/api/tickets/{ticket}", {"nickname": 1}),
        ("post", "/api/tickets/{ticket}/status", {"completed": True, "nickname": 1}),
    ],
)
def test_unknown_body_field_is_400_under_its_own_name(method, path, body, as_manager, customer):
    ticket = factories.make_ticket(customer=customer)
    path = path.format(customer=customer.pk, ticket=ticket.pk)
    unknown = next(k for k in body if k in ("nickname", "x"))
    response = getattr(as_manager, method)(path, body)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert unknown in error["details"], error
    assert error["details"][unknown] == ["Unknown field."]


def test_snake_case_field_names_are_unknown(as_manager):
    body = customer_body()
    body["first_name"] = body.pop("firstName")
    error = assert_error(as_manager.post("/api/customers", body), 400, "VALIDATION_ERROR")
    assert error["details"]["first_name"] == ["Unknown field."]
    assert error["details"]["firstName"] == ["This field is required."]


def test_wrong_json_types_are_400_not_coerced(as_manager, customer):
    error = assert_error(
        as_manager.post(
            "/api/tickets", {"customerId": str(customer.pk), "title": "t", "description": "d"}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "customerId" in error["details"]
    error = assert_error(
        as_manager.patch(f"/api/customers/{customer.pk}", {"active": "false"}),
        400,
        "VALIDATION_ERROR",
    )
    assert "active" in error["details"]


def test_service_validation_details_are_camel_case(as_manager):
    error = assert_error(
        as_manager.post("/api/customers", customer_body(firstName="   ", country="zz")),
        400,
        "VALIDATION_ERROR",
    )
    assert set(error["details"]) == {"firstName", "country"}
    assert error["field"] in error["details"]


def test_nul_byte_is_400_not_500(as_manager):
    error = assert_error(
        as_manager.post("/api/customers", customer_body(city="Lon\x00don")),
        400,
        "VALIDATION_ERROR",
    )
    assert "city" in error["details"]
    assert_error(as_manager.get("/api/customers", search="a\x00b"), 400, "VALIDATION_ERROR")


def test_error_body_never_holds_a_traceback(as_manager):
    response = as_manager.post("/api/customers", raw=b"{bad")
    assert "Traceback" not in response.content.decode()
    assert "Expecting" not in response.json()["message"]  # no parser internals either


# ---- the handler, fed real exceptions -----------------------------------------------------
@pytest.fixture
def api_request(db):
    request = RequestFactory().get("/api/customers")
    request.request_id = "req-1"
    return request


def _body(response):
    return json.loads(response.content)


def test_unexpected_exception_is_500_logged_without_traceback(api_request, caplog):
    try:
        {}["missing"]
    except KeyError as exc:
        with caplog.at_level(logging.ERROR, logger="repairshop.api"):
            response = handle_exception(api_request, exc)
    body = _body(response)
    assert response.status_code == 500
    assert body["code"] == "INTERNAL_ERROR" and body["requestId"] == "req-1"
    assert "missing" not in response.content.decode()
    record = next(r for r in caplog.records if r.name == "repairshop.api")
    assert record.exc_info and record.exc_info[0] is KeyError


def test_database_unreachable_is_503(api_request):
    # A real driver error: nothing listens on port 1.
    try:
        psycopg.connect("host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2")
    except psycopg.OperationalError as exc:
        response = handle_exception(api_request, exc)
    assert response.status_code == 503
    assert _body(response)["code"] == "DATABASE_ERROR"
    django_error = OperationalError("server closed the connection unexpectedly")
    assert handle_exception(api_request, django_error).status_code == 503


def test_rate_limited_is_429_with_retry_after(api_request):
    exc = Ratelimited()
    exc.retry_after = 17
    response = handle_exception(api_request, exc)
    body = _body(response)
    assert response.status_code == 429
    assert body["code"] == "RATE_LIMITED" and body["retryAfter"] == 17
    assert response["Retry-After"] == "17"
    bare = handle_exception(api_request, Ratelimited())
    assert bare.status_code == 429 and "retryAfter" not in _body(bare)


def test_permission_denied_and_404_map_to_envelope(api_request):
    assert _body(handle_exception(api_request, PermissionDenied()))["code"] == "FORBIDDEN"
    assert handle_exception(api_request, Http404()).status_code == 404


def test_django_validation_error_is_400_camel_case(api_request):
    exc = DjangoValidationError({"first_name": ["Too long."]})
    body = _body(handle_exception(api_request, exc))
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"] == {"firstName": ["Too long."]}


def test_domain_error_field_and_details_are_camel_case(api_request):
    exc = DomainError("INVALID_CUSTOMER", "Customer does not exist", field="customer_id")
    body = _body(handle_exception(api_request, exc))
    assert body["field"] == "customerId"
    assert body["details"] == {"customerId": ["Customer does not exist"]}
    assert body["statusCode"] == 400


def test_envelope_has_exactly_the_contract_keys(db):
    response = Client().get("/api/customers")
    assert set(response.json()) == {
        "message",
        "code",
        "statusCode",
        "timestamp",
        "requestId",
        "path",
    }


def test_body_over_the_upload_limit_is_400(as_manager, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = customer_body(notes="x" * 2000)
    error = assert_error(as_manager.post("/api/customers", body), 400, "VALIDATION_ERROR")
    assert error["field"] == "body"


def test_validation_messages_are_plain_words(as_manager):
    error = assert_error(
        as_manager.post("/api/customers", customer_body(firstName="x" * 101, active="yes")),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"]["firstName"] == ["Ensure this value has at most 100 characters."]
    assert error["details"]["active"] == ["Must be true or false."]
    error = assert_error(as_manager.get("/api/customers", pageSize="0"), 400, "VALIDATION_ERROR")
    assert error["details"] == {"pageSize": ["Must be at least 1."]}
    error = assert_error(as_manager.post("/api/customers", raw=b""), 400, "VALIDATION_ERROR")
    assert error["details"] == {"body": ["A JSON object is required as the request body."]}


def test_unexpected_exception_reaches_sentry_once_with_request_id(api_request):
    """A real SDK sending to a local HTTP sink standing in for Sentry."""
    received = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(body.decode())
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    init_sentry(dsn=f"http://key@127.0.0.1:{server.server_port}/1", environment="test")
    token = current_request_id.set("req-1")
    try:
        try:
            raise LookupError("inventory lookup failed")
        except LookupError as exc:
            response = handle_exception(api_request, exc)
        sentry_sdk.flush(timeout=5)
    finally:
        current_request_id.reset(token)
        sentry_sdk.init()  # no DSN: off again for the other tests
        server.shutdown()
    assert response.status_code == 500
    events = []
    for envelope in received:
        lines = envelope.split("\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    assert len(events) == 1, events  # the log record and capture_exception are one event
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "LookupError"
    assert event["tags"]["request_id"] == "req-1"
