"""Contract §12 through HTTP: GET /api/statuses, the ticket's status fields, the status call
with either body, the history, and the list's status filters and sort."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import factories
from tests.helpers import assert_error
from tickets.models import Status, StatusChange, Ticket

pytestmark = pytest.mark.django_db


def _status_call(client, ticket, body):
    return client.post(f"/api/tickets/{ticket.pk}/status", body)


# --- GET /api/statuses ------------------------------------------------------------------------
def test_statuses_are_listed_by_position_with_their_moves(as_technician):
    Status.objects.filter(key="abandoned").update(active=False)
    response = as_technician.get("/api/statuses")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"statuses", "metadata"}
    statuses = body["statuses"]
    assert [s["key"] for s in statuses][:3] == ["received", "diagnosing", "in_repair"]
    waiting_parts = next(s for s in statuses if s["key"] == "waiting_parts")
    assert waiting_parts == {
        "key": "waiting_parts",
        "label": "Waiting for parts",
        "group": "waiting",
        "position": 4,
        "isDefault": True,
        "notifyCustomer": True,
        "timeLimitHours": 72,
        "active": True,
        "next": ["diagnosing", "in_repair", "ready_unrepaired", "cancelled"],
    }
    abandoned = next(s for s in statuses if s["key"] == "abandoned")
    assert abandoned["active"] is False and abandoned["next"] == []  # inactive ones are listed
    assert sum(s["isDefault"] for s in statuses) == 5


# --- the ticket's fields ------------------------------------------------------------------------
def test_a_ticket_shows_its_status_group_since_and_overdue(as_frontdesk):
    late = factories.make_ticket(
        status="waiting_parts", created_at=timezone.now() - timedelta(days=4)
    )
    fresh = factories.make_ticket(status="ready")
    body = as_frontdesk.get(f"/api/tickets/{late.pk}").json()["ticket"]
    assert (body["status"], body["statusGroup"], body["overdue"], body["completed"]) == (
        "waiting_parts",
        "waiting",
        True,
        False,
    )
    assert body["statusChangedAt"] == late.status_changed_at.isoformat()
    body = as_frontdesk.get(f"/api/tickets/{fresh.pk}").json()["ticket"]
    assert (body["status"], body["statusGroup"], body["overdue"], body["completed"]) == (
        "ready",
        "ready",
        False,
        True,
    )


def test_create_with_a_status_and_the_errors_of_create(as_frontdesk, customer):
    base = {"customerId": customer.pk, "title": "t", "description": "d"}
    response = as_frontdesk.post("/api/tickets", {**base, "status": "diagnosing"})
    assert response.status_code == 201 and response.json()["ticket"]["status"] == "diagnosing"
    response = as_frontdesk.post("/api/tickets", {**base, "completed": True})
    assert response.json()["ticket"]["status"] == "ready"
    body = assert_error(
        as_frontdesk.post("/api/tickets", {**base, "status": "nope", "title": ""}),
        400,
        "VALIDATION_ERROR",
    )
    assert set(body["details"]) == {"status", "title"}  # every bad field at once
    body = assert_error(
        as_frontdesk.post("/api/tickets", {**base, "status": "ready", "completed": True}),
        400,
        "VALIDATION_ERROR",
    )
    assert body["field"] == "status"


def test_patch_never_changes_the_status(as_frontdesk):
    ticket = factories.make_ticket()
    body = assert_error(
        as_frontdesk.patch(f"/api/tickets/{ticket.pk}", {"status": "ready"}),
        400,
        "VALIDATION_ERROR",
    )
    assert "status" in body["details"]
    assert Ticket.objects.get(pk=ticket.pk).status.key == "received"


# --- POST /status ---------------------------------------------------------------------------
def test_a_move_by_status_with_a_comment(as_frontdesk, frontdesk):
    ticket = factories.make_ticket()
    response = _status_call(
        as_frontdesk, ticket, {"status": "awaiting_approval", "comment": "Quote: 120 EUR"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["ticket"]["status"] == "awaiting_approval"
    change = StatusChange.objects.filter(ticket=ticket).latest("id")
    assert (change.comment, change.by) == ("Quote: 120 EUR", frontdesk)


def test_a_refused_move_is_409_invalid_transition_with_the_allowed_moves(as_frontdesk):
    ticket = factories.make_ticket(status="waiting_parts")
    body = assert_error(
        _status_call(as_frontdesk, ticket, {"status": "ready"}), 409, "INVALID_TRANSITION"
    )
    assert body["details"] == {
        "from": "waiting_parts",
        "to": "ready",
        "allowed": ["diagnosing", "in_repair", "ready_unrepaired", "cancelled"],
    }
    # Part 1's body: the one way a part-1 request can now be refused.
    body = assert_error(
        _status_call(as_frontdesk, ticket, {"completed": True}), 409, "INVALID_TRANSITION"
    )
    assert body["details"]["to"] == "ready"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"status": "ready", "completed": True}, {"status"}),
        ({"status": "nope"}, {"status"}),
        ({"status": "ready", "comment": "x" * 2001}, {"comment"}),
        ({"status": 7}, {"status"}),
        ({}, {"completed"}),
        ({"status": "ready", "colour": "red"}, {"colour"}),
    ],
)
def test_bad_status_bodies_are_400_naming_the_fields(as_frontdesk, body, fields):
    ticket = factories.make_ticket()
    error = assert_error(_status_call(as_frontdesk, ticket, body), 400, "VALIDATION_ERROR")
    assert fields <= set(error["details"]), error
    assert Ticket.objects.get(pk=ticket.pk).status.key == "received"


def test_a_technician_is_forbidden_to_hand_a_device_over(as_technician, technician):
    ticket = factories.make_ticket(status="ready", tech=technician)
    assert_error(_status_call(as_technician, ticket, {"status": "collected"}), 403, "FORBIDDEN")
    assert_error(
        _status_call(
            as_technician, ticket, {"status": "in_repair", "updatedAt": "2001-01-01T00:00:00Z"}
        ),
        409,
        "CONFLICT",
    )


def test_the_part_one_body_keeps_working(as_frontdesk):
    ticket = factories.make_ticket(status="in_repair")
    response = _status_call(as_frontdesk, ticket, {"completed": True, "notes": "Replaced fan"})
    assert response.status_code == 200
    body = response.json()["ticket"]
    assert (body["completed"], body["status"], body["notes"]) == (True, "ready", "Replaced fan")
    response = _status_call(as_frontdesk, ticket, {"completed": False})
    assert (response.json()["ticket"]["completed"], response.json()["ticket"]["status"]) == (
        False,
        "in_repair",
    )


# --- history -----------------------------------------------------------------------------------
def test_history_oldest_first_with_who_and_the_creation_first(as_frontdesk, frontdesk, manager):
    frontdesk.first_name, frontdesk.last_name = "Fred", "Desk"
    frontdesk.save()
    ticket = factories.make_ticket(status="collected")
    _status_call(as_frontdesk, ticket, {"status": "in_repair"})  # refused: no entry
    from tickets.services import ticket_set_status

    ticket_set_status(actor=manager, ticket_id=ticket.pk, status="in_repair", comment="Warranty")
    response = as_frontdesk.get(f"/api/tickets/{ticket.pk}/history")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"history", "metadata"}
    first, second = body["history"]
    assert first == {
        "from": None,
        "to": "collected",
        "at": first["at"],
        "by": None,
        "comment": "",
        "override": False,
        "notified": False,
    }
    assert second["from"] == "collected" and second["to"] == "in_repair"
    assert second["by"] == {"id": manager.pk, "name": "Mona"}  # first name only: full name
    assert second["override"] is True and second["comment"] == "Warranty"
    _status_call(as_frontdesk, ticket, {"status": "ready"})
    third = as_frontdesk.get(f"/api/tickets/{ticket.pk}/history").json()["history"][2]
    assert third["by"] == {"id": frontdesk.pk, "name": "Fred Desk"}


def test_history_by_name_falls_back_to_the_username(as_frontdesk):
    nameless = factories.make_user(username="nameless", roles=["frontdesk"])
    ticket = factories.make_ticket()
    from tickets.services import ticket_set_status

    ticket_set_status(actor=nameless, ticket_id=ticket.pk, status="diagnosing")
    entry = as_frontdesk.get(f"/api/tickets/{ticket.pk}/history").json()["history"][-1]
    assert entry["by"]["name"] == "nameless"


def test_history_missing_ticket_is_404(as_frontdesk):
    assert_error(as_frontdesk.get("/api/tickets/999999/history"), 404, "NOT_FOUND")


# --- list filters and sort ----------------------------------------------------------------------
@pytest.fixture
def spread(db):
    tickets = {
        key: factories.make_ticket(status=key)
        for key in ("received", "diagnosing", "waiting_parts", "ready", "collected")
    }
    Ticket.objects.filter(pk=tickets["diagnosing"].pk).update(
        status_changed_at=timezone.now() - timedelta(hours=49),
        overdue_at=timezone.now() - timedelta(hours=1),
    )
    return tickets


def _keys(client, **query):
    response = client.get("/api/tickets", pageSize=100, **query)
    assert response.status_code == 200, response.content
    return sorted(t["status"] for t in response.json()["tickets"])


def test_status_and_group_filters_take_several_values(as_frontdesk, spread):
    assert _keys(as_frontdesk, status="ready") == ["ready"]
    assert _keys(as_frontdesk, status="ready,received") == ["ready", "received"]
    assert _keys(as_frontdesk, statusGroup="waiting,in_progress") == ["diagnosing", "waiting_parts"]
    assert _keys(as_frontdesk, statusGroup="ready,closed", status="collected") == ["collected"]
    assert _keys(as_frontdesk, completed="false") == ["diagnosing", "received", "waiting_parts"]
    filters = as_frontdesk.get("/api/tickets", status="ready").json()["filters"]
    assert filters == {"status": "ready"}


def test_overdue_filter(as_frontdesk, spread):
    assert _keys(as_frontdesk, overdue="true") == ["diagnosing"]
    assert "diagnosing" not in _keys(as_frontdesk, overdue="false")


def test_unknown_status_and_group_are_one_400_naming_both(as_frontdesk, spread):
    body = assert_error(
        as_frontdesk.get("/api/tickets", status="ready,bogus", statusGroup="later"),
        400,
        "VALIDATION_ERROR",
    )
    assert set(body["details"]) == {"status", "statusGroup"}
    assert "bogus" in body["details"]["status"][0]


def test_sort_by_status_is_by_position_then_id(as_frontdesk, spread):
    extra = factories.make_ticket(status="received")
    rows = as_frontdesk.get("/api/tickets", sortBy="status", sortOrder="asc", pageSize=100).json()
    order = [(t["status"], t["id"]) for t in rows["tickets"]]
    assert order[:2] == [("received", spread["received"].pk), ("received", extra.pk)]
    assert [key for key, _ in order][2:] == ["diagnosing", "waiting_parts", "ready", "collected"]
    rows = as_frontdesk.get("/api/tickets", sortBy="status", pageSize=100).json()
    assert rows["tickets"][0]["status"] == "collected"


def test_a_technician_filters_only_their_own(as_technician, technician, spread):
    mine = factories.make_ticket(status="ready", tech=technician)
    response = as_technician.get("/api/tickets", status="ready")
    assert [t["id"] for t in response.json()["tickets"]] == [mine.pk]


def test_a_remembered_list_shows_a_ticket_turning_overdue_without_any_write(as_frontdesk):
    """Overdue changes with time alone: the data version moves when a deadline passes
    (settings.RENDERED_VERSION_DEADLINES), so the remembered list is not served stale (in
    verify mode a stale one would raise RenderedMismatch)."""
    import time

    ticket = factories.make_ticket(status="diagnosing")
    soon = timezone.now() + timedelta(seconds=1)
    Ticket.objects.filter(pk=ticket.pk).update(overdue_at=soon)
    first = as_frontdesk.get("/api/tickets").json()["tickets"][0]
    assert first["overdue"] is False
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.05)
    again = as_frontdesk.get("/api/tickets").json()["tickets"][0]
    assert again["overdue"] is True


@pytest.mark.parametrize("blank", ["", ",", " , "])
def test_a_blank_status_filter_is_no_filter(as_frontdesk, spread, blank):
    assert len(_keys(as_frontdesk, status=blank, statusGroup=blank)) == 5


def test_a_path_with_a_newline_is_the_apis_json_404(as_frontdesk):
    # schemathesis found it: the catch-all's "." did not take %0A, so the HTML 404 answered.
    response = as_frontdesk.get("/api/tickets/x%0Ay/history")
    assert_error(response, 404, "NOT_FOUND")
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.usefixtures("without_verify")  # a hit is not rendered again
def test_a_repeated_history_is_remembered_and_a_move_shows_at_once(
    as_frontdesk, django_assert_max_num_queries, settings
):
    settings.RATELIMIT_ENABLE = False  # its counters live in the database cache in tests
    ticket = factories.make_ticket()
    url = f"/api/tickets/{ticket.pk}/history"
    assert len(as_frontdesk.get(url).json()["history"]) == 1
    with django_assert_max_num_queries(2):  # token (with its user), data version
        assert len(as_frontdesk.get(url).json()["history"]) == 1
    moved = as_frontdesk.post(f"/api/tickets/{ticket.pk}/status", {"status": "diagnosing"})
    assert moved.status_code == 200
    assert [e["to"] for e in as_frontdesk.get(url).json()["history"]] == ["received", "diagnosing"]
