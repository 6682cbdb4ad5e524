"""Local sign-in and sign-out: session rotation, the security log and the login limits."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from core.models import ActivityLog
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"


def post_login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_urls_are_named():
    assert reverse("login") == LOGIN
    assert reverse("logout") == LOGOUT


def test_login_page_shows_only_local_form_without_sso(client, db, settings):
    settings.OIDC_RP_CLIENT_ID = ""
    response = client.get(LOGIN)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body
    assert "Sign in with" not in body


def test_login_success_logs_in_and_records_activity(client, technician, caplog):
    caplog.set_level(logging.INFO, logger="repairshop.security")
    response = post_login(client, "tech", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(technician.pk)
    entry = ActivityLog.objects.get(action="auth:login")
    assert entry.actor == technician
    assert entry.metadata["method"] == "password"
    assert PASSWORD not in str(entry.metadata)
    assert "auth:login" in caplog.text
    assert PASSWORD not in caplog.text


def test_failed_login_is_logged_without_password(client, technician, caplog):
    caplog.set_level(logging.INFO, logger="repairshop.security")
    response = post_login(client, "tech", "wrong-password-123")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    entry = ActivityLog.objects.get(action="auth:login_failed")
    assert entry.actor is None
    assert entry.metadata["username"] == "tech"
    assert "wrong-password-123" not in str(entry.metadata)
    assert "wrong-password-123" not in caplog.text
    assert "auth:login_failed" in caplog.text


def test_session_key_and_csrf_token_rotate_at_login(technician):
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    csrf_before = client.cookies["csrftoken"].value
    # An attacker-planted session (fixation): make the client carry a known session key.
    session = client.session
    session["planted"] = True
    session.save()
    planted_key = session.session_key
    client.cookies["sessionid"] = planted_key
    response = client.post(
        LOGIN, {"username": "tech", "password": PASSWORD, "csrfmiddlewaretoken": csrf_before}
    )
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != planted_key
    assert client.cookies["csrftoken"].value != csrf_before
    # The planted key does not carry the login.
    attacker = Client()
    attacker.cookies["sessionid"] = planted_key
    assert "_auth_user_id" not in attacker.session


def test_logout_needs_post(client, technician):
    client.force_login(technician)
    assert client.get(LOGOUT).status_code == 405


def test_logout_invalidates_old_session_cookie(client, technician):
    post_login(client, "tech", PASSWORD)
    old_cookie = client.cookies["sessionid"].value
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert ActivityLog.objects.filter(action="auth:logout", actor=technician).exists()
    replay = Client()
    replay.cookies["sessionid"] = old_cookie
    assert "_auth_user_id" not in replay.session
    response = replay.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "\x01https://evil.example",
    ],
)
def test_next_never_redirects_off_site(client, technician, target):
    response = client.post(LOGIN, {"username": "tech", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert "evil" not in response["Location"]
    assert "javascript" not in response["Location"]


def test_next_on_site_is_followed(client, technician):
    response = client.post(
        f"{LOGIN}?next=/accounts/password/", {"username": "tech", "password": PASSWORD}
    )
    assert response["Location"] == "/accounts/password/"


def test_inactive_user_cannot_log_in(client, technician):
    technician.is_active = False
    technician.save()
    response = post_login(client, "tech", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_signed_in_user_visiting_login_goes_home(client, technician):
    client.force_login(technician)
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_signed_in_user_sent_back_to_login_is_told_why(client, technician):
    client.force_login(technician)
    response = client.get(f"{LOGIN}?next=/admin/")
    assert response.status_code == 200
    assert "needs another account" in response.content.decode()
