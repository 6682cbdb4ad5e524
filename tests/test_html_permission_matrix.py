"""The permission matrix of docs/api.md §6 for every page, table-driven: the twin of
tests/api/test_permission_matrix.py for the HTML side (§6, §7, §11).

Every page route (from the real URL conf, without admin/, api/, static, healthz and the
single sign-on routes, which have their own tests) must have a GET row and a POST row
here; test_every_page_route_is_in_the_matrix fails when a route is added without them.

Each cell says what the caller gets:

- 200, 302, 403, 404, 405: that status. 302 is a redirect that is not to the sign-in page.
  Nothing is written and no activity entry is added (a GET of a form the role may not use
  is answered 403 without an entry, §6).
- LOGIN: sent to the sign-in page (a 302, or for htmx an HX-Redirect); nothing written.
- WROTE: the POST succeeded: the row's success status, every fact of the write is in the
  database, and it added activity entries none of which is a denial.
- denied(action): 403, nothing of the write in the database, and exactly one new activity
  entry: permission:denied by the caller about the target, {"attempted": action}, with the
  warning line in the repairshop.security log (§6 "Refused writes are recorded").

"technician" is the ticket's own technician, "other_technician" any other technician.
Pages answer 404 for a missing id before they look at the role (unlike the API, which
refuses a role first): the "missing" rows say so.
"""

import logging
import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver, path

from accounts import roles
from core.models import ActivityLog
from customers.models import Customer
from repairshop import urls as project_urls
from tests import factories
from tickets.forms import TicketEditForm
from tickets.models import Priority, Ticket

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "manager", "frontdesk", "technician", "other_technician", "viewer")

LOGIN = "login"
WROTE = "wrote"


@dataclass(frozen=True)
class Denied:
    action: str


def denied(action: str) -> Denied:
    return Denied(action)


C_CREATE = denied("customer:create")
C_UPDATE = denied("customer:update")
C_DEACTIVATE = denied("customer:deactivate")
C_REACTIVATE = denied("customer:reactivate")
T_CREATE = denied("ticket:create")
T_UPDATE = denied("ticket:update")
T_STATUS = denied("ticket:status_change")

