"""The layout every page shares: navigation by role, the htmx set-up under the strict CSP,
and the friendly error pages."""

import re

import pytest
from django.contrib.auth.models import Group
from django.template import loader

from accounts import roles

PAGES = ["/tickets/", "/tickets/queue/", "/customers/", "/tickets/new/", "/customers/new/"]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _nav(body: str) -> str:
    return body[body.index('<nav class="mainnav"') : body.index("</nav>")]


def test_navigation_follows_the_role(client, manager, frontdesk, technician, viewer):
    client.force_login(technician)
    body = client.get("/tickets/").content.decode()
    assert "My queue" in _nav(body) and "Admin" not in _nav(body)
    assert 'href="/tickets/new/"' not in body

    client.force_login(frontdesk)
    body = client.get("/tickets/").content.decode()
    assert "My queue" not in _nav(body) and "Admin" not in _nav(body)
    assert 'href="/tickets/new/"' in body

    client.force_login(manager)
    body = client.get("/tickets/").content.decode()
    assert 'href="/admin/"' in _nav(body)

    client.force_login(viewer)
    body = client.get("/tickets/").content.decode()
    assert "Tickets" in _nav(body) and "Customers" in _nav(body)
    assert 'href="/tickets/new/"' not in body and "Admin" not in _nav(body)


def test_current_page_is_marked_in_the_navigation(client, frontdesk):
    client.force_login(frontdesk)
    body = client.get("/customers/").content.decode()
    assert '<a href="/customers/" aria-current="page">' in body


@pytest.mark.parametrize("path", PAGES)
def test_pages_follow_the_strict_csp(client, manager, path):
    manager.groups.add(Group.objects.get(name=roles.TECHNICIAN))  # to see My queue too
    client.force_login(manager)
    response = client.get(path)
    body = response.content.decode()
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    # Every script is a file with the request's nonce; no inline script, no hx-on, no
    # inline style attribute, no htmx trigger filter.
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    scripts = re.findall(r"<script([^>]*)>", body)
    assert scripts, "htmx and app.js are loaded"
    for attributes in scripts:
        assert 'src="' in attributes and f'nonce="{nonce}"' in attributes
    assert "/static/js/app.js" in body
    assert "hx-on" not in body and ' style="' not in body
    assert not re.search(r'hx-trigger="[^"]*\[', body)
    assert '"includeIndicatorStyles":false' in body and '"timeout":10000' in body
    assert re.search(r"<body[^>]* hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", body)


def test_poll_interval_is_a_setting(client, frontdesk, settings):
    settings.POLL_INTERVAL_SECONDS = 7
    client.force_login(frontdesk)
    assert 'data-poll-interval="7"' in client.get("/tickets/").content.decode()


def test_friendly_403_and_404_in_the_layout(client, technician):
    client.force_login(technician)
    forbidden = client.get("/customers/new/")
    assert forbidden.status_code == 403
    body = forbidden.content.decode()
    assert "Not allowed" in body and '<nav class="mainnav"' in body
    assert "Reference:" in body and forbidden["X-Request-ID"] in body
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert "Page not found" in missing.content.decode()


def test_500_page_renders_without_a_request():
    # Django renders 500.html with an empty context: no user, no nonce, so no scripts.
    body = loader.get_template("500.html").render()
    assert "Something went wrong" in body and "<script" not in body


def test_429_page_is_in_the_layout(rf, frontdesk):
    request = rf.get("/")
    request.user = frontdesk
    body = loader.render_to_string("429.html", request=request)
    assert "Slow down" in body and "then try again" in body
    body = loader.render_to_string("429.html", {"retry_after": 42}, request=request)
    assert "Try again in 42 seconds." in body
