"""Statuses in the admin (issue 12): who may edit them, every rule of an edit with its
message, the default switch, the transition map, deleting; and the database rules behind
them (tickets/migrations/0007_status_rules), on SQLite and PostgreSQL, and the data
migration of part 1's tickets (0006_default_statuses)."""

import importlib
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from core.models import ActivityLog
from core.rendered import data_version
from tests import factories
from tests.helpers import ApiClient
from tickets import services
from tickets.models import (
    Status,
    StatusChange,
    StatusGroup,
    StatusGroupDefault,
    StatusTransition,
    Ticket,
)

CHANGELIST = "/admin/tickets/status/"
ADD = "/admin/tickets/status/add/"
MAP = "/admin/tickets/status/map/"

rules_migration = importlib.import_module("tickets.migrations.0007_status_rules")


def change_url(status: Status) -> str:
    return f"/admin/tickets/status/{status.pk}/change/"


def delete_url(status: Status) -> str:
    return f"/admin/tickets/status/{status.pk}/delete/"


def status(key: str) -> Status:
    return Status.objects.get(key=key)


def form_data(current: Status | None = None, **overrides) -> dict:
    """The change form as the admin would post it unchanged (or an add form's fields)."""
    if current is None:
        data = {
            "key": "on_hold",
            "label": "On hold",
            "group": "waiting",
            "position": "20",
            "time_limit_hours": "",
            "active": "on",
        }
    else:
        data = {
            "label": current.label,
            "group": current.group,
            "position": str(current.position),
            "time_limit_hours": ""
            if current.time_limit_hours is None
            else str(current.time_limit_hours),
            "allowed_moves": [
                str(pk)
                for pk in StatusTransition.objects.filter(source=current).values_list(
                    "target_id", flat=True
                )
            ],
        }
        if current.active:
            data["active"] = "on"
        if current.notify_customer:
            data["notify_customer"] = "on"
        if StatusGroupDefault.objects.filter(status=current).exists():
            data["is_default"] = "on"
    for name, value in overrides.items():
        if value is False:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = value
    return data


def form_errors(response) -> dict[str, list[str]]:
    """The change form's errors per field ("__all__" for the form's own)."""
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    return {name: list(messages) for name, messages in form.errors.items()}


def defaults() -> dict[str, str]:
    return dict(StatusGroupDefault.objects.values_list("group", "status__key"))


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


# --- who may ---------------------------------------------------------------------------------
def test_a_manager_sees_the_changelist_the_forms_and_the_map(manager_client):
    received = status("received")
    for url in (CHANGELIST, ADD, change_url(received), MAP, delete_url(status("abandoned"))):
        assert manager_client.get(url).status_code == 200, url


@pytest.mark.parametrize("who", ["frontdesk", "technician", "viewer"])
def test_other_roles_cannot_see_or_edit_statuses(client, db, who, request):
    client.force_login(request.getfixturevalue(who))
    received = status("received")
    for url in (CHANGELIST, ADD, change_url(received), MAP, delete_url(received)):
        assert client.get(url).status_code == 403, url
    assert client.post(change_url(received), form_data(received, label="Hacked")).status_code == 403
    assert client.post(ADD, form_data()).status_code == 403
    assert client.post(delete_url(status("abandoned")), {"post": "yes"}).status_code == 403
    assert status("received").label == "Received"
    assert not Status.objects.filter(key="on_hold").exists()
    assert Status.objects.filter(key="abandoned").exists()


def test_anonymous_is_sent_to_sign_in_for_the_map(client, db):
    response = client.get(MAP, follow=True)
    final_url, _ = response.redirect_chain[-1]
    assert final_url.startswith(reverse("login"))


