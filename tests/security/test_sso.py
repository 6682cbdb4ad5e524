"""Single sign-on end to end against a real OpenID Connect provider on loopback
(oidc-provider-mock: RS256, JWKS, discovery, PKCE, nonce), driven by Django's test client.

The browser's part is played by hand: our /accounts/oidc/authenticate/ answers with a
redirect to the provider, the "user" signs in there by POSTing their subject, the provider
redirects back with a code, and the test client follows that to our callback, which talks to
the provider over real HTTP (token, JWKS, userinfo).
"""

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.contrib.auth.models import Group

from accounts import oidc, roles
from accounts.models import User
from core.models import ActivityLog
from tests.factories import make_user

CLIENT_ID = "repairshop-test"


@pytest.fixture
def sso(settings, provider, db):
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = "any-secret"
    settings.OIDC_OP_ISSUER = provider
    settings.OIDC_PROVIDER_NAME = "Shop Login"
    for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS", "LOGOUT"):
        setattr(settings, f"OIDC_OP_{name}_ENDPOINT", "")
    oidc.forget_discovery()
    yield provider
    oidc.forget_discovery()


def set_claims(provider, sub, claims):
    response = requests.put(f"{provider}/users/{sub}", json=claims, timeout=5)
    assert response.status_code == 204


