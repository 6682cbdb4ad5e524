"""The status workflow on the pages (issue 12): badges and overdue marks, the list's status,
group and overdue filters with the quick filters and the front desk's default view, the rows'
Move… control, My queue grouped by status, and the ticket page's status panel and history."""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.helpers import HTMX, page_text
from tickets import services
from tickets.models import StatusChange, Ticket


def _queries(client, url) -> tuple[int, object]:
    caches["rendered"].clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return len(ctx.captured_queries), response


def _row(body: str, ticket) -> str:
    match = re.search(rf'<tr id="ticket-{ticket.pk}".*?</tr>', body, re.S)
    assert match, f"no row for #{ticket.pk}"
    return match.group(0)


def _move_buttons(html: str) -> list[str]:
    return re.findall(r'name="status" value="(\w+)"', html)


@pytest.fixture
def shop(customer, technician, other_technician):
    """One ticket in each of five statuses, Tess's but the phone; the received one overdue."""
    received = factories.make_ticket(
        customer=customer,
        title="Tablet received",
        tech=technician,
        status="received",
        created_at=timezone.now() - timedelta(days=3),
    )
    return {
        "received": received,
        "repair": factories.make_ticket(
            customer=customer, title="Laptop in repair", tech=technician, status="in_repair"
        ),
        "parts": factories.make_ticket(
            customer=customer, title="Console parts", tech=technician, status="waiting_parts"
        ),
        "ready": factories.make_ticket(
            customer=customer, title="Phone ready", tech=other_technician, status="ready"
        ),
        "collected": factories.make_ticket(
            customer=customer, title="Watch collected", tech=technician, status="collected"
        ),
    }


def _titles(body: str, shop) -> set[str]:
    return {name for name, ticket in shop.items() if ticket.title in body}


# --- badges ------------------------------------------------------------------------------------
def test_rows_show_the_status_label_coloured_by_group_and_overdue_in_words(client, frontdesk, shop):
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/?completed="))
    repair = _row(body, shop["repair"])
    assert '<span class="badge status-in_progress" data-status-badge>In repair</span>' in repair
    assert "Overdue" not in repair and "is-overdue" not in repair
    received = _row(body, shop["received"])
    assert '<span class="badge status-new" data-status-badge>Received</span>' in received
    assert 'class="is-overdue"' in received and ">Overdue</span>" in received
    assert 'class="is-completed"' in _row(body, shop["collected"])


# --- filters -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("status=in_repair", {"repair"}),
        ("status=in_repair,waiting_parts", {"repair", "parts"}),
        ("status=in_repair&status=received", {"repair", "received"}),
        ("statusGroup=ready", {"ready"}),
        ("statusGroup=new,closed", {"received", "collected"}),
        ("statusGroup=waiting&statusGroup=ready", {"parts", "ready"}),
        ("statusGroup=in_progress,waiting&status=waiting_parts,ready", {"parts"}),
        ("overdue=true", {"received"}),
        ("overdue=false", {"repair", "parts", "ready", "collected"}),
        ("completed=", {"received", "repair", "parts", "ready", "collected"}),
    ],
)
def test_status_group_and_overdue_filters(client, frontdesk, shop, query, shown):
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/?{query}"))
    assert _titles(body, shop) == shown


def test_bad_filter_values_are_named_on_their_fields_at_once(client, frontdesk, shop):
    client.force_login(frontdesk)
    response = client.get("/tickets/?status=in_repair,bogus,nope&statusGroup=later&overdue=maybe")
    assert response.status_code == 200
    body = page_text(response)
    assert re.search(r'id="id_status_error"><li>Unknown: bogus, nope\.', body)
    assert re.search(r'id="id_statusGroup_error"><li>Unknown: later\.', body)
    assert 'id="id_overdue_error"' in body
    # The bad values are dropped, the good ones kept: an unfiltered list, not a 5xx.
    assert _titles(body, shop) == {"received", "repair", "parts", "ready", "collected"}
    fragment = client.get("/tickets/?statusGroup=later", **HTMX)
    assert fragment.status_code == 200