@pytest.mark.parametrize("who", ["frontdesk", "technician", "viewer"])
def test_the_service_refuses_other_roles_and_logs_the_denial(db, who, request):
    from accounts.permissions import AccessDenied

    user = request.getfixturevalue(who)
    received = status("received")
    with pytest.raises(AccessDenied):
        services.status_save(actor=user, status_id=received.pk, data={"label": "Hacked"})
    with pytest.raises(AccessDenied):
        services.status_delete(actor=user, status_id=status("abandoned").pk)
    assert status("received").label == "Received"
    denials = ActivityLog.objects.filter(actor=user, action="permission:denied")
    assert sorted(e.metadata["attempted"] for e in denials) == ["status:delete", "status:update"]


# --- the changelist ----------------------------------------------------------------------------
def test_the_changelist_shows_every_column_by_position(manager_client):
    response = manager_client.get(CHANGELIST)
    html = response.content.decode()
    for header in ("Label", "Key", "Group", "Position", "Default", "Notify customer"):
        assert header in html
    assert "Time limit (hours)" in html and "Allowed moves" in html
    labels = [s.label for s in response.context["cl"].result_list]
    assert labels == [s.label for s in Status.objects.order_by("position", "id")]
    assert labels[0] == "Received"
    # Received's moves, by position.
    assert (
        "Diagnosing, In repair, Awaiting your approval, Waiting for parts, Ready for pickup, "
        "Ready for pickup (not repaired), Cancelled" in html
    )
    assert 'href="/admin/tickets/status/map/"' in html


def test_the_changelist_query_count_does_not_grow_with_statuses(
    manager_client, django_assert_max_num_queries
):
    # session, user, permissions (2), the statuses, their moves (one prefetch), the counts
    # of the changelist and the filters: about a dozen, however many statuses there are.
    with django_assert_max_num_queries(14):
        assert manager_client.get(CHANGELIST).status_code == 200
    targets = list(Status.objects.all())
    for n in range(15):
        extra = Status.objects.create(key=f"extra_{n}", label=f"Extra {n}", group="waiting")
        StatusTransition.objects.bulk_create(
            StatusTransition(source=extra, target=t) for t in targets
        )
    with django_assert_max_num_queries(14):
        response = manager_client.get(CHANGELIST)
    assert "Extra 14" in response.content.decode()


# --- creating and changing -------------------------------------------------------------------
def test_a_manager_adds_a_status_with_its_moves(manager_client, manager):
    data = form_data(
        allowed_moves=[str(status("in_repair").pk), str(status("cancelled").pk)],
        time_limit_hours="48",
        notify_customer=True,
    )
    response = manager_client.post(ADD, data)
    assert response.status_code == 302, form_errors(response)
    on_hold = status("on_hold")
    assert (on_hold.label, on_hold.group, on_hold.position, on_hold.time_limit_hours) == (
        "On hold",
        "waiting",
        20,
        48,
    )
    assert on_hold.notify_customer and on_hold.active
    assert set(
        StatusTransition.objects.filter(source=on_hold).values_list("target__key", flat=True)
    ) == {
        "in_repair",
        "cancelled",
    }
    entry = ActivityLog.objects.get(action="status:create")
    assert entry.actor == manager and entry.object_id == on_hold.pk
    assert entry.metadata["changes"]["next"] == {"old": None, "new": ["in_repair", "cancelled"]}
    assert defaults()["waiting"] == "waiting_parts"  # not made the default


def test_moves_are_replaced_as_a_whole_and_the_change_is_logged(manager_client, manager):
    received = status("received")
    data = form_data(
        received, allowed_moves=[str(status("diagnosing").pk), str(status("cancelled").pk)]
    )
    response = manager_client.post(change_url(received), data)
    assert response.status_code == 302, form_errors(response)
    assert list(
        StatusTransition.objects.filter(source=received)
        .order_by("target__position")
        .values_list("target__key", flat=True)
    ) == ["diagnosing", "cancelled"]
    entry = ActivityLog.objects.get(action="status:update", object_id=received.pk)
    assert entry.metadata["changes"] == {
        "next": {
            "old": [
                "diagnosing",
                "in_repair",
                "awaiting_approval",
                "waiting_parts",
                "ready",
                "ready_unrepaired",
                "cancelled",
            ],
            "new": ["diagnosing", "cancelled"],
        }
    }
    # The workflow follows: Received no longer moves to In repair.
    ticket = factories.make_ticket(status="received")
    frontdesk = factories.make_user(roles=["frontdesk"])
    from core.errors import DomainError

    with pytest.raises(DomainError) as refused:
        services.ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, status="in_repair")
    assert refused.value.code == "INVALID_TRANSITION"