# (method, path template, variant): expected answer per caller, in CALLERS order.
# Variants: "missing" targets an id no row has; "htmx" is the request htmx sends (a
# fragment, or the row of a status change); "card" a move from a board card (htmx, with
# fragment=card); "walk-in" checks in a new customer too.
MATRIX = {
    # anonymous, manager, frontdesk, technician, other_technician, viewer
    ("GET", "/", ""): (LOGIN, 302, 302, 302, 302, 302),
    ("POST", "/", ""): (LOGIN, 405, 405, 405, 405, 405),
    # A signed-in visitor of the sign-in form without ?next= is sent to "/".
    ("GET", "/accounts/login/", ""): (200, 302, 302, 302, 302, 302),
    # Signs in (anonymous: as the viewer, the others as themselves again).
    ("POST", "/accounts/login/", ""): (WROTE, WROTE, WROTE, WROTE, WROTE, WROTE),
    ("GET", "/accounts/logout/", ""): (405, 405, 405, 405, 405, 405),
    # Signed out, nobody is signed out: the sign-in page, nothing recorded.
    ("POST", "/accounts/logout/", ""): (LOGIN, WROTE, WROTE, WROTE, WROTE, WROTE),
    ("GET", "/accounts/password/", ""): (LOGIN, 200, 200, 200, 200, 200),
    ("POST", "/accounts/password/", ""): (LOGIN, WROTE, WROTE, WROTE, WROTE, WROTE),
    # The page for a signed-in user without a role: a 403 page whatever the method.
    ("GET", "/accounts/no-access/", ""): (403, 403, 403, 403, 403, 403),
    ("POST", "/accounts/no-access/", ""): (403, 403, 403, 403, 403, 403),
    ("GET", "/customers/", ""): (LOGIN, 200, 200, 200, 200, 200),
    ("GET", "/customers/", "htmx"): (LOGIN, 200, 200, 200, 200, 200),
    ("POST", "/customers/", ""): (LOGIN, 405, 405, 405, 405, 405),
    ("GET", "/customers/new/", ""): (LOGIN, 200, 200, 403, 403, 403),
    ("POST", "/customers/new/", ""): (LOGIN, WROTE, WROTE, C_CREATE, C_CREATE, C_CREATE),
    ("GET", "/customers/{customer_id}/", ""): (LOGIN, 200, 200, 200, 200, 200),
    ("GET", "/customers/{customer_id}/", "missing"): (LOGIN, 404, 404, 404, 404, 404),
    ("POST", "/customers/{customer_id}/", ""): (LOGIN, 405, 405, 405, 405, 405),
    ("GET", "/customers/{customer_id}/edit/", ""): (LOGIN, 200, 200, 403, 403, 403),
    ("GET", "/customers/{customer_id}/edit/", "missing"): (LOGIN, 404, 404, 404, 404, 404),
    ("POST", "/customers/{customer_id}/edit/", ""): (
        LOGIN,
        WROTE,
        WROTE,
        C_UPDATE,
        C_UPDATE,
        C_UPDATE,
    ),
    ("POST", "/customers/{customer_id}/edit/", "missing"): (LOGIN, 404, 404, 404, 404, 404),
    ("GET", "/customers/{customer_id}/deactivate/", ""): (LOGIN, 405, 405, 405, 405, 405),
    ("POST", "/customers/{customer_id}/deactivate/", ""): (
        LOGIN,
        WROTE,
        C_DEACTIVATE,
        C_DEACTIVATE,
        C_DEACTIVATE,
        C_DEACTIVATE,
    ),
    ("POST", "/customers/{customer_id}/deactivate/", "missing"): (
        LOGIN,
        404,
        404,
        404,
        404,
        404,
    ),
    ("GET", "/customers/{customer_id}/reactivate/", ""): (LOGIN, 405, 405, 405, 405, 405),
    # Front desk may edit customers, so it is refused the reactivation itself.
    ("POST", "/customers/{customer_id}/reactivate/", ""): (
        LOGIN,
        WROTE,
        C_REACTIVATE,
        C_UPDATE,
        C_UPDATE,
        C_UPDATE,
    ),
    ("POST", "/customers/{customer_id}/reactivate/", "missing"): (
        LOGIN,
        404,
        404,
        404,
        404,
        404,
    ),
    ("GET", "/tickets/", ""): (LOGIN, 200, 200, 200, 200, 200),
    ("GET", "/tickets/", "htmx"): (LOGIN, 200, 200, 200, 200, 200),
    ("POST", "/tickets/", ""): (LOGIN, 405, 405, 405, 405, 405),
    ("GET", "/tickets/new/", ""): (LOGIN, 200, 200, 403, 403, 403),
    # The customer picker's fragment.
    ("GET", "/tickets/new/", "htmx"): (LOGIN, 200, 200, 403, 403, 403),
    ("POST", "/tickets/new/", ""): (LOGIN, WROTE, WROTE, T_CREATE, T_CREATE, T_CREATE),
    ("POST", "/tickets/new/", "walk-in"): (LOGIN, WROTE, WROTE, T_CREATE, T_CREATE, T_CREATE),
    # Everyone may open My queue; only technicians have anything in it.
    ("GET", "/tickets/queue/", ""): (LOGIN, 200, 200, 200, 200, 200),
    ("GET", "/tickets/queue/", "htmx"): (LOGIN, 200, 200, 200, 200, 200),
    ("POST", "/tickets/queue/", ""): (LOGIN, 405, 405, 405, 405, 405),
    # The board: everyone who may view tickets (a technician sees their own cards).
    ("GET", "/tickets/board/", ""): (LOGIN, 200, 200, 200, 200, 200),
    ("GET", "/tickets/board/", "htmx"): (LOGIN, 200, 200, 200, 200, 200),
    ("POST", "/tickets/board/", ""): (LOGIN, 405, 405, 405, 405, 405),
    ("GET", "/tickets/{ticket_id}/", ""): (LOGIN, 200, 200, 200, 403, 200),
    ("GET", "/tickets/{ticket_id}/", "missing"): (LOGIN, 404, 404, 404, 404, 404),
    # The edit form.
    ("POST", "/tickets/{ticket_id}/", ""): (LOGIN, WROTE, WROTE, T_UPDATE, T_UPDATE, T_UPDATE),
    ("POST", "/tickets/{ticket_id}/", "missing"): (LOGIN, 404, 404, 404, 404, 404),
    ("GET", "/tickets/{ticket_id}/status/", ""): (LOGIN, 405, 405, 405, 405, 405),
    ("POST", "/tickets/{ticket_id}/status/", ""): (LOGIN, WROTE, WROTE, WROTE, T_STATUS, T_STATUS),
    ("POST", "/tickets/{ticket_id}/status/", "htmx"): (
        LOGIN,
        WROTE,
        WROTE,
        WROTE,
        T_STATUS,
        T_STATUS,
    ),
    # A move from a board card (board.js): the fresh card.
    ("POST", "/tickets/{ticket_id}/status/", "card"): (
        LOGIN,
        WROTE,
        WROTE,
        WROTE,
        T_STATUS,
        T_STATUS,
    ),
    # The status service refuses a role without any status permission before it looks the
    # ticket up (as in the API); a technician learns that the ticket does not exist.
    ("POST", "/tickets/{ticket_id}/status/", "missing"): (LOGIN, 404, 404, 404, 404, T_STATUS),
}

