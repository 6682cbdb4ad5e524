"""Session lifetime: deactivated users, idle timeout (without a write per request), password
change ending the other sessions."""

import time

from django.contrib.sessions.models import Session
from django.test import Client

from ops.security import LAST_SEEN_KEY
from tests.factories import PASSWORD, make_token

PAGE = "/accounts/password/"  # any page that needs a login


def logged_in(username="tech"):
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def set_last_seen(client, seconds_ago):
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - seconds_ago
    session.save()


def test_deactivated_users_session_ends_on_the_next_request(technician):
    client = logged_in()
    key = client.cookies["sessionid"].value
    assert client.get(PAGE).status_code == 200
    technician.is_active = False
    technician.save()
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/api/customers").status_code == 401


def test_deactivated_users_token_and_session_stop_together(technician):
    token = make_token(technician)
    client = logged_in()
    technician.is_active = False
    technician.save()
    assert client.get("/api/tickets").status_code == 401
    assert Client().get("/api/tickets", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_idle_session_expires(technician, settings):
    settings.SESSION_IDLE_TIMEOUT = 600
    client = logged_in()
    set_last_seen(client, 601)
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={PAGE}"
    assert "_auth_user_id" not in client.session


def test_idle_api_session_is_anonymous(technician, settings):
    settings.SESSION_IDLE_TIMEOUT = 600
    client = logged_in()
    set_last_seen(client, 601)
    assert client.get("/api/tickets").status_code == 401


def test_idle_htmx_request_redirects_the_whole_window(technician, settings):
    settings.SESSION_IDLE_TIMEOUT = 600
    client = logged_in()
    set_last_seen(client, 601)
    response = client.get("/tickets/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/accounts/login/"
    assert b"<html" not in response.content


def test_active_session_is_not_written_on_every_request(technician):
    client = logged_in()
    client.get(PAGE)
    key = client.cookies["sessionid"].value
    before = Session.objects.get(session_key=key)
    for _ in range(3):
        response = client.get(PAGE)
        assert response.status_code == 200
        assert "sessionid" not in response.cookies  # no Set-Cookie: the session was not saved
    after = Session.objects.get(session_key=key)
    assert (after.session_data, after.expire_date) == (before.session_data, before.expire_date)


def test_last_activity_is_refreshed_after_a_minute(technician, settings):
    settings.SESSION_IDLE_TIMEOUT = 600
    client = logged_in()
    set_last_seen(client, 590)  # close to the limit, but within it
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "sessionid" in response.cookies  # saved, with a fresh expiry
    assert int(time.time()) - client.session[LAST_SEEN_KEY] < 60


def test_password_change_ends_the_other_sessions_only(technician):
    laptop = logged_in()
    phone = logged_in()
    response = laptop.post(
        PAGE,
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-42",
            "new_password2": "a-new-long-passphrase-42",
        },
    )
    assert response.status_code == 200
    assert "Password changed" in response.content.decode()
    assert laptop.get(PAGE).status_code == 200
    response = phone.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_admin_login_goes_through_the_rate_limited_form(client, db):
    response = client.get("/admin/login/?next=/admin/customers/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fcustomers%2F"
    response = client.get("/admin/login/?next=https://evil.example/")
    assert "evil" not in response["Location"]