def test_sort_by_status_follows_the_positions(client, frontdesk, shop):
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/?completed=&sortBy=status&sortOrder=asc"))
    order = ["received", "repair", "parts", "ready", "collected"]
    positions = [body.index(shop[name].title) for name in order]
    assert positions == sorted(positions)


def test_front_desk_default_view_is_the_open_groups(client, frontdesk, manager, shop):
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/"))
    assert _titles(body, shop) == {"received", "repair", "parts"}
    # The group boxes show the default, and the quick filter "Open" is the current one.
    for group in ("new", "in_progress", "waiting"):
        assert f'name="statusGroup" value="{group}" checked' in body
    assert 'aria-current="true">Open</a>' in body
    # Any filter in the query replaces the default; the others' default is everything.
    assert "Phone ready" in page_text(client.get("/tickets/?search=Phone"))
    client.force_login(manager)
    assert _titles(page_text(client.get("/tickets/")), shop) == set(shop)


def test_waiting_for_pickup_is_one_click(client, frontdesk, shop):
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/"))
    link = re.search(
        r'<a class="button small[^"]*" href="([^"]+)"[^>]*>Waiting for pickup</a>', body
    )
    assert link, "no quick filter"
    target = page_text(client.get(link.group(1).replace("&amp;", "&")))
    assert _titles(target, shop) == {"ready"}
    assert 'aria-current="true">Waiting for pickup</a>' in target
    overdue = re.search(r'href="([^"]+)"[^>]*>Overdue</a>', body).group(1)
    assert _titles(page_text(client.get(overdue)), shop) == {"received"}


def test_list_budget_does_not_grow_with_filtered_rows(client, frontdesk, customer, technician):
    client.force_login(frontdesk)
    factories.make_ticket(customer=customer, tech=technician, status="in_repair")
    url = "/tickets/?statusGroup=in_progress,waiting&overdue=false&sortBy=status"
    client.get(url)
    few, _ = _queries(client, url)
    for n in range(15):
        factories.make_ticket(
            customer=factories.make_customer(),
            tech=technician,
            status=("in_repair", "waiting_parts", "diagnosing")[n % 3],
        )
    many, response = _queries(client, url)
    assert response.status_code == 200 and page_text(response).count("data-ticket-row=") == 16
    # session, user, version, technicians for the filter, COUNT, the page, "is a
    # technician" for the navigation, the workflow (three): none of it per row.
    assert few == many <= 10


# --- the rows' Move… control -------------------------------------------------------------------
def test_row_offers_the_allowed_moves_for_the_role(client, frontdesk, technician, viewer, shop):
    client.force_login(frontdesk)
    ready = _row(page_text(client.get("/tickets/?statusGroup=ready")), shop["ready"])
    assert "Move…" in ready and "Complete…" not in ready
    assert _move_buttons(ready) == ["in_repair", "collected", "abandoned"]
    assert 'name="comment"' in ready and 'name="updated_at"' not in ready
    # A technician is not offered the closed group (rule 4), on their own ticket.
    factories.make_ticket(title="Tess's ready one", tech=technician, status="ready")
    client.force_login(technician)
    body = page_text(client.get("/tickets/?statusGroup=ready"))
    own = _row(body, Ticket.objects.get(title="Tess's ready one"))
    assert _move_buttons(own) == ["in_repair"]
    # A viewer gets the badge and no control.
    client.force_login(viewer)
    row = _row(page_text(client.get("/tickets/?completed=")), shop["repair"])
    assert "In repair" in row and "Move…" not in row and "<form" not in row