def test_a_form_sent_back_unchanged_writes_nothing(manager_client):
    received = status("received")
    before = received.updated_at
    response = manager_client.post(change_url(received), form_data(received))
    assert response.status_code == 302, form_errors(response)
    assert status("received").updated_at == before
    assert not ActivityLog.objects.filter(action="status:update").exists()


def test_the_key_is_shown_but_not_editable_on_the_change_form(manager_client):
    received = status("received")
    page = manager_client.get(change_url(received)).content.decode()
    assert 'name="key"' not in page and "received" in page
    response = manager_client.post(change_url(received), form_data(received, key="renamed"))
    assert response.status_code == 302
    assert status("received").key == "received"
    assert not Status.objects.filter(key="renamed").exists()


def test_the_service_refuses_a_key_change(manager):
    with pytest.raises(Exception) as refused:
        services.status_save(
            actor=manager, status_id=status("received").pk, data={"key": "renamed"}
        )
    assert refused.value.details == {"key": [services.KEY_FIXED_MESSAGE]}


# --- every rule, with its message ------------------------------------------------------------
def test_every_bad_field_of_a_new_status_is_named_at_once(manager_client):
    response = manager_client.post(
        ADD,
        form_data(
            key="On Hold!",
            label="   ",
            position="-1",
            time_limit_hours="9000",
        ),
    )
    errors = form_errors(response)
    assert errors["key"] == [services.KEY_MESSAGE]
    assert errors["label"] == ["This field is required."]
    assert errors["position"] == [services.POSITION_MESSAGE]
    assert errors["time_limit_hours"] == [services.TIME_LIMIT_MESSAGE]
    assert Status.objects.count() == 10


@pytest.mark.parametrize(
    "key, message",
    [
        ("received", services.KEY_TAKEN_MESSAGE),
        ("a" * 41, services.KEY_MESSAGE),
        ("on-hold", services.KEY_MESSAGE),
        ("ÄÖ", services.KEY_MESSAGE),
        ("on_hold\n", services.KEY_MESSAGE),
    ],
)
def test_a_key_must_be_a_new_slug(manager_client, key, message):
    assert form_errors(manager_client.post(ADD, form_data(key=key)))["key"] == [message]
    assert Status.objects.count() == 10


@pytest.mark.parametrize(
    "hours, accepted", [("0", False), ("1", True), ("8760", True), ("8761", False)]
)
def test_the_time_limit_is_1_to_8760_hours(manager_client, hours, accepted):
    response = manager_client.post(ADD, form_data(time_limit_hours=hours))
    if accepted:
        assert response.status_code == 302
        assert status("on_hold").time_limit_hours == int(hours)
    else:
        assert form_errors(response) == {"time_limit_hours": [services.TIME_LIMIT_MESSAGE]}


def test_the_group_of_a_status_in_use_cannot_change_and_the_count_is_said(manager_client):
    diagnosing = status("diagnosing")
    factories.make_ticket(status="diagnosing")
    factories.make_ticket(status="diagnosing")
    response = manager_client.post(change_url(diagnosing), form_data(diagnosing, group="waiting"))
    errors = form_errors(response)
    assert errors == {"group": [services.GROUP_IN_USE_MESSAGE.format(count="2 tickets")]}
    assert "This status has 2 tickets in it" in errors["group"][0]
    assert status("diagnosing").group == "in_progress"


