"""The ticket pages: start page, list (filters, sort, pages, fragments, polling), My queue,
check-in (new ticket, walk-in customer), the ticket page with edit, the status change, and
the role matrix of docs/api.md §6 on them."""

import json
import os
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import ActivityLog
from customers.models import Customer
from tests import factories
from tests.helpers import HTMX, page_text, poll_version, query_kind, rendered_templates
from tickets.models import Priority, Ticket


def _queries(client, url, **extra) -> tuple[int, object]:
    """The queries of rendering `url` (nothing remembered from an earlier request)."""
    caches["rendered"].clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    return len(ctx.captured_queries), response


@pytest.fixture
def tickets(customer, technician, other_technician):
    """Three tickets: Tess's urgent laptop, Tess's completed printer, Otto's phone."""
    return {
        "laptop": factories.make_ticket(
            customer=customer,
            title="Laptop will not boot",
            tech=technician,
            priority=Priority.URGENT,
            serial_number="SN-LAP-1",
        ),
        "printer": factories.make_ticket(
            customer=customer, title="Printer jams", tech=technician, completed=True
        ),
        "phone": factories.make_ticket(
            title="Phone screen cracked", tech=other_technician, priority=Priority.LOW
        ),
    }


# --- start page ----------------------------------------------------------------------------------
def test_technician_lands_on_the_queue_others_on_the_list(
    client, technician, frontdesk, manager, viewer
):
    client.force_login(technician)
    assert client.get("/")["Location"] == "/tickets/queue/"
    for user in (frontdesk, manager, viewer):
        client.force_login(user)
        assert client.get("/")["Location"] == "/tickets/"


def test_start_page_needs_sign_in(client):
    assert client.get("/")["Location"].startswith("/accounts/login/")


# --- list ----------------------------------------------------------------------------------------
def test_list_page_and_fragment(client, frontdesk, tickets):
    client.force_login(frontdesk)
    page = client.get("/tickets/?completed=")  # everything (the front desk's default is open)
    assert "<html" in page_text(page)
    for ticket in tickets.values():
        assert ticket.title in page_text(page)
    fragment = client.get("/tickets/?search=boot", **HTMX)
    body = page_text(fragment)
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="ticket-results"')
    assert "Laptop will not boot" in body and "Printer jams" not in body
    assert "HX-Request" in fragment["Vary"] and "HX-Request" in page["Vary"]


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("search=SN-LAP", {"laptop"}, {"printer", "phone"}),
        ("search=cracked", {"phone"}, {"laptop", "printer"}),
        ("completed=true", {"printer"}, {"laptop", "phone"}),
        ("completed=false", {"laptop", "phone"}, {"printer"}),
        ("tech=tech2@shop.test", {"phone"}, {"laptop", "printer"}),
        ("priority=urgent", {"laptop"}, {"printer", "phone"}),
    ],
)
def test_list_filters(client, frontdesk, tickets, query, shown, hidden):
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/?{query}"))
    for name in shown:
        assert tickets[name].title in body, name
    for name in hidden:
        assert tickets[name].title not in body, name


def test_search_by_ticket_number(client, frontdesk, tickets):
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/?search=%23{tickets['phone'].pk}"))
    assert "Phone screen cracked" in body and "Laptop will not boot" not in body


def test_customer_filter_names_the_customer(client, frontdesk, tickets, customer):
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/?customerId={customer.pk}"))
    assert "Only tickets of" in body and "Grace Hopper" in body
    assert "Laptop will not boot" in body and "Phone screen cracked" not in body


def test_date_range_filter(client, frontdesk, tickets):
    old = tickets["phone"]
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    client.force_login(frontdesk)
    since = (timezone.localdate() - timedelta(days=2)).isoformat()
    body = page_text(client.get(f"/tickets/?dateFrom={since}"))
    assert "Phone screen cracked" not in body and "Laptop will not boot" in body
    until = (timezone.localdate() - timedelta(days=5)).isoformat()
    body = page_text(client.get(f"/tickets/?dateTo={until}"))
    assert "Phone screen cracked" in body and "Laptop will not boot" not in body


