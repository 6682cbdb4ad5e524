"""API authentication (docs/api.md §1, §6): bearer tokens, the session with CSRF, and the
schema/docs behind a login when DEBUG is off."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.crypto import get_random_string

from accounts.models import ApiToken, hash_token
from tests import factories
from tests.helpers import ApiClient, assert_error, customer_body

pytestmark = pytest.mark.django_db


def _token_row(plain: str) -> ApiToken:
    return ApiToken.objects.get(token_hash=hash_token(plain))


def test_bearer_token_authenticates_with_the_users_roles(manager):
    token = factories.make_token(manager)
    response = ApiClient(token).get("/api/customers")
    assert response.status_code == 200


def test_missing_credentials_is_401_envelope(anonymous):
    response = anonymous.get("/api/customers")
    body = assert_error(response, 401, "UNAUTHORIZED")
    assert "field" not in body and "details" not in body
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(db):
    assert_error(ApiClient("rs_nope").get("/api/customers"), 401, "UNAUTHORIZED")


def test_empty_bearer_is_401(db):
    response = Client().get("/api/customers", headers={"Authorization": "Bearer "})
    assert_error(response, 401, "UNAUTHORIZED")


def test_revoked_token_is_401(manager):
    token = factories.make_token(manager)
    ApiToken.objects.filter(user=manager).update(revoked_at=timezone.now())
    assert_error(ApiClient(token).get("/api/customers"), 401, "UNAUTHORIZED")


def test_token_of_inactive_user_is_401(manager):
    token = factories.make_token(manager)
    manager.is_active = False
    manager.save()
    assert_error(ApiClient(token).get("/api/customers"), 401, "UNAUTHORIZED")


def test_token_acts_with_the_users_current_roles(manager):
    token = factories.make_token(manager)
    manager.groups.clear()
    assert_error(ApiClient(token).get("/api/customers"), 403, "FORBIDDEN")


@pytest.mark.parametrize("param", ["token", "access_token", "api_key"])
def test_token_in_query_string_is_refused(manager, param):
    token = factories.make_token(manager)
    # Even with a valid header: a token in a URL leaks into logs, so the request is refused.
    response = ApiClient(token).get("/api/customers", **{param: token})
    body = assert_error(response, 401, "UNAUTHORIZED")
    assert "header" in body["message"]


def test_token_like_value_in_query_string_is_refused(manager):
    token = factories.make_token(manager)
    response = ApiClient().get("/api/customers", search=token)
    assert_error(response, 401, "UNAUTHORIZED")


def test_bad_token_is_not_rescued_by_the_session(manager):
    client = Client()
    client.force_login(manager)
    response = client.get("/api/customers", headers={"Authorization": "Bearer rs_wrong"})
    assert_error(response, 401, "UNAUTHORIZED")


# ---- last_used_at -------------------------------------------------------------------------
def test_first_use_sets_last_used_at(manager):
    token = factories.make_token(manager)
    assert _token_row(token).last_used_at is None
    ApiClient(token).get("/api/customers")
    assert _token_row(token).last_used_at is not None


def test_last_used_at_is_written_at_most_once_a_minute(manager):
    token = factories.make_token(manager)
    recently = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.filter(user=manager).update(last_used_at=recently)
    client = ApiClient(token)
    client.get("/api/customers")
    assert _token_row(token).last_used_at == recently


def test_last_used_at_is_refreshed_after_a_minute(manager):
    token = factories.make_token(manager)
    long_ago = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(user=manager).update(last_used_at=long_ago)
    ApiClient(token).get("/api/customers")
    assert _token_row(token).last_used_at > long_ago + timedelta(minutes=4)


def test_a_fresh_token_costs_no_write(manager):
    token = factories.make_token(manager)
    ApiToken.objects.filter(user=manager).update(last_used_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        ApiClient(token).get("/api/customers")
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]


# ---- session ---------------------------------------------------------------------------------
def test_session_authenticates_reads(manager):
    client = Client()
    client.force_login(manager)
    assert client.get("/api/customers").status_code == 200


def test_session_write_without_csrf_token_is_403(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    response = client.post("/api/customers", data=customer_body(), content_type="application/json")
    body = assert_error(response, 403, "FORBIDDEN")
    assert "CSRF" in body["message"]


def test_session_write_with_csrf_token_succeeds(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    # What a page gives the browser: the CSRF cookie, echoed back in X-CSRFToken.
    client.cookies["csrftoken"] = secret = get_random_string(32)
    response = client.post(
        "/api/customers",
        data=customer_body(),
        content_type="application/json",
        headers={"X-CSRFToken": secret},
    )
    assert response.status_code == 201, response.content


def test_anonymous_write_with_csrf_enforced_is_401_not_403(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/customers", data=customer_body(), content_type="application/json")
    assert_error(response, 401, "UNAUTHORIZED")


def test_bearer_write_needs_no_csrf(manager):
    token = factories.make_token(manager)
    client = ApiClient(token, client=Client(enforce_csrf_checks=True))
    assert client.post("/api/customers", customer_body()).status_code == 201


def test_session_of_inactive_user_is_401(manager):
    client = Client()
    client.force_login(manager)
    manager.is_active = False
    manager.save()
    assert_error(client.get("/api/customers"), 401, "UNAUTHORIZED")


# ---- schema and docs ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs"])
def test_schema_and_docs_need_login_when_debug_is_off(settings, path, manager):
    settings.DEBUG = False
    assert_error(Client().get(path), 401, "UNAUTHORIZED")
    assert ApiClient(factories.make_token(manager)).get(path).status_code == 200
    session = Client()
    session.force_login(manager)
    assert session.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs"])
def test_schema_and_docs_are_open_in_debug(settings, path, db):
    settings.DEBUG = True
    assert Client().get(path).status_code == 200


def test_schema_declares_both_ways_in(manager):
    schema = ApiClient(factories.make_token(manager)).get("/api/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerTokenAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["SessionCsrfAuth"]["in"] == "cookie"
