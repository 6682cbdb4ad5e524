"""Contract §8 login limits: per client IP and per username, keyed as stated."""

import pytest

from core.models import ActivityLog
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"


@pytest.fixture
def small_limits(settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATE_LIMIT_LOGIN_IP = "3/m"
    settings.RATE_LIMIT_LOGIN_USER = "2/15m"
    return settings


def attempt(client, username="nobody", password="wrong-password", ip="10.0.0.1", **headers):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers
    )


def test_fourth_attempt_from_one_ip_is_throttled(client, db, small_limits, caplog):
    for n in range(3):
        assert attempt(client, username=f"user{n}").status_code == 200
    response = attempt(client, username="user9")
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.content.decode()
    assert f"try again in {retry_after} second" in body
    assert "auth:login_throttled limit=login-ip" in caplog.text
    # Refused attempts are not written to the database (anyone could make it grow).
    assert not ActivityLog.objects.filter(action="auth:login_throttled").exists()
    assert ActivityLog.objects.filter(action="auth:login_failed").count() == 3


def test_other_ip_is_not_throttled(client, db, small_limits):
    for n in range(4):
        attempt(client, username=f"user{n}", ip="10.0.0.1")
    assert attempt(client, username="user9", ip="10.0.0.2").status_code == 200


def test_spoofed_forwarded_for_does_not_reset_the_limit(client, db, small_limits):
    small_limits.TRUST_X_FORWARDED_FOR = False
    for n in range(3):
        attempt(client, username=f"user{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = attempt(client, username="user9", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429


def test_trusted_proxy_header_keys_on_right_most_entry(client, db, small_limits):
    small_limits.TRUST_X_FORWARDED_FOR = True
    # All through one proxy (same REMOTE_ADDR); the client varies the left part it controls.
    for n in range(3):
        attempt(client, username=f"u{n}", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 203.0.113.7")
    spoofed = attempt(client, username="u9", HTTP_X_FORWARDED_FOR="6.6.6.9, 203.0.113.7")
    assert spoofed.status_code == 429
    # Another real client behind the same proxy is not throttled.
    other = attempt(client, username="u9", HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 200


def test_failed_logins_for_a_username_lock_it_from_every_ip(client, technician, small_limits):
    assert attempt(client, username="tech", ip="10.0.0.1").status_code == 200
    assert attempt(client, username="TECH ", ip="10.0.0.2").status_code == 200
    # Even the right password is refused now, from a fresh address.
    response = attempt(client, username="tech", password=PASSWORD, ip="10.0.0.3")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another username is unaffected.
    assert attempt(client, username="someone", ip="10.0.0.4").status_code == 200


def test_successful_logins_do_not_count_against_the_username(client, technician, small_limits):
    for n in range(3):
        response = attempt(client, username="tech", password=PASSWORD, ip=f"10.0.1.{n}")
        assert response.status_code == 302
        client.post("/accounts/logout/")


def test_limits_off_with_ratelimit_enable_false(client, db, small_limits):
    small_limits.RATELIMIT_ENABLE = False
    for _ in range(6):
        assert attempt(client).status_code == 200


@pytest.mark.urls("tests.security.extra_urls")
def test_a_page_hitting_a_limit_gets_the_429_page(client, db):
    response = client.get("/test-only/limited/")
    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert "Try again in 42 seconds" in response.content.decode()