# A successful POST answers 302 unless said here.
SUCCESS_STATUS = {
    ("POST", "/accounts/password/", ""): 200,
    ("POST", "/tickets/{ticket_id}/status/", "htmx"): 200,
    ("POST", "/tickets/{ticket_id}/status/", "card"): 200,
}

CASES = [
    pytest.param(
        row, caller, expected[i], id=f"{row[0]} {row[1]} {row[2]} as {caller}".replace("  ", " ")
    )
    for row, expected in MATRIX.items()
    for i, caller in enumerate(CALLERS)
]

NEW_PASSWORD = "a-fresh-horse-battery-staple-42"


@pytest.fixture
def world(db):
    """The cast, a customer with the technician's ticket, one without tickets (may be
    deactivated), an inactive one (may be reactivated), and an id no row has."""
    users = {
        "manager": factories.make_user(username="m", roles=[roles.MANAGER]),
        "frontdesk": factories.make_user(username="f", roles=[roles.FRONTDESK]),
        "technician": factories.make_user(username="t", roles=[roles.TECHNICIAN]),
        "other_technician": factories.make_user(username="t2", roles=[roles.TECHNICIAN]),
        "viewer": factories.make_user(username="v", roles=[roles.VIEWER]),
    }
    customer = factories.make_customer()
    ticket = factories.make_ticket(customer=customer, tech=users["technician"])
    lonely = factories.make_customer()
    inactive = factories.make_customer(active=False)
    missing = max(Customer.objects.order_by("-pk")[0].pk, ticket.pk) + 1000
    return {
        "users": users,
        "customer": customer,
        "ticket": ticket,
        "lonely": lonely,
        "inactive": inactive,
        "missing": missing,
    }


def _target(row, world) -> tuple[str, int | None]:
    """The object type and id the row's URL names."""
    _, template, variant = row
    if "{ticket_id}" in template:
        return "ticket", world["missing"] if variant == "missing" else world["ticket"].pk
    if "{customer_id}" in template:
        if variant == "missing":
            return "customer", world["missing"]
        if template.endswith("/deactivate/"):
            return "customer", world["lonely"].pk
        if template.endswith("/reactivate/"):
            return "customer", world["inactive"].pk
        return "customer", world["customer"].pk
    if template == "/customers/new/":
        return "customer", None
    if template == "/tickets/new/":
        return "ticket", None
    return "", None


def _form_values(initial: dict) -> dict:
    return {key: "" if value is None else value for key, value in initial.items()}


def _ticket_fields(**extra) -> dict:
    return {
        "title": "Matrix check-in",
        "description": "Does not charge.",
        "priority": "medium",
        **extra,
    }


def _walk_in_fields() -> dict:
    customer = {
        "first_name": "Linus",
        "last_name": "Torvalds",
        "email": "walk-in@example.org",
        "phone": "+358 40 123 4567",
        "address1": "1 Kernel Road",
        "city": "Helsinki",
        "state": "Uusimaa",
        "zip": "00100",
        "country": "fi",
    }
    return {f"customer-{key}": value for key, value in customer.items()}