def test_the_group_of_an_unused_status_can_change(manager_client):
    diagnosing = status("diagnosing")
    response = manager_client.post(change_url(diagnosing), form_data(diagnosing, group="waiting"))
    assert response.status_code == 302, form_errors(response)
    assert status("diagnosing").group == "waiting"


def test_a_groups_default_cannot_be_deactivated(manager_client):
    received = status("received")
    errors = form_errors(
        manager_client.post(change_url(received), form_data(received, active=False))
    )
    assert errors == {"active": [services.DEFAULT_DEACTIVATED_MESSAGE.format(group="New")]}
    assert status("received").active


def test_a_groups_default_cannot_move_to_another_group(manager_client):
    in_repair = status("in_repair")
    errors = form_errors(
        manager_client.post(change_url(in_repair), form_data(in_repair, group="waiting"))
    )
    assert errors == {"group": [services.DEFAULT_MOVED_MESSAGE.format(group="In progress")]}
    assert status("in_repair").group == "in_progress"


def test_a_groups_default_cannot_be_undefaulted(manager_client):
    in_repair = status("in_repair")
    errors = form_errors(
        manager_client.post(change_url(in_repair), form_data(in_repair, is_default=False))
    )
    assert errors == {"is_default": [services.DEFAULT_KEPT_MESSAGE.format(group="In progress")]}
    assert defaults()["in_progress"] == "in_repair"


def test_the_three_rules_of_a_default_are_named_at_once(manager_client):
    received = status("received")
    factories.make_ticket(status="received")
    errors = form_errors(
        manager_client.post(
            change_url(received),
            form_data(received, active=False, group="waiting", is_default=False),
        )
    )
    assert errors == {
        "active": [services.DEFAULT_DEACTIVATED_MESSAGE.format(group="New")],
        "group": [
            services.GROUP_IN_USE_MESSAGE.format(count="1 ticket"),
            services.DEFAULT_MOVED_MESSAGE.format(group="New"),
        ],
        "is_default": [services.DEFAULT_KEPT_MESSAGE.format(group="New")],
    }


def test_an_inactive_status_cannot_be_made_the_default(manager_client):
    diagnosing = status("diagnosing")
    errors = form_errors(
        manager_client.post(
            change_url(diagnosing), form_data(diagnosing, active=False, is_default=True)
        )
    )
    assert errors == {"is_default": [services.INACTIVE_DEFAULT_MESSAGE]}
    cancelled = status("cancelled")
    Status.objects.filter(pk=cancelled.pk).update(active=False)
    cancelled.refresh_from_db()
    errors = form_errors(
        manager_client.post(change_url(cancelled), form_data(cancelled, is_default=True))
    )
    assert errors == {"is_default": [services.INACTIVE_DEFAULT_MESSAGE]}
    assert defaults()["closed"] == "collected"


def test_a_new_inactive_status_cannot_be_the_default(manager_client):
    errors = form_errors(manager_client.post(ADD, form_data(active=False, is_default=True)))
    assert errors == {"is_default": [services.INACTIVE_DEFAULT_MESSAGE]}


def test_a_move_to_itself_is_not_a_move(manager_client):
    received = status("received")
    data = form_data(received)
    data["allowed_moves"].append(str(received.pk))
    errors = form_errors(manager_client.post(change_url(received), data))
    assert errors == {"allowed_moves": [services.SELF_MOVE_MESSAGE]}
    # ...and the form does not offer it.
    page = manager_client.get(change_url(received)).content.decode()
    assert f'name="allowed_moves" value="{received.pk}"' not in page
    assert f'name="allowed_moves" value="{status("diagnosing").pk}"' in page


