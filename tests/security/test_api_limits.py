"""Contract §8 API limits: reads and writes per user, unauthenticated requests per client IP;
429 RATE_LIMITED with Retry-After and retryAfter. Also: tokens only in the header."""

import logging

import pytest

from accounts import roles
from core.models import ActivityLog
from tests.factories import make_token, make_user


@pytest.fixture
def small_limits(settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATE_LIMIT_API_READ = "3/m"
    settings.RATE_LIMIT_API_WRITE = "2/m"
    settings.RATE_LIMIT_API_ANON = "2/m"
    return settings


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_rate_limited(response):
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert body["statusCode"] == 429
    assert 1 <= body["retryAfter"] <= 60
    assert response["Retry-After"] == str(body["retryAfter"])


def test_reads_are_limited_per_user(client, frontdesk, manager, small_limits):
    token = make_token(frontdesk)
    for _ in range(3):
        assert client.get("/api/customers", **bearer(token)).status_code == 200
    assert_rate_limited(client.get("/api/customers", **bearer(token)))
    # Another user has their own allowance; the same user's session shares the token's.
    assert client.get("/api/customers", **bearer(make_token(manager))).status_code == 200
    client.force_login(frontdesk)
    assert_rate_limited(client.get("/api/tickets"))


def test_writes_are_limited_apart_from_reads(client, frontdesk, small_limits):
    token = make_token(frontdesk)
    headers = {**bearer(token), "content_type": "application/json"}
    for _ in range(2):
        assert client.post("/api/customers", "{}", **headers).status_code == 400
    assert_rate_limited(client.post("/api/customers", "{}", **headers))
    assert_rate_limited(client.patch("/api/customers/1", "{}", **headers))
    # Reads still have their own budget.
    assert client.get("/api/customers", **bearer(token)).status_code == 200


def test_anonymous_requests_are_limited_per_ip(client, db, small_limits):
    for _ in range(2):
        assert client.get("/api/customers", REMOTE_ADDR="10.1.1.1").status_code == 401
    assert_rate_limited(client.get("/api/customers", REMOTE_ADDR="10.1.1.1"))
    # Bad tokens count as anonymous: guessing tokens is throttled too.
    assert_rate_limited(client.get("/api/customers", REMOTE_ADDR="10.1.1.1", **bearer("rs_guess")))
    assert client.get("/api/customers", REMOTE_ADDR="10.1.1.2").status_code == 401


def test_spoofed_forwarded_for_does_not_reset_the_anonymous_limit(client, db, small_limits):
    for n in range(2):
        client.get("/api/customers", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    response = client.get("/api/customers", HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert_rate_limited(response)


def test_limits_can_be_switched_off(client, frontdesk, small_limits):
    small_limits.RATELIMIT_ENABLE = False
    token = make_token(frontdesk)
    for _ in range(6):
        assert client.get("/api/customers", **bearer(token)).status_code == 200


@pytest.mark.parametrize("param", ["access_token", "token", "api_key"])
def test_token_in_query_string_is_refused(client, frontdesk, param):
    token = make_token(frontdesk)
    response = client.get(f"/api/customers?{param}={token}")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    # Even with a valid header beside it: the token has leaked into a URL.
    response = client.get(f"/api/customers?{param}={token}", **bearer(token))
    assert response.status_code == 401


def test_token_value_in_any_parameter_is_refused(client, frontdesk):
    token = make_token(frontdesk)
    assert client.get(f"/api/customers?search={token}", **bearer(token)).status_code == 401


def test_token_use_is_logged_without_the_token(client, db, caplog):
    caplog.set_level(logging.INFO, logger="repairshop.security")
    user = make_user(username="robot", roles=[roles.VIEWER])
    token = make_token(user, name="ci export")
    for _ in range(3):
        assert client.get("/api/customers", **bearer(token)).status_code == 200
    entries = ActivityLog.objects.filter(action="auth:token_used", actor=user)
    assert entries.count() == 1  # once a minute a token, not once a request
    assert entries.get().metadata == {"name": "ci export"}
    client.get("/api/customers", **bearer(token + "x"))
    assert "auth:token_rejected" in caplog.text
    assert token not in caplog.text
    assert token not in str(list(ActivityLog.objects.values_list("metadata", flat=True)))


def test_inactive_users_token_stops_working(client, frontdesk):
    token = make_token(frontdesk)
    assert client.get("/api/customers", **bearer(token)).status_code == 200
    frontdesk.is_active = False
    frontdesk.save()
    assert client.get("/api/customers", **bearer(token)).status_code == 401
