"""Contract §12 in the services: the default statuses, the four rules in their order, part
1's `completed` from every group, the history and activity entries of each move, and the
technician's load by group."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import errors
from core.errors import DomainError
from core.models import ActivityLog
from tests import factories
from tickets import queries
from tickets.default_statuses import DEFAULT_STATUSES
from tickets.models import Status, StatusChange, StatusGroup, StatusGroupDefault, Ticket
from tickets.services import ticket_create, ticket_set_status

pytestmark = pytest.mark.django_db


def _status(ticket) -> str:
    return Ticket.objects.select_related("status").get(pk=ticket.pk).status.key


def _history(ticket) -> list[tuple[str | None, str]]:
    return [
        (change.from_status.key if change.from_status_id else None, change.to_status.key)
        for change in StatusChange.objects.filter(ticket=ticket)
        .select_related("from_status", "to_status")
        .order_by("id")
    ]


def _move(actor, ticket, key, **kwargs):
    return ticket_set_status(actor=actor, ticket_id=ticket.pk, status=key, **kwargs)


# --- the defaults --------------------------------------------------------------------------------
def test_the_ten_default_statuses_are_the_contracts():
    flow = queries.workflow()
    rows = [
        (s.key, s.label, s.group, s.pk in flow.default_ids, s.notify_customer, s.active)
        for s in flow.statuses
    ]
    assert rows == [
        ("received", "Received", "new", True, False, True),
        ("diagnosing", "Diagnosing", "in_progress", False, False, True),
        ("in_repair", "In repair", "in_progress", True, False, True),
        ("awaiting_approval", "Awaiting your approval", "waiting", False, True, True),
        ("waiting_parts", "Waiting for parts", "waiting", True, True, True),
        ("ready", "Ready for pickup", "ready", True, True, True),
        ("ready_unrepaired", "Ready for pickup (not repaired)", "ready", False, True, True),
        ("collected", "Collected", "closed", True, False, True),
        ("cancelled", "Cancelled", "closed", False, False, True),
        ("abandoned", "Abandoned", "closed", False, False, True),
    ]
    contract_next = {
        "received": "diagnosing in_repair awaiting_approval waiting_parts ready"
        " ready_unrepaired cancelled",
        "diagnosing": "in_repair awaiting_approval waiting_parts ready ready_unrepaired cancelled",
        "in_repair": "diagnosing awaiting_approval waiting_parts ready ready_unrepaired",
        "awaiting_approval": "in_repair diagnosing ready_unrepaired cancelled",
        "waiting_parts": "in_repair diagnosing ready_unrepaired cancelled",
        "ready": "collected in_repair abandoned",
        "ready_unrepaired": "collected in_repair abandoned",
        "collected": "",
        "cancelled": "",
        "abandoned": "",
    }
    for status in flow.statuses:
        assert set(flow.next_keys(status)) == set(contract_next[status.key].split()), status.key
    assert [row[0] for row in DEFAULT_STATUSES] == [s.key for s in flow.statuses]
    # Exactly one default per group, each of its own group.
    defaults = dict(StatusGroupDefault.objects.values_list("group", "status__group"))
    assert defaults == {group: group for group in StatusGroup.values}


# --- create --------------------------------------------------------------------------------------
def test_a_new_ticket_starts_in_the_new_groups_default_with_its_first_history_entry(
    frontdesk, customer, technician
):
    ticket = ticket_create(
        actor=frontdesk, data={"customer_id": customer.pk, "title": "No boot", "description": "d"}
    )
    assert _status(ticket) == "received" and not ticket.completed
    assert ticket.completed_at is None
    assert ticket.overdue_at == ticket.status_changed_at + timedelta(hours=24)
    change = StatusChange.objects.get(ticket=ticket)
    assert (change.from_status, change.to_status.key, change.by) == (None, "received", frontdesk)
    created = ActivityLog.objects.get(action="ticket:create", object_id=str(ticket.pk))
    assert created.metadata["changes"]["status"] == {"old": None, "new": "received"}


def test_part_one_completed_on_create_means_the_ready_default(frontdesk, customer):
    ticket = ticket_create(
        actor=frontdesk,
        data={"customer_id": customer.pk, "title": "t", "description": "d", "completed": True},
    )
    assert _status(ticket) == "ready" and ticket.completed and ticket.completed_at is not None


def test_create_may_name_any_active_status_outside_closed(frontdesk, customer):
    ticket = ticket_create(
        actor=frontdesk,
        data={"customer_id": customer.pk, "title": "t", "description": "d", "status": "in_repair"},
    )
    assert _status(ticket) == "in_repair"
    assert _history(ticket) == [(None, "in_repair")]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"status": "collected"}, "status"),
        ({"status": "no_such_status"}, "status"),
        ({"status": "Received"}, "status"),
        ({"status": "waiting_parts", "completed": False}, "status"),
    ],
)
def test_create_refuses_a_closed_unknown_or_doubled_status(frontdesk, customer, extra, field):
    with pytest.raises(DomainError) as raised:
        ticket_create(
            actor=frontdesk,
            data={"customer_id": customer.pk, "title": "t", "description": "d", **extra},
        )
    assert raised.value.code == errors.VALIDATION_ERROR and field in raised.value.details
    assert not Ticket.objects.exists() and not StatusChange.objects.exists()


def test_create_refuses_an_inactive_status(frontdesk, customer):
    Status.objects.filter(key="diagnosing").update(active=False)
    with pytest.raises(DomainError) as raised:
        ticket_create(
            actor=frontdesk,
            data={
                "customer_id": customer.pk,
                "title": "t",
                "description": "d",
                "status": "diagnosing",
            },
        )
    assert raised.value.details == {"status": ["Unknown or inactive status"]}


# --- a move and what it writes -------------------------------------------------------------------
def test_a_move_writes_one_history_entry_and_one_activity_entry(frontdesk):
    ticket = factories.make_ticket()
    before = timezone.now()
    moved = _move(frontdesk, ticket, "waiting_parts", comment="Screen ordered from supplier")
    assert moved.status.key == "waiting_parts" and moved.status_changed_at >= before
    assert moved.overdue_at == moved.status_changed_at + timedelta(hours=72)
    assert _history(ticket) == [(None, "received"), ("received", "waiting_parts")]
    change = StatusChange.objects.filter(ticket=ticket).latest("id")
    assert change.by == frontdesk and change.comment == "Screen ordered from supplier"
    assert (change.override, change.notified) == (False, False)
    entry = ActivityLog.objects.get(action="ticket:status_change")
    assert (entry.metadata["from"], entry.metadata["to"]) == ("received", "waiting_parts")
    assert entry.metadata["override"] is False and entry.metadata["oldStatus"] is False


def test_completed_and_completed_at_follow_the_group(frontdesk):
    ticket = factories.make_ticket(status="in_repair")
    ready = _move(frontdesk, ticket, "ready")
    assert ready.completed and ready.completed_at == ready.status_changed_at
    entered_ready = ready.completed_at
    collected = _move(frontdesk, ticket, "collected")
    # Still completed since it entered ready: completedAt is when it left the open groups.
    assert collected.completed and collected.completed_at == entered_ready
    assert collected.overdue_at is None


def test_a_move_out_of_ready_reopens(frontdesk):
    ticket = factories.make_ticket(status="ready")
    reopened = _move(frontdesk, ticket, "in_repair")
    assert not reopened.completed and reopened.completed_at is None


# --- rule 1: unknown or inactive -----------------------------------------------------------------
@pytest.mark.parametrize("key", ["nope", "", "RECEIVED", "x" * 41, 3])
def test_rule_1_unknown_status_is_a_400_on_status(frontdesk, key):
    ticket = factories.make_ticket()
    with pytest.raises(DomainError) as raised:
        _move(frontdesk, ticket, key)
    assert raised.value.code == errors.VALIDATION_ERROR and "status" in raised.value.details
    assert _history(ticket) == [(None, "received")]


def test_rule_1_comes_before_rule_2_and_an_inactive_status_cannot_be_entered(manager):
    ticket = factories.make_ticket(status="diagnosing")
    Status.objects.filter(key="diagnosing").update(active=False)
    with pytest.raises(DomainError) as raised:  # even the status it is in
        _move(manager, ticket, "diagnosing")
    assert raised.value.code == errors.VALIDATION_ERROR
    with pytest.raises(DomainError):
        _move(manager, factories.make_ticket(), "diagnosing")  # an override does not help
    # A ticket already in it stays, and may leave.
    assert _move(manager, ticket, "in_repair").status.key == "in_repair"


def test_status_and_completed_together_is_a_400(frontdesk):
    ticket = factories.make_ticket()
    with pytest.raises(DomainError) as raised:
        ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, status="ready", completed=True)
    assert raised.value.code == errors.VALIDATION_ERROR


def test_the_comment_is_at_most_2000_characters(frontdesk):
    ticket = factories.make_ticket()
    with pytest.raises(DomainError) as raised:
        _move(frontdesk, ticket, "diagnosing", comment="x" * 2001)
    assert "comment" in raised.value.details
    assert _move(frontdesk, ticket, "diagnosing", comment="x" * 2000).status.key == "diagnosing"


# --- rule 2: the same status -------------------------------------------------------------------
def test_rule_2_the_same_status_changes_nothing(frontdesk):
    ticket = factories.make_ticket(status="waiting_parts")
    before = Ticket.objects.get(pk=ticket.pk)
    again = _move(frontdesk, ticket, "waiting_parts", comment="still waiting")
    assert again.updated_at == before.updated_at
    assert again.status_changed_at == before.status_changed_at
    assert _history(ticket) == [(None, "waiting_parts")]
    assert not ActivityLog.objects.filter(action="ticket:status_change").exists()


def test_rule_2_part_one_notes_are_still_applied_and_logged(frontdesk):
    ticket = factories.make_ticket(status="ready")
    same = ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, completed=True, notes="Boxed")
    assert same.status.key == "ready" and Ticket.objects.get(pk=ticket.pk).notes == "Boxed"
    assert _history(ticket) == [(None, "ready")]
    entry = ActivityLog.objects.get(action="ticket:status_change")
    assert entry.metadata["notes"] == "Boxed"
    assert (entry.metadata["oldStatus"], entry.metadata["newStatus"]) == (True, True)


# --- rule 3: only the allowed moves --------------------------------------------------------------
def test_rule_3_a_move_outside_next_is_409_with_the_allowed_moves(frontdesk):
    ticket = factories.make_ticket(status="waiting_parts")
    with pytest.raises(DomainError) as raised:
        _move(frontdesk, ticket, "ready")
    error = raised.value
    assert error.code == errors.INVALID_TRANSITION and error.status == 409
    assert error.details == {
        "from": "waiting_parts",
        "to": "ready",
        "allowed": ["diagnosing", "in_repair", "ready_unrepaired", "cancelled"],
    }
    assert "Diagnosing, In repair, Ready for pickup (not repaired), Cancelled" in error.message
    assert _history(ticket) == [(None, "waiting_parts")]


def test_rule_3_out_of_a_closed_status_there_is_no_allowed_move(frontdesk):
    ticket = factories.make_ticket(status="collected")
    with pytest.raises(DomainError) as raised:
        _move(frontdesk, ticket, "in_repair")
    assert raised.value.details["allowed"] == []


def test_rule_3_a_manager_overrides_and_the_override_is_logged(manager):
    ticket = factories.make_ticket(status="collected")
    moved = _move(manager, ticket, "in_repair", comment="Came back under warranty")
    assert moved.status.key == "in_repair" and not moved.completed
    change = StatusChange.objects.filter(ticket=ticket).latest("id")
    assert change.override is True
    assert ActivityLog.objects.get(action="ticket:status_change").metadata["override"] is True


def test_a_managers_allowed_move_is_no_override(manager):
    ticket = factories.make_ticket()
    _move(manager, ticket, "diagnosing")
    assert StatusChange.objects.filter(ticket=ticket).latest("id").override is False


# --- rule 4: into closed only for who hands devices over ----------------------------------------
def test_rule_4_a_technician_cannot_close_even_an_allowed_move(technician):
    ticket = factories.make_ticket(status="ready", tech=technician)
    with pytest.raises(DomainError) as raised:
        _move(technician, ticket, "collected")
    assert raised.value.code == errors.FORBIDDEN
    assert _status(ticket) == "ready" and _history(ticket) == [(None, "ready")]
    denied = ActivityLog.objects.get(action="permission:denied")
    assert denied.object_id == ticket.pk


def test_rule_3_is_checked_before_rule_4(technician):
    ticket = factories.make_ticket(status="in_repair", tech=technician)
    with pytest.raises(DomainError) as raised:
        _move(technician, ticket, "collected")
    assert raised.value.code == errors.INVALID_TRANSITION


def test_a_technician_works_their_own_ticket_through_the_open_statuses(technician):
    ticket = factories.make_ticket(tech=technician)
    for key in ("diagnosing", "waiting_parts", "in_repair", "ready"):
        _move(technician, ticket, key)
    assert [to for _, to in _history(ticket)] == [
        "received",
        "diagnosing",
        "waiting_parts",
        "in_repair",
        "ready",
    ]


def test_a_technician_cannot_move_someone_elses_ticket(technician, other_technician):
    ticket = factories.make_ticket(tech=other_technician)
    with pytest.raises(DomainError) as raised:
        _move(technician, ticket, "diagnosing")
    assert raised.value.code == errors.FORBIDDEN


@pytest.mark.parametrize("who", ["manager", "frontdesk"])
def test_the_front_desk_and_managers_hand_devices_over(request, who):
    actor = request.getfixturevalue(who)
    ticket = factories.make_ticket(status="ready")
    assert _move(actor, ticket, "collected").status.key == "collected"


# --- part 1's completed from every group ------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "completed", "outcome"),
    [
        ("received", True, "ready"),
        ("diagnosing", True, "ready"),
        ("in_repair", True, "ready"),
        ("awaiting_approval", True, errors.INVALID_TRANSITION),
        ("waiting_parts", True, errors.INVALID_TRANSITION),
        ("ready", True, "ready"),  # already completed: stays
        ("ready_unrepaired", True, "ready_unrepaired"),
        ("collected", True, "collected"),
        ("received", False, "received"),  # already not completed: stays
        ("diagnosing", False, "diagnosing"),
        ("waiting_parts", False, "waiting_parts"),
        ("ready", False, "in_repair"),
        ("ready_unrepaired", False, "in_repair"),
        ("collected", False, errors.INVALID_TRANSITION),
        ("cancelled", False, errors.INVALID_TRANSITION),
    ],
)
def test_part_one_completed_from_each_group(frontdesk, start, completed, outcome):
    ticket = factories.make_ticket(status=start)
    if outcome == errors.INVALID_TRANSITION:
        with pytest.raises(DomainError) as raised:
            ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, completed=completed)
        assert raised.value.code == outcome and raised.value.details["from"] == start
        assert _status(ticket) == start
        return
    result = ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, completed=completed)
    assert result.status.key == outcome
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.completed is (outcome in ("ready", "ready_unrepaired", "collected"))
    assert len(_history(ticket)) == (1 if outcome == start else 2)


def test_part_one_reopen_of_a_closed_ticket_is_a_managers_override(manager):
    ticket = factories.make_ticket(status="collected")
    result = ticket_set_status(actor=manager, ticket_id=ticket.pk, completed=False)
    assert result.status.key == "in_repair"
    assert StatusChange.objects.filter(ticket=ticket).latest("id").override is True


# --- load by group --------------------------------------------------------------------------------
def test_auto_assignment_counts_new_in_progress_and_waiting_only(frontdesk, customer):
    busy = factories.make_user(username="busy", roles=["technician"])
    idle = factories.make_user(username="idle", roles=["technician"])
    for key in ("received", "diagnosing", "waiting_parts"):
        factories.make_ticket(status=key, tech=busy)
    for key in ("ready", "ready_unrepaired", "collected", "cancelled", "abandoned"):
        factories.make_ticket(status=key, tech=idle)
    # Neither was ever assigned: the load decides.
    ticket = ticket_create(
        actor=frontdesk, data={"customer_id": customer.pk, "title": "t", "description": "d"}
    )
    assert ticket.tech == idle
    # Moving one of the busy technician's tickets to ready lowers their load.
    for tk in Ticket.objects.filter(tech=busy):
        ticket_set_status(actor=frontdesk, ticket_id=tk.pk, status="ready_unrepaired")
    # idle has one open ticket now, busy none
    assert (
        ticket_create(
            actor=frontdesk, data={"customer_id": customer.pk, "title": "t", "description": "d"}
        ).tech
        == busy
    )


# --- history --------------------------------------------------------------------------------------
def test_history_is_oldest_first_with_the_time_spent_in_each_status(frontdesk, manager):
    ticket = factories.make_ticket(created_at=timezone.now() - timedelta(hours=5))
    StatusChange.objects.filter(ticket=ticket).update(at=timezone.now() - timedelta(hours=5))
    _move(frontdesk, ticket, "diagnosing")
    _move(manager, ticket, "waiting_parts", comment="Part ordered")
    _, entries = queries.ticket_history(user=frontdesk, ticket_id=ticket.pk)
    assert [(e.change.to_status.key, e.current) for e in entries] == [
        ("received", False),
        ("diagnosing", False),
        ("waiting_parts", True),
    ]
    assert timedelta(hours=4, minutes=59) < entries[0].duration < timedelta(hours=5, minutes=1)
    assert entries[1].duration < timedelta(minutes=1)
    assert entries[2].change.comment == "Part ordered" and entries[2].change.by == manager


def test_history_has_the_tickets_visibility(technician, other_technician):
    ticket = factories.make_ticket(tech=other_technician)
    with pytest.raises(DomainError) as raised:
        queries.ticket_history(user=technician, ticket_id=ticket.pk)
    assert raised.value.code == errors.FORBIDDEN


def test_history_query_count_does_not_grow_with_entries(frontdesk, django_assert_max_num_queries):
    ticket = factories.make_ticket()
    for _ in range(15):
        _move(frontdesk, ticket, "diagnosing")
        _move(frontdesk, ticket, "in_repair")
    with django_assert_max_num_queries(2):
        _, entries = queries.ticket_history(user=frontdesk, ticket_id=ticket.pk)
        assert [e.change.by.username for e in entries[1:]] == ["frontdesk"] * 30