def test_allowed_row_move_answers_the_fresh_row(client, frontdesk, shop):
    client.force_login(frontdesk)
    parts = shop["parts"]
    response = client.post(
        f"/tickets/{parts.pk}/status/",
        {"status": "in_repair", "comment": "Screen arrived", "next": "/tickets/"},
        **HTMX,
    )
    assert response.status_code == 200
    body = page_text(response)
    assert body.lstrip().startswith(f'<tr id="ticket-{parts.pk}"')
    assert "data-status-badge>In repair</span>" in body
    assert _move_buttons(body) == [
        "diagnosing",
        "awaiting_approval",
        "waiting_parts",
        "ready",
        "ready_unrepaired",
    ]
    events = json.loads(response["HX-Trigger"])
    assert "tickets-changed" in events and events["showMessage"]["level"] == "success"
    change = StatusChange.objects.filter(ticket=parts).latest("id")
    assert (change.to_status.key, change.comment, change.by) == (
        "in_repair",
        "Screen arrived",
        frontdesk,
    )


def test_refused_row_move_is_409_with_the_allowed_moves(client, frontdesk, shop):
    client.force_login(frontdesk)
    parts = shop["parts"]
    response = client.post(f"/tickets/{parts.pk}/status/", {"status": "collected"}, **HTMX)
    assert response.status_code == 409
    message = json.loads(response["HX-Trigger"])["showMessage"]
    assert message["level"] == "error"
    for label in ("In repair", "Diagnosing", "Cancelled"):
        assert label in message["text"]
    parts.refresh_from_db()
    assert parts.status.key == "waiting_parts"


def test_plain_form_move_redirects_with_the_reason(client, frontdesk, shop):
    """Without JavaScript: the clicked button's status is posted, the answer a redirect."""
    client.force_login(frontdesk)
    parts = shop["parts"]
    refused = client.post(
        f"/tickets/{parts.pk}/status/", {"status": "collected", "next": "/tickets/"}
    )
    assert refused.status_code == 302 and refused["Location"] == "/tickets/"
    page = page_text(client.get("/tickets/"))
    assert "In repair" in page and "Waiting for parts" in page
    moved = client.post(
        f"/tickets/{parts.pk}/status/", {"status": "in_repair", "next": "/tickets/"}
    )
    assert moved.status_code == 302
    parts.refresh_from_db()
    assert parts.status.key == "in_repair"


# --- My queue ----------------------------------------------------------------------------------
def test_queue_is_grouped_by_status_in_position_order(client, technician, shop):
    factories.make_ticket(title="Second in repair", tech=technician, status="in_repair")
    client.force_login(technician)
    body = page_text(client.get("/tickets/queue/"))
    headings = re.findall(r'data-status-heading="(\w+)"', body)
    assert headings == ["received", "in_repair", "waiting_parts"]
    # Each ticket under its status's heading.
    repair_heading = body.index('data-status-heading="in_repair"')
    parts_heading = body.index('data-status-heading="waiting_parts"')
    assert repair_heading < body.index("Second in repair") < parts_heading
    assert repair_heading < body.index("Laptop in repair") < parts_heading
    assert "Watch collected" not in body and "Phone ready" not in body


def test_queue_budget_does_not_grow_with_statuses_and_tickets(client, technician, customer):
    client.force_login(technician)
    factories.make_ticket(customer=customer, tech=technician, status="received")
    client.get("/tickets/queue/")
    few, _ = _queries(client, "/tickets/queue/")
    for n in range(12):
        factories.make_ticket(
            customer=factories.make_customer(),
            tech=technician,
            status=("diagnosing", "in_repair", "awaiting_approval", "waiting_parts")[n % 4],
        )
    many, response = _queries(client, "/tickets/queue/")
    assert len(re.findall("data-status-heading=", page_text(response))) == 5
    assert few == many <= 9


# --- the ticket page ---------------------------------------------------------------------------
def test_ticket_page_status_panel_and_moves(client, frontdesk, shop):
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/{shop['received'].pk}/"))
    panel = body[body.index('id="status-panel"') :]
    panel = panel[: panel.index("</section>")]
    assert '<span class="badge status-new" data-status-badge>Received</span>' in panel
    assert "<dd>New</dd>" in panel and "Since" in panel and "Overdue" in panel
    assert _move_buttons(panel) == [
        "diagnosing",
        "in_repair",
        "awaiting_approval",
        "waiting_parts",
        "ready",
        "ready_unrepaired",
        "cancelled",
    ]
    assert "(override)" not in panel and 'name="comment"' in panel