def test_the_service_names_every_bad_field_of_an_api_like_body(manager):
    from core.errors import DomainError

    with pytest.raises(DomainError) as refused:
        services.status_save(
            actor=manager,
            status_id=None,
            data={
                "key": "x" * 41,
                "label": "ok\x00",
                "group": "limbo",
                "position": True,
                "time_limit_hours": 1.5,
                "active": "yes",
                "next": ["received", "nowhere", "x" * 41],
                "colour": "red",
            },
        )
    details = refused.value.details
    assert refused.value.code == "VALIDATION_ERROR"
    assert set(details) == {
        "key",
        "label",
        "group",
        "position",
        "time_limit_hours",
        "active",
        "next",
        "colour",
    }
    assert details["group"] == [services.GROUP_MESSAGE]
    assert details["next"] == [
        services.UNKNOWN_MOVE_MESSAGE.format(keys="nowhere"),
        services.SELF_MOVE_MESSAGE,
    ]
    assert Status.objects.count() == 10


def test_a_form_error_and_a_rule_are_shown_together(manager_client):
    # "abc" fails the form's number field; the rule on the key is still checked and shown.
    errors = form_errors(manager_client.post(ADD, form_data(key="Bad", position="abc")))
    assert errors["position"] == ["Enter a whole number."]
    assert errors["key"] == [services.KEY_MESSAGE]


# --- the default switch ----------------------------------------------------------------------
def test_making_a_status_the_default_repoints_its_group(manager_client, manager):
    diagnosing = status("diagnosing")
    in_repair_updated = status("in_repair").updated_at
    response = manager_client.post(change_url(diagnosing), form_data(diagnosing, is_default=True))
    assert response.status_code == 302, form_errors(response)
    assert defaults() == {
        "new": "received",
        "in_progress": "diagnosing",
        "waiting": "waiting_parts",
        "ready": "ready",
        "closed": "collected",
    }
    assert StatusGroupDefault.objects.count() == 5
    # The former default's isDefault changed: its updated_at (the data version) moved.
    assert status("in_repair").updated_at > in_repair_updated
    entry = ActivityLog.objects.get(action="status:update", object_id=diagnosing.pk)
    assert entry.metadata["changes"] == {"is_default": {"old": False, "new": True}}
    # ...and the former default can now be deactivated.
    in_repair = status("in_repair")
    response = manager_client.post(change_url(in_repair), form_data(in_repair, active=False))
    assert response.status_code == 302, form_errors(response)


def test_a_status_moved_to_another_group_as_its_default(manager_client):
    # Not the default of its old group: it may become the new group's default on the way.
    unrepaired = status("ready_unrepaired")
    response = manager_client.post(
        change_url(unrepaired), form_data(unrepaired, group="closed", is_default=True)
    )
    assert response.status_code == 302, form_errors(response)
    assert defaults()["closed"] == "ready_unrepaired"
    assert defaults()["ready"] == "ready"
    groups = list(StatusGroupDefault.objects.values_list("group", flat=True))
    assert sorted(groups) == sorted(StatusGroup.values)


def test_a_new_status_made_the_default_takes_the_groups_default(manager_client):
    response = manager_client.post(ADD, form_data(group="new", is_default=True))
    assert response.status_code == 302, form_errors(response)
    assert defaults()["new"] == "on_hold"
    # New tickets start there now.
    frontdesk = factories.make_user(roles=["frontdesk"])
    ticket = services.ticket_create(
        actor=frontdesk,
        data={"customer_id": factories.make_customer().pk, "title": "t", "description": "d"},
    )
    assert ticket.status.key == "on_hold"


