"""tickets.services and tickets.queries: every rule of docs/api.md §5 and §6 for tickets."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts import roles
from accounts.models import User
from accounts.permissions import STATUS_NOT_OWN_MESSAGE, AccessDenied, NotFound
from core.errors import DomainError
from core.models import ActivityLog
from core.pagination import paginate
from core.rendered import data_version
from tests import factories
from tickets.models import Notification, Priority, Ticket
from tickets.queries import (
    TicketFilters,
    technician_queue,
    ticket_get,
    ticket_list,
)
from tickets.services import (
    resolve_technician,
    ticket_assign,
    ticket_create,
    ticket_set_status,
    ticket_update,
)

pytestmark = pytest.mark.django_db


def ticket_data(customer, **overrides):
    data = {
        "customer_id": customer.pk if customer else None,
        "title": "Dell XPS 13 — no power",
        "description": "Coffee spill, does not power on.",
    }
    data.update(overrides)
    return data


def error_of(call, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(**kwargs)
    return caught.value


# --- create -------------------------------------------------------------------------------
def test_create_with_defaults(frontdesk, customer):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer, title="  Broken screen "))
    ticket.refresh_from_db()
    assert ticket.title == "Broken screen"
    assert ticket.priority == Priority.MEDIUM
    assert ticket.completed is False and ticket.completed_at is None
    assert (ticket.category, ticket.notes, ticket.device_type, ticket.serial_number) == ("",) * 4
    assert ticket.estimated_hours is None
    entry = ActivityLog.objects.get(action="ticket:create")
    assert (entry.actor, entry.object_id) == (frontdesk, ticket.pk)
    assert entry.metadata["changes"]["title"] == {"old": None, "new": "Broken screen"}


def test_create_with_every_field(frontdesk, customer, technician):
    ticket = ticket_create(
        actor=frontdesk,
        data=ticket_data(
            customer,
            tech=technician,
            priority=Priority.URGENT,
            category="Hardware",
            estimated_hours=Decimal("2.5"),
            notes="Back-up first",
            device_type="laptop",
            device_brand="Dell",
            device_model="XPS 13",
            serial_number="  SN-123 ",
            accessories="charger",
            condition="scratched lid",
        ),
    )
    ticket.refresh_from_db()
    assert ticket.tech == technician
    assert ticket.priority == Priority.URGENT
    assert ticket.estimated_hours == Decimal("2.50")
    assert ticket.serial_number == "SN-123"
    assert ticket.device_type == "laptop"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "   "),
        ("title", "x" * 201),
        ("description", " "),
        ("description", "x" * 10001),
        ("category", "x" * 101),
        ("notes", "x" * 10001),
        ("device_type", "toaster"),
        ("device_brand", "x" * 101),
        ("device_model", "x" * 101),
        ("serial_number", "x" * 101),
        ("accessories", "x" * 501),
        ("condition", "x" * 2001),
        ("priority", "critical"),
        ("priority", 7),
        ("priority", True),
        ("estimated_hours", -1),
        ("estimated_hours", 1000.01),
        ("estimated_hours", "1.234"),
        ("estimated_hours", "NaN"),
        ("estimated_hours", "lots"),
        ("estimated_hours", True),
        ("title", "bad\x00title"),
        ("description", "\x00"),
        ("serial_number", "SN\x00"),
        ("customer_id", "1"),
        ("tech", "tess@shop.test"),  # a User (from resolve_technician) is expected
        ("colour", "red"),
    ],
)
def test_create_rejects_invalid_field(frontdesk, customer, field, value):
    error = error_of(ticket_create, actor=frontdesk, data=ticket_data(customer, **{field: value}))
    assert (error.code, error.status) == ("VALIDATION_ERROR", 400)
    assert list(error.details) == [field]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("hours", [0, 1000, "999.99", 0.5, Decimal("12.25")])
def test_estimated_hours_bounds_are_inclusive(frontdesk, customer, hours):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer, estimated_hours=hours))
    assert Ticket.objects.get(pk=ticket.pk).estimated_hours == Decimal(str(hours))


def test_create_requires_customer_title_description(frontdesk):
    error = error_of(ticket_create, actor=frontdesk, data={})
    assert set(error.details) == {"customer_id", "title", "description"}


def test_priority_accepts_api_name(frontdesk, customer):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer, priority="high"))
    assert ticket.priority == Priority.HIGH


def test_missing_customer_is_invalid_customer(frontdesk):
    error = error_of(ticket_create, actor=frontdesk, data=ticket_data(customer=None, customer_id=9))
    assert (error.code, error.status, error.field) == ("INVALID_CUSTOMER", 400, "customer_id")


def test_inactive_customer_is_invalid_customer(frontdesk):
    inactive = factories.make_customer(active=False)
    error = error_of(ticket_create, actor=frontdesk, data=ticket_data(inactive))
    assert error.code == "INVALID_CUSTOMER"
    assert not Ticket.objects.exists()


# --- technicians --------------------------------------------------------------------------
def test_resolve_technician_by_email_any_case(technician):
    assert resolve_technician("  TECH@shop.test ") == technician


@pytest.mark.parametrize("kind", ["unknown", "inactive", "not_technician", "empty", "nul"])
def test_resolve_technician_refuses(technician, frontdesk, kind):
    email = {
        "unknown": "nobody@shop.test",
        "inactive": "gone@shop.test",
        "not_technician": frontdesk.email,
        "empty": "  ",
        "nul": "tech\x00@shop.test",
    }[kind]
    factories.make_user(username="gone", roles=[roles.TECHNICIAN], is_active=False)
    error = error_of(resolve_technician, email=email)
    assert (error.code, error.field) == ("VALIDATION_ERROR", "tech")


def test_explicit_tech_must_be_an_active_technician(frontdesk, customer, viewer):
    error = error_of(ticket_create, actor=frontdesk, data=ticket_data(customer, tech=viewer))
    assert (error.code, list(error.details)) == ("VALIDATION_ERROR", ["tech"])
    gone = factories.make_user(username="gone", roles=[roles.TECHNICIAN], is_active=False)
    error = error_of(ticket_create, actor=frontdesk, data=ticket_data(customer, tech=gone))
    assert error.code == "VALIDATION_ERROR"


# --- auto-assignment (docs/api.md §5) -------------------------------------------------------
def test_no_technician_leaves_ticket_unassigned(frontdesk, customer):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer))
    assert ticket.tech is None
    assert not Notification.objects.exists()


def test_auto_assigns_fewest_open_tickets(frontdesk, customer, technician, other_technician):
    factories.make_ticket(tech=technician)
    factories.make_ticket(tech=other_technician, completed=True)  # completed ones don't count
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer))
    assert ticket.tech == other_technician


def test_tech_none_on_create_also_auto_assigns(frontdesk, customer, technician):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer, tech=None))
    assert ticket.tech == technician


def test_tie_goes_to_never_assigned_then_oldest_assignment(frontdesk, customer):
    now = timezone.now()
    recent = factories.make_user(roles=[roles.TECHNICIAN], last_assigned_at=now)
    older = factories.make_user(roles=[roles.TECHNICIAN], last_assigned_at=now - timedelta(days=1))
    assert ticket_create(actor=frontdesk, data=ticket_data(customer)).tech == older
    never = factories.make_user(roles=[roles.TECHNICIAN])
    # older now has 1 open ticket; recent and never have 0, never-assigned comes first.
    assert ticket_create(actor=frontdesk, data=ticket_data(customer)).tech == never
    assert ticket_create(actor=frontdesk, data=ticket_data(customer)).tech == recent


def test_tie_without_history_goes_to_lowest_id(frontdesk, customer, technician, other_technician):
    assert technician.pk < other_technician.pk
    assert ticket_create(actor=frontdesk, data=ticket_data(customer)).tech == technician
    assert ticket_create(actor=frontdesk, data=ticket_data(customer)).tech == other_technician


def test_inactive_and_non_technicians_are_not_auto_assigned(frontdesk, customer, manager):
    factories.make_user(roles=[roles.TECHNICIAN], is_active=False)
    assert ticket_create(actor=frontdesk, data=ticket_data(customer)).tech is None


def test_assignment_updates_last_assigned_at(frontdesk, customer, technician):
    ticket_create(actor=frontdesk, data=ticket_data(customer))
    technician.refresh_from_db()
    assert technician.last_assigned_at is not None


def test_assignment_records_activity_and_queues_email(frontdesk, customer, technician):
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer))
    entry = ActivityLog.objects.get(action="ticket:assign")
    assert entry.metadata == {"changes": {"tech": {"old": None, "new": technician.email}}}
    notification = Notification.objects.get()
    assert (notification.ticket, notification.recipient) == (ticket, technician.email)
    assert notification.status == Notification.Status.PENDING


# --- update / assign ---------------------------------------------------------------------------
@pytest.fixture
def ticket(customer, technician):
    return factories.make_ticket(customer=customer, tech=technician, title="Old title")


def test_update_fields_and_activity(frontdesk, ticket):
    updated = ticket_update(
        actor=frontdesk,
        ticket_id=ticket.pk,
        data={"title": "New title", "priority": Priority.HIGH, "estimated_hours": "1.5"},
    )
    updated.refresh_from_db()
    assert (updated.title, updated.priority, updated.estimated_hours) == (
        "New title",
        Priority.HIGH,
        Decimal("1.50"),
    )
    entry = ActivityLog.objects.get(action="ticket:update")
    assert entry.metadata == {
        "changes": {
            "title": {"old": "Old title", "new": "New title"},
            "priority": {"old": "medium", "new": "high"},
            "estimated_hours": {"old": None, "new": "1.50"},
        }
    }


def test_update_reassigns_and_emails_new_tech(frontdesk, ticket, technician, other_technician):
    ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"tech": other_technician})
    ticket.refresh_from_db()
    assert ticket.tech == other_technician
    entry = ActivityLog.objects.get(action="ticket:assign")
    assert entry.metadata == {
        "changes": {"tech": {"old": technician.email, "new": other_technician.email}}
    }
    assert list(Notification.objects.values_list("recipient", flat=True)) == [
        other_technician.email
    ]


def test_update_tech_none_unassigns_without_email(frontdesk, ticket):
    ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"tech": None})
    ticket.refresh_from_db()
    assert ticket.tech is None
    assert not Notification.objects.exists()


def test_update_same_tech_sends_nothing(frontdesk, ticket, technician):
    ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"tech": technician})
    assert not Notification.objects.exists()
    assert not ActivityLog.objects.exists()


def test_update_customer_must_be_active(frontdesk, ticket):
    inactive = factories.make_customer(active=False)
    error = error_of(
        ticket_update, actor=frontdesk, ticket_id=ticket.pk, data={"customer_id": inactive.pk}
    )
    assert (error.code, error.field) == ("INVALID_CUSTOMER", "customer_id")
    other = factories.make_customer()
    ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"customer_id": other.pk})
    ticket.refresh_from_db()
    assert ticket.customer == other


def test_update_rejects_completed_and_unknown_fields(frontdesk, ticket):
    error = error_of(
        ticket_update, actor=frontdesk, ticket_id=ticket.pk, data={"completed": True, "x": 1}
    )
    assert set(error.details) == {"completed", "x"}


def test_update_missing_ticket_is_not_found(frontdesk):
    with pytest.raises(NotFound):
        ticket_update(actor=frontdesk, ticket_id=12345, data={"title": "x"})


def test_update_with_stale_updated_at_conflicts(frontdesk, ticket):
    error = error_of(
        ticket_update,
        actor=frontdesk,
        ticket_id=ticket.pk,
        data={"title": "Mine"},
        expected_updated_at=ticket.updated_at - timedelta(microseconds=1),
    )
    assert (error.code, error.status) == ("CONFLICT", 409)
    current = error.details["current"]
    assert isinstance(current, Ticket) and current.title == "Old title"
    ticket.refresh_from_db()
    assert ticket.title == "Old title"


def test_update_with_current_updated_at_succeeds(frontdesk, ticket):
    ticket_update(
        actor=frontdesk,
        ticket_id=ticket.pk,
        data={"title": "Mine"},
        expected_updated_at=ticket.updated_at,
    )
    assert Ticket.objects.get(pk=ticket.pk).title == "Mine"


def test_ticket_assign(frontdesk, ticket, other_technician):
    ticket_assign(actor=frontdesk, ticket_id=ticket.pk, tech=other_technician)
    assert Ticket.objects.get(pk=ticket.pk).tech == other_technician
    assert Notification.objects.get().recipient == other_technician.email
    other_technician.refresh_from_db()
    assert other_technician.last_assigned_at is not None
    ticket_assign(actor=frontdesk, ticket_id=ticket.pk, tech=None)
    assert Ticket.objects.get(pk=ticket.pk).tech is None
    assert ActivityLog.objects.filter(action="ticket:assign").count() == 2


def test_ticket_assign_refuses_non_technician(frontdesk, ticket, viewer):
    error = error_of(ticket_assign, actor=frontdesk, ticket_id=ticket.pk, tech=viewer)
    assert error.field == "tech"


# --- status ------------------------------------------------------------------------------
def test_complete_and_reopen(frontdesk, ticket):
    done = ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, completed=True, notes="Fixed")
    done.refresh_from_db()
    assert done.completed and done.completed_at is not None and done.notes == "Fixed"
    entry = ActivityLog.objects.get(action="ticket:status_change")
    # Part 1's keys, with §12's from/to (and comment, override) beside them.
    part1 = {"oldStatus": False, "newStatus": True, "notes": "Fixed"}
    assert {key: entry.metadata[key] for key in part1} == part1
    assert (entry.metadata["from"], entry.metadata["to"]) == ("received", "ready")
    reopened = ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, completed=False)
    reopened.refresh_from_db()
    assert not reopened.completed and reopened.completed_at is None
    assert reopened.notes == "Fixed"  # notes not given: kept


def test_empty_notes_replace_notes(frontdesk, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(notes="old notes")
    ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, completed=True, notes="")
    assert Ticket.objects.get(pk=ticket.pk).notes == ""


def test_status_validation(frontdesk, ticket):
    error = error_of(
        ticket_set_status, actor=frontdesk, ticket_id=ticket.pk, completed="yes", notes="\x00"
    )
    assert set(error.details) == {"completed", "notes"}


def test_technician_changes_status_of_own_ticket(technician, ticket):
    ticket_set_status(actor=technician, ticket_id=ticket.pk, completed=True)
    assert Ticket.objects.get(pk=ticket.pk).completed


def test_technician_cannot_change_status_of_others_ticket(other_technician, ticket):
    with pytest.raises(AccessDenied) as caught:
        ticket_set_status(actor=other_technician, ticket_id=ticket.pk, completed=True)
    assert caught.value.message == STATUS_NOT_OWN_MESSAGE
    assert not Ticket.objects.get(pk=ticket.pk).completed
    assert ActivityLog.objects.filter(action="permission:denied", actor=other_technician).exists()


def test_status_of_missing_ticket_is_not_found(technician):
    with pytest.raises(NotFound):
        ticket_set_status(actor=technician, ticket_id=98765, completed=True)


def test_viewer_cannot_change_status(viewer, ticket):
    with pytest.raises(AccessDenied):
        ticket_set_status(actor=viewer, ticket_id=ticket.pk, completed=True)


def test_status_with_stale_updated_at_conflicts(frontdesk, ticket):
    error = error_of(
        ticket_set_status,
        actor=frontdesk,
        ticket_id=ticket.pk,
        completed=True,
        expected_updated_at=ticket.updated_at + timedelta(seconds=1),
    )
    assert error.code == "CONFLICT"
    assert not Ticket.objects.get(pk=ticket.pk).completed


# --- permission matrix for writes (docs/api.md §6) ---------------------------------------------
@pytest.mark.parametrize("role", ["technician", "viewer"])
def test_technician_and_viewer_cannot_create_edit_or_assign(request, role, ticket, customer):
    user = request.getfixturevalue(role)
    with pytest.raises(AccessDenied):
        ticket_create(actor=user, data=ticket_data(customer))
    with pytest.raises(AccessDenied):
        ticket_update(actor=user, ticket_id=ticket.pk, data={"title": "x"})
    with pytest.raises(AccessDenied):
        ticket_assign(actor=user, ticket_id=ticket.pk, tech=None)
    assert Ticket.objects.count() == 1
    assert ActivityLog.objects.filter(action="permission:denied", actor=user).count() == 3


@pytest.mark.parametrize("role", ["manager", "frontdesk"])
def test_manager_and_frontdesk_may_do_every_ticket_write(request, role, ticket, customer):
    user = request.getfixturevalue(role)
    created = ticket_create(actor=user, data=ticket_data(customer))
    ticket_update(actor=user, ticket_id=created.pk, data={"title": "x"})
    ticket_assign(actor=user, ticket_id=created.pk, tech=None)
    ticket_set_status(actor=user, ticket_id=created.pk, completed=True)
    assert Ticket.objects.get(pk=created.pk).completed


# --- queries -------------------------------------------------------------------------------
def ids(qs):
    return [t.pk for t in qs]


def test_technician_sees_only_own_tickets(technician, other_technician, viewer):
    mine = factories.make_ticket(tech=technician)
    factories.make_ticket(tech=other_technician)
    factories.make_ticket()
    assert ids(ticket_list(user=technician)) == [mine.pk]
    # ... whatever the filters say.
    assert (
        ids(ticket_list(user=technician, filters=TicketFilters(tech_email="tech2@shop.test"))) == []
    )
    assert len(ids(ticket_list(user=viewer))) == 3


def test_ticket_get_visibility(technician, other_technician, viewer):
    mine = factories.make_ticket(tech=technician)
    theirs = factories.make_ticket(tech=other_technician)
    assert ticket_get(user=technician, ticket_id=mine.pk) == mine
    with pytest.raises(AccessDenied):
        ticket_get(user=technician, ticket_id=theirs.pk)
    with pytest.raises(NotFound):
        ticket_get(user=viewer, ticket_id=theirs.pk + 100)


def test_anonymous_sees_no_tickets():
    with pytest.raises(AccessDenied):
        ticket_list(user=AnonymousUser())


@pytest.fixture
def catalogue(customer, technician, other_technician):
    other_customer = factories.make_customer()
    return {
        "screen": factories.make_ticket(
            customer=customer, tech=technician, title="Cracked SCREEN", priority=Priority.LOW
        ),
        "battery": factories.make_ticket(
            customer=customer,
            tech=other_technician,
            title="Battery swelling",
            description="The screen lifts off",
            priority=Priority.URGENT,
            completed=True,
        ),
        "serial": factories.make_ticket(
            customer=other_customer, title="Noisy fan", serial_number="ABC-778899"
        ),
    }


def listed(user, **filters):
    return {t.title for t in ticket_list(user=user, filters=TicketFilters(**filters))}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"search": "screen"}, {"Cracked SCREEN", "Battery swelling"}),
        ({"search": "  SWELL "}, {"Battery swelling"}),
        ({"search": "c-7788"}, {"Noisy fan"}),
        ({"completed": True}, {"Battery swelling"}),
        ({"completed": False}, {"Cracked SCREEN", "Noisy fan"}),
        ({"tech_email": "TECH@shop.test"}, {"Cracked SCREEN"}),
        ({"priority": Priority.URGENT}, {"Battery swelling"}),
        ({"priority": "low"}, {"Cracked SCREEN"}),
        ({"search": "screen", "completed": False}, {"Cracked SCREEN"}),
    ],
)
def test_ticket_filters(manager, catalogue, filters, expected):
    assert listed(manager, **filters) == expected


def test_search_by_ticket_number(manager, catalogue):
    serial = catalogue["serial"]
    assert listed(manager, search=str(serial.pk)) >= {"Noisy fan"}
    assert listed(manager, search=f"#{serial.pk}") == {"Noisy fan"}
    assert listed(manager, search="#99999999999999999999") == set()


def test_customer_filter(manager, catalogue, customer):
    assert listed(manager, customer_id=customer.pk) == {"Cracked SCREEN", "Battery swelling"}


def test_date_filters_are_inclusive_and_bare_date_to_covers_the_day(manager, customer, settings):
    settings.TIME_ZONE = "America/New_York"
    with timezone.override("America/New_York"):
        # 23:30 in New York (EDT since March 8) on the 10th is 03:30 UTC on the 11th.
        late = factories.make_ticket(
            customer=customer, title="late", created_at=datetime(2026, 3, 11, 3, 30, tzinfo=UTC)
        )
        factories.make_ticket(
            customer=customer, title="next", created_at=datetime(2026, 3, 11, 4, 30, tzinfo=UTC)
        )
        assert listed(manager, date_to="2026-03-10") == {"late"}
        assert listed(manager, date_to=date(2026, 3, 10)) == {"late"}
        assert listed(manager, date_from="2026-03-11") == {"next"}
        assert listed(manager, date_from="2026-03-10", date_to="2026-03-10") == {"late"}
        exact = late.created_at.isoformat()
        assert listed(manager, date_from=exact, date_to=exact) == {"late"}


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-02-30"}, "date_to"),
        ({"sort_by": "customer"}, "sort_by"),
        ({"sort_order": "sideways"}, "sort_order"),
        ({"priority": "critical"}, "priority"),
        ({"search": "\x00"}, "search"),
    ],
)
def test_ticket_list_rejects_bad_filters(manager, filters, field):
    error = error_of(ticket_list, user=manager, filters=TicketFilters(**filters))
    assert error.code == "VALIDATION_ERROR" and field in error.details


@pytest.mark.parametrize("sort_by", ["id", "title", "created_at", "updated_at", "priority"])
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_ticket_sorts_with_id_tiebreak(manager, customer, sort_by, sort_order):
    same = timezone.now()
    for title, priority in [("b", 1), ("a", 4), ("b", 2), ("a", 4), ("c", 1)]:
        factories.make_ticket(customer=customer, title=title, priority=priority, created_at=same)
    rows = list(
        ticket_list(user=manager, filters=TicketFilters(sort_by=sort_by, sort_order=sort_order))
    )
    keys = [(getattr(t, sort_by), t.pk) for t in rows]
    assert keys == sorted(keys, reverse=sort_order == "desc")


def test_default_sort_is_newest_first(manager, customer):
    old = factories.make_ticket(customer=customer, created_at=timezone.now() - timedelta(days=1))
    new = factories.make_ticket(customer=customer)
    assert ids(ticket_list(user=manager)) == [new.pk, old.pk]


def test_ticket_list_query_budget_does_not_grow(manager, django_assert_num_queries):
    for _ in range(30):
        factories.make_ticket(tech=factories.make_user(roles=[roles.TECHNICIAN]))
    manager.get_all_permissions()  # loaded once per request, not per list
    for page_size in (5, 30):
        # 1: COUNT(*); 2: the page, customer and tech joined in.
        with django_assert_num_queries(2):
            page = paginate(
                ticket_list(user=manager, filters=TicketFilters(search="dell")),
                page=1,
                page_size=page_size,
            )
            assert all(t.customer.email and t.tech.email for t in page.items)


def test_technician_queue(technician, other_technician):
    low = factories.make_ticket(tech=technician, priority=Priority.LOW)
    urgent_new = factories.make_ticket(tech=technician, priority=Priority.URGENT)
    urgent_old = factories.make_ticket(
        tech=technician, priority=Priority.URGENT, created_at=timezone.now() - timedelta(hours=1)
    )
    factories.make_ticket(tech=technician, completed=True)
    factories.make_ticket(tech=other_technician)
    assert ids(technician_queue(user=technician)) == [urgent_old.pk, urgent_new.pk, low.pk]


def test_data_version_changes_on_every_visible_change(manager, frontdesk, customer):
    versions = [data_version()]
    ticket = ticket_create(actor=frontdesk, data=ticket_data(customer))
    versions.append(data_version())
    ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"title": "Renamed"})
    versions.append(data_version())
    ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, completed=True)
    versions.append(data_version())
    from customers.services import customer_update

    customer_update(actor=frontdesk, customer_id=customer.pk, data={"last_name": "Murray"})
    versions.append(data_version())
    assert len(set(versions)) == len(versions)
    assert data_version() == versions[-1]  # stable when nothing changes


def test_data_version_is_one_query(manager, django_assert_num_queries):
    factories.make_ticket()
    manager.get_all_permissions()
    with django_assert_num_queries(1):
        data_version()


def test_user_model_is_the_accounts_user():
    assert User._meta.label == "accounts.User"


def test_out_of_range_ids_are_not_found_not_crashes(frontdesk, manager):
    huge = 2**70
    error = error_of(ticket_create, actor=frontdesk, data=ticket_data(None, customer_id=huge))
    assert error.code == "INVALID_CUSTOMER"
    with pytest.raises(NotFound):
        ticket_update(actor=frontdesk, ticket_id=huge, data={"title": "x"})
    with pytest.raises(NotFound):
        ticket_set_status(actor=frontdesk, ticket_id=huge, completed=True)
    assert list(ticket_list(user=manager, filters=TicketFilters(customer_id=huge))) == []


def test_viewer_is_refused_status_change_even_for_a_missing_ticket(viewer):
    # A role that may never change a status gets 403 without learning whether it exists.
    with pytest.raises(AccessDenied):
        ticket_set_status(actor=viewer, ticket_id=98765, completed=True)


def test_status_permission_comes_before_validation(other_technician, ticket):
    with pytest.raises(AccessDenied):
        ticket_set_status(actor=other_technician, ticket_id=ticket.pk, completed="maybe")