def start(client, next_url=None):
    """Our redirect to the provider's authorize endpoint."""
    path = "/accounts/oidc/authenticate/"
    response = client.get(path + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302
    return response["Location"]


def provider_login(authorize_url, sub):
    """The user signs in at the provider; returns the callback URL it sends them back to."""
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def callback(client, callback_url, **tamper):
    parts = urlsplit(callback_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(tamper)
    return client.get(parts.path, query)


def sso_login(client, sub, **tamper):
    return callback(client, provider_login(start(client), sub), **tamper)


def group_names(user):
    return sorted(user.groups.values_list("name", flat=True))


def test_login_page_offers_the_provider(client, sso):
    body = client.get("/accounts/login/").content.decode()
    assert "Sign in with Shop Login" in body
    assert 'name="password"' in body  # the local form is still there


def test_authorize_request_uses_pkce_state_and_nonce(client, sso):
    url = start(client)
    assert url.startswith(f"{sso}/oauth2/authorize?")
    params = parse_qs(urlsplit(url).query)
    assert params["client_id"] == [CLIENT_ID]
    assert params["response_type"] == ["code"]
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["state"][0]) >= 32 and len(params["nonce"][0]) >= 32


def test_first_login_creates_the_technician_who_lands_on_the_queue(client, sso):
    response = sso_login(client, "tess-sub")
    assert response.status_code == 302
    user = User.objects.get(oidc_issuer=sso, oidc_subject="tess-sub")
    assert group_names(user) == [roles.TECHNICIAN]
    assert user.email == "tess@shop.test"
    assert user.first_name == "Tess"
    assert not user.has_usable_password()
    assert client.session["_auth_user_id"] == str(user.pk)
    # Follow the way a browser would: home -> the technician's queue.
    final = client.get(response["Location"], follow=True)
    assert final.status_code == 200
    assert final.request["PATH_INFO"] == "/tickets/queue/"
    assert ActivityLog.objects.filter(action="auth:login", actor=user).exists()
    change = ActivityLog.objects.get(action="auth:sso_roles_changed", actor=user)
    assert change.metadata["roles"] == {"old": [], "new": [roles.TECHNICIAN]}


def test_later_login_with_changed_roles_updates_them(client, sso):
    sso_login(client, "tess-sub")
    client.post("/accounts/logout/")
    set_claims(sso, "riley-sub", {"email": "riley@shop.test", "roles": ["technician", "wizard"]})
    sso_login(client, "riley-sub")
    riley = User.objects.get(oidc_subject="riley-sub")
    assert group_names(riley) == [roles.TECHNICIAN]
    client.post("/accounts/logout/")

    set_claims(sso, "riley-sub", {"email": "riley@shop.test", "roles": ["frontdesk", "viewer"]})
    response = sso_login(client, "riley-sub")
    assert response.status_code == 302
    riley.refresh_from_db()
    assert group_names(riley) == [roles.FRONTDESK, roles.VIEWER]
    changes = ActivityLog.objects.filter(action="auth:sso_roles_changed", actor=riley)
    assert [entry.metadata["roles"]["new"] for entry in changes.order_by("id")] == [
        [roles.TECHNICIAN],
        [roles.FRONTDESK, roles.VIEWER],
    ]
    assert changes.order_by("id").first().metadata["unknown"] == ["wizard"]


def test_tampered_state_creates_no_session(client, sso):
    response = sso_login(client, "tess-sub", state="forged-state-value")
    assert response.status_code == 403
    assert "Sign-in failed" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(oidc_subject="tess-sub").exists()
    failed = ActivityLog.objects.get(action="auth:login_failed")
    assert failed.metadata["method"] == "sso"


def test_tampered_nonce_creates_no_session(client, sso):
    authorize_url = start(client)
    parts = urlsplit(authorize_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["nonce"] = "attacker-chosen-nonce-0123456789abcdef"
    tampered = urlunsplit(parts._replace(query=urlencode(query)))
    response = callback(client, provider_login(tampered, "tess-sub"))
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(oidc_subject="tess-sub").exists()


def test_replayed_callback_creates_no_second_session(client, sso):
    callback_url = provider_login(start(client), "tess-sub")
    assert callback(client, callback_url).status_code == 302
    client.post("/accounts/logout/")
    replay = callback(client, callback_url)
    assert replay.status_code == 403
    assert "_auth_user_id" not in client.session


def test_wrong_audience_is_refused(client, sso, settings):
    callback_url = provider_login(start(client), "tess-sub")
    # The ID token was issued to CLIENT_ID; this relying party is now someone else.
    settings.OIDC_RP_CLIENT_ID = "another-client"
    response = callback(client, callback_url)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_wrong_issuer_is_refused(client, sso, settings):
    # Endpoints reached through 127.0.0.1: the provider then signs tokens with that issuer,
    # not the configured http://localhost:... one.
    other = sso.replace("localhost", "127.0.0.1")
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{other}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{other}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{other}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{other}/jwks"
    settings.OIDC_OP_LOGOUT_ENDPOINT = f"{other}/oauth2/end_session"
    response = sso_login(client, "tess-sub")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_second_identity_with_same_email_does_not_get_the_account(client, sso, db):
    manager = make_user(username="boss", email="boss@shop.test", roles=[roles.MANAGER])
    set_claims(sso, "impostor-sub", {"email": "BOSS@shop.test", "roles": ["viewer"]})
    response = sso_login(client, "impostor-sub")
    assert response.status_code == 302
    impostor = User.objects.get(oidc_subject="impostor-sub")
    assert impostor.pk != manager.pk
    assert client.session["_auth_user_id"] == str(impostor.pk)
    assert impostor.email == ""  # the email stays the manager's
    assert group_names(impostor) == [roles.VIEWER]
    manager.refresh_from_db()
    assert manager.oidc_subject == "" and group_names(manager) == [roles.MANAGER]


def test_same_subject_from_another_issuer_is_another_user(client, sso, db):
    elsewhere = make_user(username="tess-sub", email="other@shop.test")
    elsewhere.oidc_issuer, elsewhere.oidc_subject = "https://other-idp.test", "tess-sub"
    elsewhere.save()
    sso_login(client, "tess-sub")
    user = User.objects.get(oidc_issuer=sso, oidc_subject="tess-sub")
    assert user.pk != elsewhere.pk
    assert user.username != "tess-sub"  # taken: a suffix keeps usernames unique


def test_user_without_a_known_role_sees_no_access_page(client, sso):
    response = sso_login(client, "nobody-sub")
    assert response.status_code == 403
    body = response.content.decode()
    assert "No access" in body and "no role" in body
    assert "_auth_user_id" not in client.session
    nobody = User.objects.get(oidc_subject="nobody-sub")
    assert group_names(nobody) == []
    assert ActivityLog.objects.filter(action="auth:sso_no_role", actor=nobody).exists()


def test_role_removed_at_the_provider_takes_the_access_away(client, sso):
    set_claims(sso, "gone-sub", {"email": "gone@shop.test", "roles": ["manager"]})
    sso_login(client, "gone-sub")
    client.post("/accounts/logout/")
    set_claims(sso, "gone-sub", {"email": "gone@shop.test", "roles": ["janitor"]})
    response = sso_login(client, "gone-sub")
    assert response.status_code == 403
    assert group_names(User.objects.get(oidc_subject="gone-sub")) == []


def test_deactivated_sso_user_cannot_sign_in(client, sso):
    sso_login(client, "tess-sub")
    client.post("/accounts/logout/")
    User.objects.filter(oidc_subject="tess-sub").update(is_active=False)
    response = sso_login(client, "tess-sub")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session_and_goes_to_the_providers_end_session(client, sso):
    sso_login(client, "tess-sub")
    old_cookie = client.cookies["sessionid"].value
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{sso}/oauth2/end_session"
    params = parse_qs(target.query)
    assert params["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert params["id_token_hint"][0].count(".") == 2
    assert "_auth_user_id" not in client.session
    client.cookies["sessionid"] = old_cookie
    assert client.get("/accounts/password/").status_code == 302


def test_local_user_logout_stays_local(client, sso, technician):
    client.force_login(technician)
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"


def test_callback_is_a_login_attempt_for_the_ip_limit(client, sso, settings):
    settings.RATE_LIMIT_LOGIN_IP = "2/m"
    for _ in range(2):
        client.get("/accounts/oidc/callback/", {"code": "x", "state": "y"})
    response = client.get("/accounts/oidc/callback/", {"code": "x", "state": "y"})
    assert response.status_code == 429


def test_provider_down_gives_a_friendly_page(client, settings, db):
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9"  # nothing listens on the discard port
    oidc.forget_discovery()
    response = client.get("/accounts/oidc/authenticate/")
    assert response.status_code == 503
    assert "unavailable" in response.content.decode()


def test_sso_off_without_client_id(client, settings, db):
    settings.OIDC_RP_CLIENT_ID = ""
    assert client.get("/accounts/oidc/authenticate/").status_code == 404
    assert "Sign in with" not in client.get("/accounts/login/").content.decode()


def test_groups_exist_for_every_role(db):
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)


def test_unverified_email_is_not_taken(client, sso):
    set_claims(
        sso,
        "unverified-sub",
        {"email": "someone@shop.test", "email_verified": False, "roles": ["viewer"]},
    )
    assert sso_login(client, "unverified-sub").status_code == 302
    assert User.objects.get(oidc_subject="unverified-sub").email == ""
