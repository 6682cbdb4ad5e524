"""Headers and cookies on every route of the URL conf, CSRF on every unsafe route, and the
production settings a security review checks (`check --deploy`, HSTS, Secure cookies)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from core.models import ActivityLog
from customers.models import Customer
from tests.factories import PASSWORD
from tests.security.crawl import all_routes

BASE_DIR = Path(__file__).resolve().parents[2]
CSP_REQUIRED = {
    "default-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def csp_directives(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value
    return directives


def routes(site_data):
    return all_routes(
        customer=site_data["customer"], ticket=site_data["ticket"], user=site_data["user"]
    )


def assert_security_headers(response, url):
    assert response.status_code < 500, url
    assert response["X-Content-Type-Options"] == "nosniff", url
    assert response["Referrer-Policy"] == "same-origin", url
    assert response["X-Frame-Options"] == "DENY", url
    assert response.has_header("X-Request-ID"), url
    csp = csp_directives(response["Content-Security-Policy"])
    for name, value in CSP_REQUIRED.items():
        assert csp.get(name, "").split()[0] == value, (url, name, csp.get(name))
    script_src = csp.get("script-src", csp["default-src"])
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src, url


@pytest.mark.parametrize("who", ["anonymous", "manager", "technician"])
def test_security_headers_on_every_route(client, site_data, who):
    if who != "anonymous":
        client.force_login(site_data["manager"] if who == "manager" else site_data["user"])
    for route in routes(site_data):
        response = client.get(route.url)
        assert_security_headers(response, route.url)
        if who != "anonymous" and not route.url.startswith("/static/"):
            assert "no-store" in response.get("Cache-Control", ""), route.url


def test_api_token_answers_are_no_store(client, site_data):
    from tests.factories import make_token

    token = make_token(site_data["manager"])
    response = client.get("/api/customers", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_pages_use_a_csp_nonce_not_inline_permission(client, site_data):
    client.force_login(site_data["manager"])
    response = client.get("/customers/")
    csp = csp_directives(response["Content-Security-Policy"])
    assert "'nonce-" in csp["script-src"]
    nonce = csp["script-src"].split("'nonce-")[1].split("'")[0]
    body = response.content.decode()
    # Every script tag of the page carries this response's nonce.
    assert body.count("<script") == body.count(f'nonce="{nonce}"')


def test_session_and_csrf_cookie_flags(technician):
    client = Client()
    client.get("/accounts/login/")
    csrf = client.cookies["csrftoken"]
    assert csrf["samesite"] == "Lax"
    client.post("/accounts/login/", {"username": "tech", "password": PASSWORD})
    session = client.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_api_docs_and_schema_need_login_when_debug_is_off(client, technician, settings):
    settings.DEBUG = False
    for url in ("/api/docs", "/api/openapi.json"):
        assert client.get(url).status_code == 401, url
    client.force_login(technician)
    for url in ("/api/docs", "/api/openapi.json"):
        assert client.get(url).status_code == 200, url


# --- CSRF on every unsafe route --------------------------------------------------------------
UNSAFE = ("post", "put", "patch", "delete")


def test_no_unsafe_request_without_csrf_token_succeeds(site_data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(site_data["manager"])
    activity_before = ActivityLog.objects.count()
    customer = site_data["customer"]
    answers = {}
    for route in routes(site_data):
        for method in UNSAFE:
            response = getattr(client, method)(route.url, {"first_name": "Mallory"})
            answers[(method, route.url)] = response.status_code
    passed = {key: status for key, status in answers.items() if not 400 <= status < 500}
    assert passed == {}
    # Nothing changed, nobody was logged out.
    assert ActivityLog.objects.count() == activity_before
    customer.refresh_from_db()
    assert customer.first_name == "Grace"
    assert Customer.objects.count() == 1
    assert client.get("/accounts/password/").status_code == 200
    # The pages' forms are refused for CSRF, not for some other reason.
    assert answers[("post", f"/customers/{customer.pk}/edit/")] == 403
    assert answers[("post", "/accounts/logout/")] == 403


def test_the_same_request_with_the_token_goes_through(site_data):
    """The positive control for the test above: the CSRF check is what stopped it."""
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/accounts/login/",
        {"username": "manager", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    token = client.cookies["csrftoken"].value  # rotated at login
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302


# --- production settings ------------------------------------------------------------------------
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 64 + "-production-test-key-with-enough-entropy",
    "ALLOWED_HOSTS": "shop.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://shop.example.com",
    "DATABASE_URL": "postgres://root@127.0.0.1:5432/rs_security_deploycheck",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "EMAIL_URL": "smtp+tls://mail.example.com",
}


def run_production(*args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO", "OIDC", "SENTRY", "RENDERED_VERIFY"))
    }
    env.update(PRODUCTION_ENV)
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_in_production_settings():
    result = run_production("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_values():
    script = (
        "import json, django, os; os.environ['DJANGO_SETTINGS_MODULE']='repairshop.settings';"
        "django.setup(); from django.conf import settings as s; print(json.dumps({"
        "k: getattr(s, k) for k in ('SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS',"
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT',"
        "'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SAMESITE',"
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY', 'SESSION_ENGINE',"
        "'RATELIMIT_USE_CACHE')}))"
    )
    result = run_production("-c", script)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SAMESITE": "Lax",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
        "RATELIMIT_USE_CACHE": "ratelimit",
    }


def test_form_action_allows_the_identity_providers_origin_for_sign_out():
    """Sign-out redirects an SSO user to the provider; browsers check that redirect against
    form-action, so the provider's origin must be there (and only when SSO is on)."""
    script = (
        "import json, django, os; os.environ['DJANGO_SETTINGS_MODULE']='repairshop.settings';"
        "django.setup(); from django.conf import settings as s;"
        "print(json.dumps(s.SECURE_CSP['form-action']))"
    )
    plain = run_production("-c", script)
    assert json.loads(plain.stdout.strip().splitlines()[-1]) == ["'self'"]
    PRODUCTION_ENV.update(
        OIDC_RP_CLIENT_ID="repairshop", OIDC_OP_ISSUER="https://idp.example.com/realms/shop"
    )
    try:
        with_sso = run_production("-c", script)
    finally:
        del PRODUCTION_ENV["OIDC_RP_CLIENT_ID"], PRODUCTION_ENV["OIDC_OP_ISSUER"]
    assert json.loads(with_sso.stdout.strip().splitlines()[-1]) == [
        "'self'",
        "https://idp.example.com",
    ]


def test_hsts_and_secure_cookies_over_https(settings, technician):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client = Client()
    client.get("/accounts/login/", secure=True)
    response = client.post(
        "/accounts/login/", {"username": "tech", "password": PASSWORD}, secure=True
    )
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert client.cookies["sessionid"]["secure"] is True
    assert client.cookies["csrftoken"]["secure"] is True
