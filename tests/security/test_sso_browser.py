"""A new technician signs in by single sign-on in a real browser, as a new user would: the
sign-in page, the provider's page, back to "My queue"; then signs out through the provider.
No Content-Security-Policy violation on the way (the sign-out redirect to the provider is a
form submission, which form-action governs)."""

import os
import re

import pytest
import requests
from django.db import connections
from playwright.sync_api import expect

from accounts import oidc, roles
from accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """A transactional test's flush deletes the groups of the roles migration: restore them."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in (dotted.split(".") for dotted in perms)
            ]
        )


@pytest.fixture
def page(live_server, monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    # Playwright's loop runs in this thread; only for this test (a module-level setting would
    # leak into the subprocesses of later tests, where check --deploy rejects it).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text and problems.append(message.text)
            ),
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        yield page
        browser.close()
        # The test's queries ran in Playwright's greenlet, with its own pooled connection:
        # see the browser fixture in tests/browser/conftest.py.
        connections.close_all()
    assert problems == []


@pytest.fixture
def sso(settings, provider):
    settings.OIDC_RP_CLIENT_ID = "repairshop-browser"
    settings.OIDC_OP_ISSUER = provider
    settings.OIDC_PROVIDER_NAME = "Shop Login"
    for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS", "LOGOUT"):
        setattr(settings, f"OIDC_OP_{name}_ENDPOINT", "")
    # What repairshop/settings.py adds when OIDC_OP_ISSUER is set at start-up.
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "form-action": [*settings.SECURE_CSP["form-action"], provider],
    }
    oidc.forget_discovery()
    yield provider
    oidc.forget_discovery()


def test_new_technician_signs_in_by_sso_and_lands_on_my_queue(page, live_server, sso):
    response = requests.put(
        f"{sso}/users/nina-sub",
        json={"email": "nina@shop.test", "given_name": "Nina", "roles": ["technician"]},
        timeout=5,
    )
    assert response.status_code == 204

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Shop Login").click()
    # The provider's page: sign in as a new identity.
    page.get_by_label("Subject").fill("nina-sub")
    page.get_by_role("button", name="Authorize", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/tickets/queue/")
    expect(page.get_by_role("heading", name="My queue")).to_be_visible()
    nina = User.objects.get(oidc_subject="nina-sub")
    assert list(nina.groups.values_list("name", flat=True)) == [roles.TECHNICIAN]
    assert nina.email == "nina@shop.test"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(re.escape(f"{sso}/oauth2/end_session")))
    page.get_by_role("button", name="End session").click()
    expect(page).to_have_url(re.compile(re.escape(f"{live_server.url}/accounts/login/")))
    # Signed out here too: the queue asks for a sign-in again.
    page.goto(f"{live_server.url}/tickets/queue/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))


def test_user_without_role_gets_the_no_access_page(page, live_server, sso):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Shop Login").click()
    page.get_by_role("button", name="Authorize as nobody-sub").click()
    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    page.goto(f"{live_server.url}/tickets/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