# --- a label edit shows everywhere -----------------------------------------------------------
def test_a_label_edit_moves_the_data_version_and_shows_in_the_lists_and_the_api(
    manager_client, manager
):
    technician = factories.make_user(username="techy", roles=["technician"])
    ticket = factories.make_ticket(status="waiting_parts", tech=technician)
    queue = Client()
    queue.force_login(technician)
    # Rendered once before the edit, so that a remembered rendering would be served after.
    assert "Waiting for parts" in manager_client.get("/tickets/board/").content.decode()
    assert "Waiting for parts" in queue.get("/tickets/queue/").content.decode()
    before = data_version()
    waiting = status("waiting_parts")
    response = manager_client.post(change_url(waiting), form_data(waiting, label="Parts on order"))
    assert response.status_code == 302, form_errors(response)
    # The remembered lists (core.rendered) key on the data version: they render afresh.
    assert data_version() != before
    tickets_page = manager_client.get("/admin/tickets/ticket/").content.decode()
    assert "Parts on order" in tickets_page and f"#{ticket.pk} " in tickets_page
    board = manager_client.get("/tickets/board/").content.decode()
    assert "Parts on order" in board and "Waiting for parts" not in board
    assert "Parts on order" in queue.get("/tickets/queue/").content.decode()
    api = ApiClient(token=factories.make_token(manager))
    statuses = {s["key"]: s for s in api._call("get", "/api/statuses").json()["statuses"]}
    assert statuses["waiting_parts"]["label"] == "Parts on order"


# --- deleting --------------------------------------------------------------------------------
def test_deleting_a_status_in_use_shows_the_protected_page(manager_client):
    factories.make_ticket(status="diagnosing")
    diagnosing = status("diagnosing")
    page = manager_client.get(delete_url(diagnosing))
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 ticket in it" in html and "1 history entry names it" in html
    assert manager_client.post(delete_url(diagnosing), {"post": "yes"}).status_code == 200
    assert Status.objects.filter(pk=diagnosing.pk).exists()


def test_a_status_once_used_is_protected_by_its_history(manager_client, frontdesk):
    ticket = factories.make_ticket(status="received")
    services.ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, status="diagnosing")
    services.ticket_set_status(actor=frontdesk, ticket_id=ticket.pk, status="in_repair")
    diagnosing = status("diagnosing")
    html = manager_client.get(delete_url(diagnosing)).content.decode()
    assert "2 history entries name it" in html and "ticket in it" not in html
    assert manager_client.post(delete_url(diagnosing), {"post": "yes"}).status_code == 200
    assert Status.objects.filter(pk=diagnosing.pk).exists()


def test_a_groups_default_cannot_be_deleted(manager_client):
    collected = status("collected")
    html = manager_client.get(delete_url(collected)).content.decode()
    assert "it is the default of the Closed group" in html
    manager_client.post(delete_url(collected), {"post": "yes"})
    assert Status.objects.filter(key="collected").exists()


def test_deleting_an_unused_status_works_and_its_moves_go_with_it(manager_client, manager):
    abandoned = status("abandoned")
    before = data_version()
    response = manager_client.post(delete_url(abandoned), {"post": "yes"})
    assert response.status_code == 302
    assert not Status.objects.filter(key="abandoned").exists()
    assert not StatusTransition.objects.filter(target_id=abandoned.pk).exists()
    assert data_version() != before
    entry = ActivityLog.objects.get(action="status:delete")
    assert entry.metadata == {"key": "abandoned", "label": "Abandoned"}