def test_sort_by_priority(client, frontdesk, tickets):
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/?sortBy=priority&sortOrder=desc"))
    assert body.index("Laptop will not boot") < body.index("Phone screen cracked")
    body = page_text(client.get("/tickets/?sortBy=priority&sortOrder=asc"))
    assert body.index("Phone screen cracked") < body.index("Laptop will not boot")


def test_pages_keep_the_filters(client, frontdesk, customer):
    for n in range(30):
        factories.make_ticket(customer=customer, title=f"Batch job {n:02d}")
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/?search=batch&sortBy=title&sortOrder=asc"))
    # A search is not counted (paginate(count=False)) until its last page shows the total.
    assert "Page 1" in body and "30 tickets" not in body
    assert 'href="?search=batch&amp;sortBy=title&amp;sortOrder=asc&amp;page=2"' in body
    second = page_text(client.get("/tickets/?search=batch&sortBy=title&sortOrder=asc&page=2"))
    assert "Batch job 29" in second and "Batch job 00" not in second
    assert "30 tickets · page 2 of 2" in second
    unfiltered = page_text(client.get("/tickets/?sortBy=title&sortOrder=asc"))
    assert "30 tickets · page 1 of 2" in unfiltered


def test_technician_sees_only_own_tickets_and_no_technician_filter(client, technician, tickets):
    client.force_login(technician)
    body = page_text(client.get("/tickets/"))
    assert "Laptop will not boot" in body and "Printer jams" in body
    assert "Phone screen cracked" not in body
    assert 'name="tech"' not in body
    # Naming another technician in the URL changes nothing.
    assert "Phone screen cracked" not in page_text(client.get("/tickets/?tech=tech2@shop.test"))


def test_list_queries_do_not_grow_with_the_page_size(client, frontdesk, customer, technician):
    client.force_login(frontdesk)
    factories.make_ticket(customer=customer, tech=technician)
    client.get("/tickets/")
    few, _ = _queries(client, "/tickets/")
    for _ in range(24):
        factories.make_ticket(customer=factories.make_customer(), tech=factories.make_user())
    many, response = _queries(client, "/tickets/")
    assert response.status_code == 200
    assert few == many
    # session, user, version, technicians for the filter, COUNT, the page (customer and
    # technician joined), "is a technician" for the navigation, the workflow (statuses,
    # moves, group defaults: read once, not per row). The permissions are remembered from
    # the first request (accounts.backends).
    assert many <= 10


# --- polling -------------------------------------------------------------------------------------
def test_unchanged_poll_is_204_without_rendering(client, frontdesk, tickets):
    client.force_login(frontdesk)
    page = page_text(client.get("/tickets/?completed=false&sortBy=priority"))
    version = poll_version(page)
    assert f'hx-get="?completed=false&amp;sortBy=priority&amp;v={version}"' in page
    with rendered_templates() as rendered, CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/tickets/?completed=false&sortBy=priority&v={version}", **HTMX)
    assert response.status_code == 204
    assert response.content == b""
    assert rendered == []
    kinds = [query_kind(q["sql"]) for q in ctx.captured_queries]
    # The session and the user (loaded by the middleware for every request) and the version:
    # The data version checks no permission (its value is the same for every user, and a 204
    # tells nothing but "no change").
    assert kinds == ["session", "user", "version"]


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.3).ping())
    except Exception:
        return False


REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.mark.skipif(not _redis_available(), reason="needs Redis")
def test_unchanged_poll_with_sessions_in_redis(client, frontdesk, tickets, settings):
    """Production's set-up (REDIS_URL): the session comes from Redis, not the database."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"rs_pages_test_{uuid.uuid4().hex}",  # never another test's keys
        },
        "rendered": settings.CACHES["rendered"],
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    try:
        client.force_login(frontdesk)
        version = poll_version(page_text(client.get("/tickets/")))
        client.get(f"/tickets/?v={version}", **HTMX)  # the session is now in the cache
        with rendered_templates() as rendered, CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/tickets/?v={version}", **HTMX)
    finally:
        cache.delete_pattern("*")  # only this test's prefix
    assert response.status_code == 204 and rendered == []
    kinds = [query_kind(q["sql"]) for q in ctx.captured_queries]
    assert kinds == ["user", "version"]


def test_changed_poll_swaps_the_rows_with_the_filters_kept(client, frontdesk, tickets, customer):
    client.force_login(frontdesk)
    version = poll_version(page_text(client.get("/tickets/?completed=false")))
    factories.make_ticket(customer=customer, title="Fresh tablet repair")
    factories.make_ticket(customer=customer, title="Fresh but done", completed=True)
    with rendered_templates() as rendered:
        response = client.get(f"/tickets/?completed=false&v={version}", **HTMX)
    body = page_text(response)
    assert response.status_code == 200
    assert "ticket-results" in rendered  # the partial, named as Django names it
    assert "<html" not in body
    assert "Fresh tablet repair" in body and "Fresh but done" not in body
    new_version = poll_version(body)
    assert new_version != version
    assert f'hx-get="?completed=false&amp;v={new_version}"' in body
    # Links in the swapped rows carry the filters, not the poll's version.
    assert "v=" not in body.split("data-poll", 1)[1].split(">", 1)[1]


def test_a_status_change_changes_the_version(client, frontdesk, tickets):
    client.force_login(frontdesk)
    version = poll_version(page_text(client.get("/tickets/")))
    laptop = tickets["laptop"]
    client.post(f"/tickets/{laptop.pk}/status/", {"completed": "true", "notes": ""}, **HTMX)
    assert client.get(f"/tickets/?v={version}", **HTMX).status_code == 200


def test_poll_with_an_expired_session_redirects_the_window(client, tickets):
    response = client.get(
        "/tickets/queue/?v=abc", HTTP_HX_CURRENT_URL="http://testserver/tickets/queue/", **HTMX
    )
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Ftickets%2Fqueue%2F"
    assert "<form" not in page_text(response)


# --- My queue ------------------------------------------------------------------------------------
def test_queue_has_own_open_tickets_most_urgent_then_oldest(client, technician, customer):
    old_medium = factories.make_ticket(customer=customer, title="Old medium", tech=technician)
    Ticket.objects.filter(pk=old_medium.pk).update(created_at=timezone.now() - timedelta(days=3))
    factories.make_ticket(customer=customer, title="New medium", tech=technician)
    factories.make_ticket(
        customer=customer, title="New urgent", tech=technician, priority=Priority.URGENT
    )
    factories.make_ticket(customer=customer, title="Done one", tech=technician, completed=True)
    factories.make_ticket(customer=customer, title="Someone else's", tech=factories.make_user())
    client.force_login(technician)
    response = client.get("/tickets/queue/")
    body = page_text(response)
    assert body.index("New urgent") < body.index("Old medium") < body.index("New medium")
    assert "Done one" not in body and "Someone else" not in body
    assert "Move…" in body
    fragment = page_text(client.get("/tickets/queue/", **HTMX))
    assert "<html" not in fragment and 'id="ticket-results"' in fragment


def test_queue_budget_does_not_grow(client, technician, customer):
    client.force_login(technician)
    factories.make_ticket(customer=customer, tech=technician)
    client.get("/tickets/queue/")
    few, _ = _queries(client, "/tickets/queue/")
    for _ in range(20):
        factories.make_ticket(customer=factories.make_customer(), tech=technician)
    many, _ = _queries(client, "/tickets/queue/")
    assert few == many
    assert many <= 9  # as before, plus the workflow (three queries) for the rows' moves


def test_queue_poll_unchanged_is_204(client, technician, tickets):
    client.force_login(technician)
    version = poll_version(page_text(client.get("/tickets/queue/")))
    assert client.get(f"/tickets/queue/?v={version}", **HTMX).status_code == 204


# --- new ticket (check-in) -----------------------------------------------------------------------
TICKET = {
    "device_type": "laptop",
    "device_brand": "Lenovo",
    "device_model": "ThinkPad T14",
    "serial_number": "PF-3XY7Z",
    "title": "No power",
    "description": "Does not turn on since yesterday.",
    "accessories": "Charger",
    "condition": "Scratched lid",
    "priority": "high",
    "tech": "",
    "category": "",
    "estimated_hours": "",
    "notes": "",
}
WALK_IN = {
    "customer-first_name": "Walter",
    "customer-last_name": "Walkin",
    "customer-email": "walter@example.net",
    "customer-phone": "555 010 2030",
    "customer-address1": "5 Main Street",
    "customer-city": "Springfield",
    "customer-state": "IL",
    "customer-zip": "62701",
    "customer-country": "US",
}


def test_new_ticket_form_has_plain_word_labels(client, frontdesk):
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/new/"))
    for label in ("Serial number", "Brand", "Model", "Device type", "First name", "Technician"):
        assert f">{label}" in body


def test_check_in_for_an_existing_customer_is_auto_assigned(
    client, frontdesk, customer, technician, other_technician
):
    factories.make_ticket(customer=customer, tech=technician)  # Tess is busier
    client.force_login(frontdesk)
    response = client.post(
        "/tickets/new/", {**TICKET, "customer_mode": "existing", "customer_id": customer.pk}
    )
    ticket = Ticket.objects.get(title="No power")
    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{ticket.pk}/"
    assert ticket.customer == customer
    assert ticket.tech == other_technician
    assert ticket.priority == Priority.HIGH
    assert ticket.serial_number == "PF-3XY7Z"
    page = page_text(client.get(response["Location"]))
    assert f"Ticket #{ticket.pk} created and assigned to Otto" in page


def test_check_in_with_a_chosen_technician(client, frontdesk, customer, technician):
    factories.make_ticket(customer=customer, tech=technician)
    client.force_login(frontdesk)
    client.post(
        "/tickets/new/",
        {
            **TICKET,
            "customer_mode": "existing",
            "customer_id": customer.pk,
            "tech": "tech@shop.test",
        },
    )
    assert Ticket.objects.get(title="No power").tech == technician


def test_walk_in_customer_and_ticket_in_one_submit(client, frontdesk, technician):
    client.force_login(frontdesk)
    response = client.post("/tickets/new/", {**TICKET, **WALK_IN, "customer_mode": "new"})
    assert response.status_code == 302
    ticket = Ticket.objects.get(title="No power")
    assert ticket.customer.email == "walter@example.net"
    assert ticket.tech == technician
    actions = set(ActivityLog.objects.values_list("action", flat=True))
    assert {"customer:create", "ticket:create", "ticket:assign"} <= actions


def test_walk_in_with_a_taken_email_shows_it_and_writes_nothing(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.post(
        "/tickets/new/",
        {**TICKET, **WALK_IN, "customer-email": "Grace@NAVY.test", "customer_mode": "new"},
    )
    body = page_text(response)
    assert response.status_code == 200
    assert 'id="id_customer-email_error"' in body and "already exists" in body
    assert 'value="PF-3XY7Z"' in body  # the ticket part is kept
    assert Customer.objects.count() == 1 and not Ticket.objects.exists()


def test_existing_mode_needs_a_customer(client, frontdesk):
    client.force_login(frontdesk)
    response = client.post("/tickets/new/", {**TICKET, "customer_mode": "existing"})
    assert "Choose the customer" in page_text(response)
    assert not Ticket.objects.exists()


def test_existing_mode_with_a_bad_ticket_shows_no_walk_in_errors(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.post(
        "/tickets/new/",
        {**TICKET, "title": "", "customer_mode": "existing", "customer_id": customer.pk},
    )
    body = page_text(response)
    assert response.status_code == 200
    assert 'id="id_title_error"' in body  # the ticket's own error is shown
    assert "Please correct the customer&#x27;s details" not in body
    assert "Please correct the customer's details" not in body
    assert 'id="id_customer-first_name_error"' not in body
    assert f'name="customer_id" value="{customer.pk}" checked' in body  # still chosen
    assert not Ticket.objects.exists()


def test_existing_mode_keeps_what_was_typed_for_a_walk_in(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.post(
        "/tickets/new/",
        {
            **TICKET,
            "title": "",
            "customer_mode": "existing",
            "customer_id": customer.pk,
            "customer-first_name": "Walter",
        },
    )
    body = page_text(response)
    assert 'name="customer-first_name" value="Walter"' in body
    assert 'id="id_customer-last_name_error"' not in body


def test_walk_in_mode_with_a_bad_ticket_shows_both_forms_errors(client, frontdesk):
    client.force_login(frontdesk)
    response = client.post(
        "/tickets/new/",
        {**TICKET, **WALK_IN, "title": "", "customer-zip": "", "customer_mode": "new"},
    )
    body = page_text(response)
    assert 'id="id_title_error"' in body and 'id="id_customer-zip_error"' in body
    assert "Please correct the customer" in body
    assert not Customer.objects.exists() and not Ticket.objects.exists()


def test_check_in_with_a_technician_who_is_no_longer_one_names_the_field(
    client, frontdesk, customer, technician
):
    client.force_login(frontdesk)
    page = client.get("/tickets/new/")  # the menu offers Tess
    assert 'value="tech@shop.test"' in page_text(page)
    technician.groups.clear()  # ...who stops being a technician before the submit
    response = client.post(
        "/tickets/new/",
        {
            **TICKET,
            "customer_mode": "existing",
            "customer_id": customer.pk,
            "tech": "tech@shop.test",
        },
    )
    assert response.status_code == 200
    assert 'id="id_tech_error"' in page_text(response)
    assert not Ticket.objects.exists()


def test_inactive_customer_is_refused_on_the_picker_field(client, frontdesk):
    gone = factories.make_customer(active=False)
    client.force_login(frontdesk)
    response = client.post(
        "/tickets/new/", {**TICKET, "customer_mode": "existing", "customer_id": gone.pk}
    )
    assert "does not exist or is inactive" in page_text(response)
    assert not Ticket.objects.exists()


def test_picker_fragment_lists_active_matches(client, frontdesk, customer):
    factories.make_customer(first_name="Grace", last_name="Gone", active=False)
    client.force_login(frontdesk)
    response = client.get(
        "/tickets/new/?customer_search=grace", HTTP_HX_TARGET="customer-results", **HTMX
    )
    body = page_text(response)
    assert "<html" not in body and body.lstrip().startswith('<div id="customer-results"')
    assert f'value="{customer.pk}"' in body and "Gone" not in body
    assert "HX-Request" in response["Vary"]
    none = page_text(
        client.get("/tickets/new/?customer_search=zzz", HTTP_HX_TARGET="customer-results", **HTMX)
    )
    assert "New customer (walk-in)" in none


def test_new_ticket_for_a_customer_from_their_page(client, frontdesk, customer):
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/new/?customerId={customer.pk}"))
    assert f'name="customer_id" value="{customer.pk}" checked' in body


# --- ticket page ---------------------------------------------------------------------------------
def test_ticket_page_shows_everything(client, frontdesk, tickets):
    laptop = tickets["laptop"]
    Ticket.objects.filter(pk=laptop.pk).update(
        accessories="Charger", notes="Backed up first", estimated_hours="1.50"
    )
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/{laptop.pk}/"))
    for text in ("Grace Hopper", "SN-LAP-1", "Charger", "Backed up first", "1.50 h", "Urgent"):
        assert text in body, text
    assert "Edit ticket" in body and "<legend>Move to</legend>" in body


def test_ticket_page_budget_does_not_grow_with_the_timeline(client, frontdesk, tickets):
    laptop = tickets["laptop"]
    client.force_login(frontdesk)
    client.get(f"/tickets/{laptop.pk}/")
    few, _ = _queries(client, f"/tickets/{laptop.pk}/")
    for n in range(10):
        actor = factories.make_user()
        ActivityLog.objects.create(
            actor=actor,
            action="ticket:update",
            object_type="ticket",
            object_id=laptop.pk,
            metadata={"changes": {"category": {"old": str(n), "new": str(n + 1)}}},
        )
    many, response = _queries(client, f"/tickets/{laptop.pk}/")
    assert "Category: 9 → 10" in page_text(response)
    assert few == many


def test_edit_ticket_reassigns_and_shows_it_in_the_timeline(
    client, frontdesk, tickets, other_technician
):
    laptop = tickets["laptop"]
    client.force_login(frontdesk)
    response = client.post(
        f"/tickets/{laptop.pk}/",
        {
            **TICKET,
            "title": laptop.title,
            "tech": "tech2@shop.test",
            "priority": "medium",
            "updated_at": laptop.updated_at.isoformat(),
        },
    )
    assert response.status_code == 302
    laptop.refresh_from_db()
    assert laptop.tech == other_technician and laptop.priority == Priority.MEDIUM
    body = page_text(client.get(f"/tickets/{laptop.pk}/"))
    assert "Assigned" in body and "Technician: tech@shop.test → tech2@shop.test" in body


def test_edit_ticket_unassigns_and_sets_the_priority_by_name(client, frontdesk, tickets):
    laptop = tickets["laptop"]
    client.force_login(frontdesk)
    form = {
        "title": laptop.title,
        "description": laptop.description,
        "priority": "low",
        "tech": "",
        "updated_at": laptop.updated_at.isoformat(),
    }
    response = client.post(f"/tickets/{laptop.pk}/", form)
    assert response.status_code == 302
    laptop.refresh_from_db()
    assert laptop.tech is None and laptop.priority == Priority.LOW
    assert ActivityLog.objects.filter(action="ticket:assign", object_id=laptop.pk).exists()


def test_stale_ticket_edit_is_a_conflict(client, frontdesk, tickets):
    laptop = tickets["laptop"]
    client.force_login(frontdesk)
    stale = {**TICKET, "title": "Mine", "updated_at": laptop.updated_at.isoformat()}
    laptop.title = "Theirs"
    laptop.save()
    body = page_text(client.post(f"/tickets/{laptop.pk}/", stale))
    assert "changed by someone else" in body and "Theirs" in body and 'value="Mine"' in body
    laptop.refresh_from_db()
    assert laptop.title == "Theirs"


def test_technician_sees_own_ticket_without_edit_and_not_others(client, technician, tickets):
    client.force_login(technician)
    body = page_text(client.get(f"/tickets/{tickets['laptop'].pk}/"))
    assert "<legend>Move to</legend>" in body and "Edit ticket" not in body
    response = client.get(f"/tickets/{tickets['phone'].pk}/")
    assert response.status_code == 403
    assert "only see your assigned tickets" in page_text(response)


def test_viewer_sees_no_buttons(client, viewer, tickets):
    client.force_login(viewer)
    body = page_text(client.get(f"/tickets/{tickets['laptop'].pk}/"))
    assert "<legend>Move to</legend>" not in body and "Edit ticket" not in body
    listing = page_text(client.get("/tickets/"))
    assert "Laptop will not boot" in listing
    assert "Move…" not in listing and 'href="/tickets/new/"' not in listing


@pytest.mark.parametrize("role", ["technician", "viewer"])
def test_roles_that_may_not_edit_or_create_get_403(client, request, role, tickets, customer):
    user = request.getfixturevalue(role)
    client.force_login(user)
    laptop = tickets["laptop"]
    assert client.get("/tickets/new/").status_code == 403
    response = client.post(
        "/tickets/new/", {**TICKET, "customer_mode": "existing", "customer_id": customer.pk}
    )
    assert response.status_code == 403
    response = client.post(f"/tickets/{laptop.pk}/", {**TICKET, "title": "Hacked"})
    assert response.status_code == 403
    laptop.refresh_from_db()
    assert laptop.title == "Laptop will not boot"
    assert not Ticket.objects.filter(title="No power").exists()


def test_missing_ticket_is_404(client, frontdesk):
    client.force_login(frontdesk)
    assert client.get("/tickets/424242/").status_code == 404


# --- status change -------------------------------------------------------------------------------
def test_htmx_status_change_returns_the_fresh_row_and_triggers_a_refresh(
    client, technician, tickets
):
    laptop = tickets["laptop"]
    client.force_login(technician)
    response = client.post(
        f"/tickets/{laptop.pk}/status/",
        {
            "completed": "true",
            "notes": "Replaced the DC jack",
            "updated_at": laptop.updated_at.isoformat(),
        },
        **HTMX,
    )
    assert response.status_code == 200
    body = page_text(response)
    assert body.lstrip().startswith(f'<tr id="ticket-{laptop.pk}"')
    assert "Ready for pickup" in body and "Move…" in body
    events = json.loads(response["HX-Trigger"])
    assert "tickets-changed" in events
    assert events["showMessage"]["level"] == "success"
    laptop.refresh_from_db()
    assert laptop.completed and laptop.notes == "Replaced the DC jack"


def test_empty_notes_keep_the_ticket_notes(client, frontdesk, tickets):
    laptop = tickets["laptop"]
    Ticket.objects.filter(pk=laptop.pk).update(notes="Keep me")
    client.force_login(frontdesk)
    client.post(f"/tickets/{laptop.pk}/status/", {"completed": "true", "notes": "  "}, **HTMX)
    laptop.refresh_from_db()
    assert laptop.completed and laptop.notes == "Keep me"


def test_stale_status_change_is_409_with_the_current_row(client, frontdesk, tickets):
    laptop = tickets["laptop"]
    client.force_login(frontdesk)
    seen = laptop.updated_at.isoformat()
    laptop.title = "Renamed meanwhile"
    laptop.save()
    response = client.post(
        f"/tickets/{laptop.pk}/status/", {"completed": "true", "updated_at": seen}, **HTMX
    )
    assert response.status_code == 409
    assert "Renamed meanwhile" in page_text(response)
    assert "changed this ticket" in json.loads(response["HX-Trigger"])["showMessage"]["text"]
    laptop.refresh_from_db()
    assert not laptop.completed


def test_technician_cannot_change_someone_elses_ticket(client, technician, tickets):
    phone = tickets["phone"]
    client.force_login(technician)
    response = client.post(f"/tickets/{phone.pk}/status/", {"completed": "true"}, **HTMX)
    assert response.status_code == 403
    message = json.loads(response["HX-Trigger"])["showMessage"]["text"]
    assert message == "You can only update your assigned tickets"
    plain = client.post(f"/tickets/{phone.pk}/status/", {"completed": "true"})
    assert plain.status_code == 403
    phone.refresh_from_db()
    assert not phone.completed


def test_viewer_cannot_change_status(client, viewer, tickets):
    client.force_login(viewer)
    laptop = tickets["laptop"]
    assert client.post(f"/tickets/{laptop.pk}/status/", {"completed": "true"}).status_code == 403
    laptop.refresh_from_db()
    assert not laptop.completed


def test_plain_form_status_change_redirects_back(client, frontdesk, tickets):
    printer = tickets["printer"]
    client.force_login(frontdesk)
    response = client.post(
        f"/tickets/{printer.pk}/status/",
        {"completed": "false", "next": "/tickets/?completed=true"},
    )
    assert response.status_code == 302 and response["Location"] == "/tickets/?completed=true"
    printer.refresh_from_db()
    assert not printer.completed
    evil = client.post(
        f"/tickets/{printer.pk}/status/", {"completed": "true", "next": "https://evil.test/"}
    )
    assert evil["Location"] == f"/tickets/{printer.pk}/"


def test_status_change_needs_post(client, frontdesk, tickets):
    client.force_login(frontdesk)
    assert client.get(f"/tickets/{tickets['laptop'].pk}/status/").status_code == 405