def test_manager_is_offered_overrides_marked_as_such(client, manager, shop):
    client.force_login(manager)
    body = page_text(client.get(f"/tickets/{shop['parts'].pk}/"))
    overrides = body[body.index("Override: outside the allowed moves") :]
    overrides = overrides[: overrides.index("</fieldset>")]
    keys = _move_buttons(overrides)
    assert "waiting_parts" not in keys and "in_repair" not in keys  # current, and allowed
    assert {"received", "ready", "collected"} <= set(keys)
    assert "Ready for pickup (override)" in overrides
    response = client.post(
        f"/tickets/{shop['parts'].pk}/status/",
        {"status": "collected", "next": f"/tickets/{shop['parts'].pk}/"},
    )
    assert response.status_code == 302
    assert StatusChange.objects.filter(ticket=shop["parts"]).latest("id").override


def test_technician_page_has_no_closed_moves_and_viewer_no_form(client, technician, viewer, shop):
    client.force_login(technician)
    ready = factories.make_ticket(title="Own ready", tech=technician, status="ready")
    body = page_text(client.get(f"/tickets/{ready.pk}/"))
    assert _move_buttons(body) == ["in_repair"] and "(override)" not in body
    client.force_login(viewer)
    body = page_text(client.get(f"/tickets/{shop['repair'].pk}/"))
    assert (
        "In repair" in body
        and 'action="/tickets/' not in body.split('id="status-panel"')[1].split("</section>")[0]
    )


def test_history_timeline_who_when_from_to_comment_and_time_spent(
    client, frontdesk, manager, technician, shop
):
    ticket = shop["received"]
    services.ticket_set_status(actor=technician, ticket_id=ticket.pk, status="diagnosing")
    services.ticket_set_status(
        actor=manager, ticket_id=ticket.pk, status="in_repair", comment="Board <swap> needed"
    )
    services.ticket_set_status(actor=manager, ticket_id=ticket.pk, status="received")  # override
    # Three days in "Received" before the first move.
    StatusChange.objects.filter(ticket=ticket, from_status=None).update(
        at=timezone.now() - timedelta(days=3, hours=4, seconds=30)
    )
    client.force_login(frontdesk)
    body = page_text(client.get(f"/tickets/{ticket.pk}/"))
    history = body[body.index('id="history-heading"') :]
    history = history[: history.index("</section>")]
    items = re.findall(r"<li.*?</li>", history, re.S)
    assert len(items) == 4
    assert "Checked in: Received" in items[0] and "Customer" in items[0]
    assert "3 d 4 h in Received" in items[0]
    assert "Received → Diagnosing" in items[1] and "Tess" in items[1]
    assert "Diagnosing → In repair" in items[2] and "Mona" in items[2]
    assert "Board &lt;swap&gt; needed" in items[2] and "Override" not in items[2]
    assert "In repair → Received" in items[3] and "Override" in items[3]
    assert 'aria-current="step"' in items[3] and "so far" in items[3]


def test_ticket_page_budget_does_not_grow_with_the_history(client, manager, shop):
    ticket = shop["repair"]
    client.force_login(manager)
    client.get(f"/tickets/{ticket.pk}/")
    few, _ = _queries(client, f"/tickets/{ticket.pk}/")
    for target in ("diagnosing", "in_repair") * 6:
        services.ticket_set_status(actor=manager, ticket_id=ticket.pk, status=target, comment="x")
    many, response = _queries(client, f"/tickets/{ticket.pk}/")
    assert page_text(response).count("Diagnosing → In repair") == 6
    # session, user, the ticket, the edit form's technicians, the workflow (three), the
    # history (ticket_history reads the ticket again, then every entry with its statuses
    # and users joined), the activity timeline: none of it per entry.
    assert few == many <= 10