def test_the_delete_action_refuses_a_status_in_use_and_deletes_the_unused(manager_client):
    factories.make_ticket(status="cancelled")
    cancelled, abandoned = status("cancelled"), status("abandoned")
    page = manager_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [cancelled.pk, abandoned.pk]},
    )
    assert page.status_code == 200
    assert "Cancelled: 1 ticket in it" in page.content.decode()
    assert Status.objects.filter(pk__in=[cancelled.pk, abandoned.pk]).count() == 2
    response = manager_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [abandoned.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not Status.objects.filter(pk=abandoned.pk).exists()


def test_the_delete_service_says_why_a_status_is_kept(manager):
    from core.errors import DomainError

    factories.make_ticket(status="ready_unrepaired")
    with pytest.raises(DomainError) as refused:
        services.status_delete(actor=manager, status_id=status("ready_unrepaired").pk)
    assert refused.value.code == "HAS_DEPENDENCIES"
    assert refused.value.details == {"ticketCount": 1, "historyCount": 1}
    assert "Deactivate it instead" in refused.value.message


# --- the transition map ----------------------------------------------------------------------
def test_the_transition_map_shows_every_move_and_nothing_else(manager_client):
    Status.objects.filter(key="abandoned").update(active=False)
    response = manager_client.get(MAP)
    html = response.content.decode()
    shown = set(re.findall(r'data-move="([a-z0-9_]+):([a-z0-9_]+)"', html))
    allowed = set(StatusTransition.objects.values_list("source__key", "target__key"))
    assert shown == allowed
    assert len(shown) == 32
    # Every status is a row and a column, the groups in their order; defaults and the
    # inactive one are marked.
    rows = re.findall(r'<th scope="row" class="source">\s*<a [^>]*>([^<]+)</a>', html)
    assert rows == [
        "Received",
        "Diagnosing",
        "In repair",
        "Awaiting your approval",
        "Waiting for parts",
        "Ready for pickup",
        "Ready for pickup (not repaired)",
        "Collected",
        "Cancelled",
        "Abandoned",
    ]
    assert html.count('<th scope="col"') == 10
    assert [g for g in re.findall(r'scope="colgroup"[^>]*>([^<]+)<', html)] == [
        "New",
        "In progress",
        "Waiting",
        "Ready",
        "Closed",
    ]
    assert html.count("status-tag default-tag") == 1 + 5 * 2  # the legend, each row and column
    assert html.count("status-tag inactive-tag") == 1 + 2
    assert html.count('class="self"') == 10


def test_the_transition_map_follows_an_edit(manager_client):
    received = status("received")
    manager_client.post(
        change_url(received), form_data(received, allowed_moves=[str(status("diagnosing").pk)])
    )
    html = manager_client.get(MAP).content.decode()
    assert 'data-move="received:diagnosing"' in html
    assert 'data-move="received:in_repair"' not in html


def test_the_transition_map_has_no_inline_style_or_script(manager_client):
    response = manager_client.get(MAP)
    html = response.content.decode()
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "/static/css/admin_statuses.css" in html
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_transition_map_query_count_does_not_grow_with_statuses(
    manager_client, django_assert_max_num_queries
):
    for n in range(10):
        Status.objects.create(key=f"extra_{n}", label=f"Extra {n}", group="waiting")
    # session, user, permissions, then the statuses, their moves and the defaults; the
    # session's save (with its savepoint): nine, however many statuses and moves.
    with django_assert_max_num_queries(9):
        assert manager_client.get(MAP).status_code == 200


# --- the database rules (tickets/migrations/0007_status_rules), on both backends ---------------
def raises_integrity_error(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def test_the_database_refuses_a_completed_flag_that_does_not_follow_the_group(db):
    ticket = factories.make_ticket(status="diagnosing")
    tickets = Ticket.objects.filter(pk=ticket.pk)
    raises_integrity_error(lambda: tickets.update(completed=True))
    raises_integrity_error(lambda: tickets.update(status=status("ready")))
    raises_integrity_error(
        lambda: Ticket.objects.create(
            customer=ticket.customer, title="t", description="d", status=status("ready")
        )
    )
    tickets.update(status=status("ready"), completed=True)  # both together: allowed
    assert Ticket.objects.get(pk=ticket.pk).completed


def test_the_database_refuses_a_group_change_of_a_status_in_use(db):
    factories.make_ticket(status="diagnosing")
    raises_integrity_error(lambda: Status.objects.filter(key="diagnosing").update(group="waiting"))
    Status.objects.filter(key="awaiting_approval").update(group="in_progress")  # unused: allowed
    assert status("awaiting_approval").group == "in_progress"


def test_the_database_keeps_a_default_active_and_in_its_group(db):
    raises_integrity_error(lambda: Status.objects.filter(key="received").update(active=False))
    raises_integrity_error(
        lambda: Status.objects.filter(key="received").update(group="in_progress")
    )
    Status.objects.filter(key="diagnosing").update(active=False)  # not a default: allowed


def test_the_database_refuses_a_default_row_pointing_at_another_groups_or_an_inactive_status(db):
    rows = StatusGroupDefault.objects.filter(group="new")
    raises_integrity_error(lambda: rows.update(status=status("diagnosing")))
    Status.objects.filter(key="cancelled").update(active=False)
    raises_integrity_error(
        lambda: StatusGroupDefault.objects.filter(group="closed").update(status=status("cancelled"))
    )
    rows.delete()
    raises_integrity_error(
        lambda: StatusGroupDefault.objects.create(group="new", status=status("diagnosing"))
    )
    StatusGroupDefault.objects.create(group="new", status=status("received"))
    assert defaults()["new"] == "received"


def _created_triggers() -> set[tuple[str, str]]:
    """(trigger, table) for every trigger 0007 creates on this backend."""
    sql = (
        rules_migration.PG_CREATE
        if connection.vendor == "postgresql"
        else "\n".join(rules_migration.SQLITE_CREATE)
    )
    return set(re.findall(r"CREATE (?:CONSTRAINT )?TRIGGER (\w+)\s.*?\bON\s+(\w+)", sql, re.S))


def test_every_trigger_of_0007_is_still_in_the_database(db):
    # SQLite remakes a table for many schema changes, and the remake drops its triggers: a
    # later migration altering tickets_ticket or tickets_status would silently remove the
    # rules. The test database is built by all migrations, so this fails if one does.
    expected = _created_triggers()
    assert len(expected) == (10 if connection.vendor == "postgresql" else 6)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal"
            )
        else:
            cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        present = set(cursor.fetchall())
    assert expected <= present, expected - present


# --- the data migration of part 1's tickets ----------------------------------------------------
@pytest.mark.migrations
@pytest.mark.django_db(transaction=True)
def test_0006_puts_part_one_tickets_in_statuses_and_gives_the_roles_the_new_permissions():
    from django.db.migrations.executor import MigrationExecutor

    before_statuses = [("tickets", "0004_data_version")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before_statuses)
    old = MigrationExecutor(connection).loader.project_state(before_statuses).apps
    Customer = old.get_model("customers", "Customer")
    OldTicket = old.get_model("tickets", "Ticket")
    Group = old.get_model("auth", "Group")
    customer = Customer.objects.create(
        first_name="Ada", last_name="Lovelace", email="ada@example.com", phone="+1 555 0100",
        address1="1 Way", city="London", state="", zip="NW1", country="GB",
    )  # fmt: skip
    open_ticket = OldTicket.objects.create(customer=customer, title="open", description="d")
    done_ticket = OldTicket.objects.create(
        customer=customer, title="done", description="d", completed=True
    )
    for group in Group.objects.all():
        group.permissions.remove(
            *group.permissions.filter(codename__in=["override_status_rules", "hand_over_devices"])
        )

    MigrationExecutor(connection).migrate(latest)

    opened = Ticket.objects.get(pk=open_ticket.pk)
    done = Ticket.objects.get(pk=done_ticket.pk)
    assert (opened.status.key, opened.completed) == ("received", False)
    assert (done.status.key, done.completed) == ("ready", True)
    assert opened.overdue_at is not None and done.overdue_at is None
    history = lambda ticket: list(  # noqa: E731
        StatusChange.objects.filter(ticket=ticket)
        .order_by("id")
        .values_list("from_status__key", "to_status__key")
    )
    assert history(opened) == [(None, "received")]
    assert history(done) == [(None, "received"), ("received", "ready")]
    from django.contrib.auth.models import Group as RoleGroup

    def perms(role):
        return set(RoleGroup.objects.get(name=role).permissions.values_list("codename", flat=True))

    assert {"override_status_rules", "hand_over_devices"} <= perms("manager")
    assert "hand_over_devices" in perms("frontdesk")
    assert "override_status_rules" not in perms("frontdesk")
    assert not {"override_status_rules", "hand_over_devices"} & perms("technician")
    # The rules are back on (0007 ran again).
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=opened.pk).update(completed=True)