def _body(row, caller, world) -> dict:
    method, template, variant = row
    users = world["users"]
    if method != "POST":
        return {}
    if template == "/accounts/login/":
        user = users["viewer" if caller == "anonymous" else caller]
        return {"username": user.username, "password": factories.PASSWORD}
    if template == "/accounts/password/":
        return {
            "old_password": factories.PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
    if template in ("/customers/new/", "/customers/{customer_id}/edit/"):
        return {
            "first_name": "Ada",
            "last_name": "Matrix",
            "email": "matrix@example.com",
            "phone": "+44 20 7946 0958",
            "address1": "12 Analytical Way",
            "city": "London",
            "state": "Greater London",
            "zip": "NW1 6XE",
            "country": "gb",
            "notes": "called back",
        }
    if template == "/tickets/new/":
        if variant == "walk-in":
            return {"customer_mode": "new", **_ticket_fields(), **_walk_in_fields()}
        return {
            "customer_mode": "existing",
            "customer_id": world["customer"].pk,
            **_ticket_fields(),
        }
    if template == "/tickets/{ticket_id}/":
        ticket = world["ticket"]
        return {**_form_values(TicketEditForm.initial_from(ticket)), "priority": "high"}
    if template == "/tickets/{ticket_id}/status/":
        if variant == "card":
            return {"status": "ready", "fragment": "card"}
        return {"completed": "true"}
    return {}


def _headers(row) -> dict:
    _, template, variant = row
    if variant not in ("htmx", "card"):
        return {}
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver{template}"}
    if template == "/tickets/new/":
        headers["HTTP_HX_TARGET"] = "customer-results"
    return headers


def _query(row) -> str:
    if row == ("GET", "/tickets/new/", "htmx"):
        return "?customer_search=Ada"
    return ""


def _facts(row, caller, world) -> tuple[bool, ...]:
    """What the POST would have written, each read back from the database. A WROTE cell
    needs all of them true, every other cell all of them false (nothing half-written)."""
    method, template, variant = row
    users = world["users"]
    if method != "POST" or variant == "missing":
        return ()
    acting = users.get("viewer" if caller == "anonymous" else caller)

    def entry(action):
        return ActivityLog.objects.filter(action=action, actor=acting).exists()

    if template == "/accounts/login/":
        return (entry("auth:login"),)
    if template == "/accounts/logout/":
        return (entry("auth:logout"),)
    if template == "/accounts/password/":
        if caller == "anonymous":
            return ()
        acting.refresh_from_db()
        return (acting.check_password(NEW_PASSWORD), entry("auth:password_changed"))
    if template == "/customers/new/":
        return (Customer.objects.filter(email="matrix@example.com").exists(),)
    if template == "/customers/{customer_id}/edit/":
        customer = Customer.objects.get(pk=world["customer"].pk)
        return (customer.notes == "called back", customer.email == "matrix@example.com")
    if template == "/customers/{customer_id}/deactivate/":
        return (not Customer.objects.get(pk=world["lonely"].pk).active,)
    if template == "/customers/{customer_id}/reactivate/":
        return (Customer.objects.get(pk=world["inactive"].pk).active,)
    if template == "/tickets/new/":
        ticket_written = Ticket.objects.filter(title="Matrix check-in").exists()
        if variant == "walk-in":
            walk_in = Customer.objects.filter(email="walk-in@example.org").exists()
            return (ticket_written, walk_in)
        return (ticket_written,)
    if template == "/tickets/{ticket_id}/":
        return (Ticket.objects.get(pk=world["ticket"].pk).priority == Priority.HIGH,)
    if template == "/tickets/{ticket_id}/status/":
        return (Ticket.objects.get(pk=world["ticket"].pk).completed,)
    return ()


def _is_login_redirect(response) -> bool:
    login_url = resolve_url(settings.LOGIN_URL)
    if response.status_code == 302:
        return response["Location"].startswith(login_url)
    # An htmx request of a signed-out browser: HX-Redirect, never a form in a table.
    return response.status_code == 200 and response.get("HX-Redirect", "").startswith(
        f"{login_url}?next="
    )


@pytest.mark.parametrize(("row", "caller", "expected"), CASES)
def test_permission_matrix(row, caller, expected, world, client, caplog):
    caplog.set_level(logging.WARNING, logger="repairshop.security")
    method, template, _ = row
    object_type, object_id = _target(row, world)
    url = template.format(customer_id=object_id, ticket_id=object_id) + _query(row)
    if caller != "anonymous":
        client.force_login(world["users"][caller])
    before = set(ActivityLog.objects.values_list("pk", flat=True))

    call = client.post if method == "POST" else client.get
    data = _body(row, caller, world)
    response = call(url, data, **_headers(row)) if data else call(url, **_headers(row))

    added = list(ActivityLog.objects.exclude(pk__in=before))
    denials = [r for r in caplog.records if "permission denied" in r.getMessage()]
    facts = _facts(row, caller, world)
    where = f"{response.status_code} {response.get('Location', '')} {added}"

    if expected == LOGIN:
        assert _is_login_redirect(response), where
        assert not any(facts) and not added, where
    elif expected == WROTE:
        assert response.status_code == SUCCESS_STATUS.get(row, 302), where
        assert not _is_login_redirect(response) or template == "/accounts/logout/", where
        assert facts and all(facts), f"{facts} {where}"
        assert added and all(e.action != "permission:denied" for e in added), where
        assert not denials
    elif isinstance(expected, Denied):
        assert response.status_code == 403, where
        assert not any(facts), f"a refused write left {facts} behind"
        assert [(e.action, e.actor_id, e.metadata.get("attempted")) for e in added] == [
            ("permission:denied", world["users"][caller].pk, expected.action)
        ], where
        assert (added[0].object_type, added[0].object_id) == (object_type, object_id)
        assert len(denials) == 1, [r.getMessage() for r in caplog.records]
        assert f"action={expected.action}" in denials[0].getMessage()
    else:
        assert response.status_code == expected, where
        if expected == 302:
            assert not _is_login_redirect(response), where
        assert not any(facts) and not added, where
        assert not denials, [r.getMessage() for r in denials]


# --- every page route has its rows -------------------------------------------------------------
# Served elsewhere and tested there: the admin, the API (tests/api/test_permission_matrix),
# static files, the health check and single sign-on (tests/security/test_sso.py).
EXCLUDED_PREFIXES = ("admin/", "api", "static", "healthz", "accounts/oidc/")


def _page_routes() -> set[str]:
    """Every route of the project's URL conf outside EXCLUDED_PREFIXES, as "/customers/
    {customer_id}/edit/"."""
    found = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
            if route.startswith(EXCLUDED_PREFIXES):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))

    walk(get_resolver().url_patterns, "")
    return found


def _rows_missing(routes: set[str]) -> list[tuple[str, str]]:
    """(method, route) of each page route without a row of that method in MATRIX."""
    return sorted(
        (method, route)
        for method in ("GET", "POST")
        for route in routes - {template for m, template, _ in MATRIX if m == method}
    )


def test_every_page_route_is_in_the_matrix():
    routes = _page_routes()
    # The enumeration itself works: it sees pages of each app, and nothing it must skip.
    assert {"/", "/accounts/login/", "/customers/{customer_id}/edit/", "/tickets/queue/"} <= routes
    assert not {r for r in routes if r.startswith(("/admin", "/api", "/accounts/oidc"))}

    missing = _rows_missing(routes)
    assert not missing, f"page routes without a row in MATRIX: {missing}"
    stale = {template for _, template, _ in MATRIX} - routes
    assert not stale, f"rows for routes the URL conf no longer has: {sorted(stale)}"


def _a_new_page(request, invoice_id):
    raise AssertionError("never called: only its route is read")


# The project's URL conf plus one page nobody gave a row (for the test below).
urlpatterns = [
    *project_urls.urlpatterns,
    path("invoices/<int:invoice_id>/", _a_new_page, name="invoice"),
]


@pytest.mark.urls(__name__)
def test_a_new_page_without_rows_is_caught():
    assert _rows_missing(_page_routes()) == [
        ("GET", "/invoices/{invoice_id}/"),
        ("POST", "/invoices/{invoice_id}/"),
    ]
