"""The board /tickets/board/: its columns, its cards and the moves each offers per role, who
sees what, polling, the moves from a card (fragment=card), and its query budgets."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import roles
from core.models import ActivityLog
from tests import factories
from tests.helpers import HTMX, page_text, poll_version, query_kind, rendered_templates
from tickets import queries, services
from tickets.models import DeviceType, Priority, Status, StatusGroupDefault, Ticket

BOARD = "/tickets/board/"
BOARD_KEYS = [
    "received",
    "diagnosing",
    "in_repair",
    "awaiting_approval",
    "waiting_parts",
    "ready",
    "ready_unrepaired",
]


def _column_keys(body: str) -> list[str]:
    return re.findall(r'data-board-column="([a-z0-9_]+)"', body)


def _card(body: str, ticket) -> str:
    """The markup of one card (from its <li> to its end)."""
    start = body.rindex("<li", 0, body.index(f'id="card-{ticket.pk}"'))
    return body[start : body.index("</li>", start)]


def _moves(card: str) -> list[str]:
    return re.findall(r'name="status" value="([a-z0-9_]+)"', card)


def _column_of(body: str, ticket) -> str:
    position = body.index(f'id="card-{ticket.pk}"')
    columns = [(m.start(), m.group(1)) for m in re.finditer(r'data-board-column="(\w+)"', body)]
    return [key for start, key in columns if start < position][-1]


# --- columns and cards ---------------------------------------------------------------------------
def test_one_column_per_status_from_new_to_ready_in_position_order(client, frontdesk, customer):
    collected = factories.make_ticket(customer=customer, status="collected", title="Gone home")
    client.force_login(frontdesk)
    body = page_text(client.get(BOARD))
    assert _column_keys(body) == BOARD_KEYS
    assert "Gone home" not in body and f"card-{collected.pk}" not in body
    assert '<a href="/tickets/board/" aria-current="page">Board</a>' in body


def test_an_inactive_status_keeps_its_column_while_it_holds_tickets(client, frontdesk, customer):
    ticket = factories.make_ticket(customer=customer, status="awaiting_approval")
    Status.objects.filter(key__in=["awaiting_approval", "ready_unrepaired"]).update(active=False)
    client.force_login(frontdesk)
    body = page_text(client.get(BOARD))
    assert "awaiting_approval" in _column_keys(body)
    assert "ready_unrepaired" not in _column_keys(body)  # inactive and empty
    assert "No longer in use" in body
    # An inactive status is not a move a card offers.
    assert "awaiting_approval" not in _moves(_card(body, ticket))


def test_a_card_shows_number_device_customer_technician_ages_and_overdue(
    client, frontdesk, technician, customer
):
    long_ago = timezone.now() - timedelta(days=4)
    ticket = factories.make_ticket(
        customer=customer,
        tech=technician,
        title="Cracked screen",
        device_type=DeviceType.PHONE,
        device_brand="Apple",
        device_model="iPhone 12",
        status="waiting_parts",  # 72 hours
        created_at=long_ago,
    )
    fresh = factories.make_ticket(customer=customer, title="Just in")
    client.force_login(frontdesk)
    body = page_text(client.get(BOARD))
    card = _card(body, ticket)
    assert f"#{ticket.pk} Cracked screen" in card
    assert "Phone Apple iPhone 12" in card
    assert "Grace Hopper" in card and "Tess" in card
    assert f'datetime="{long_ago.isoformat()}" data-age="ago"' in card
    assert 'data-age="for"' in card
    assert "Overdue since" in card and "is-overdue" in card
    assert "Overdue" not in _card(body, fresh) and "Unassigned" in _card(body, fresh)


def test_cards_most_urgent_first_then_oldest(client, frontdesk, customer):
    now = timezone.now()
    old = factories.make_ticket(customer=customer, created_at=now - timedelta(days=2))
    new = factories.make_ticket(customer=customer, created_at=now - timedelta(hours=1))
    urgent = factories.make_ticket(customer=customer, priority=Priority.URGENT, created_at=now)
    client.force_login(frontdesk)
    body = page_text(client.get(BOARD))
    order = [body.index(f'id="card-{t.pk}"') for t in (urgent, old, new)]
    assert order == sorted(order)


def test_a_full_column_shows_its_first_cards_its_total_and_a_link_to_the_rest(
    client, frontdesk, customer
):
    tickets = [
        factories.make_ticket(customer=customer, status="diagnosing")
        for _ in range(queries.BOARD_COLUMN_CARDS + 2)
    ]
    client.force_login(frontdesk)
    body = page_text(client.get(BOARD))
    assert body.count('data-status="diagnosing"') == queries.BOARD_COLUMN_CARDS
    assert f'id="card-{tickets[-1].pk}"' not in body  # the newest of equal priority
    assert '<a href="/tickets/?status=diagnosing">2 more in the ticket list</a>' in body
    assert f'data-jump-count="diagnosing">{queries.BOARD_COLUMN_CARDS + 2}<' in body


def test_the_board_read_gives_totals_and_caps_each_column(frontdesk, customer):
    for key in ["received"] * 3 + ["ready"] * 2 + ["collected"]:
        factories.make_ticket(customer=customer, status=key)
    board = queries.board(user=frontdesk, per_column=2)
    by_key = {column.status.key: column for column in board.columns}
    assert [len(by_key[k].cards) for k in BOARD_KEYS] == [2, 0, 0, 0, 0, 2, 0]
    assert (by_key["received"].total, by_key["received"].more) == (3, 1)
    assert (by_key["ready"].total, by_key["ready"].more) == (2, 0)


# --- who sees what, and which moves --------------------------------------------------------------
def test_technician_sees_only_their_own_tickets(client, technician, other_technician, customer):
    mine = factories.make_ticket(customer=customer, tech=technician, title="Mine")
    theirs = factories.make_ticket(customer=customer, tech=other_technician, title="Otto's")
    client.force_login(technician)
    body = page_text(client.get(BOARD))
    assert f'id="card-{mine.pk}"' in body and f'id="card-{theirs.pk}"' not in body
    assert "Your open tickets" in body
    assert 'data-jump-count="received">1<' in body


def test_moves_offered_per_role(client, manager, frontdesk, technician, viewer, customer):
    received = factories.make_ticket(customer=customer, tech=technician)
    ready = factories.make_ticket(customer=customer, tech=technician, status="ready")
    all_from_received = [
        "diagnosing",
        "in_repair",
        "awaiting_approval",
        "waiting_parts",
        "ready",
        "ready_unrepaired",
        "cancelled",
    ]
    expected = {
        manager: (all_from_received, ["in_repair", "collected", "abandoned"]),
        frontdesk: (all_from_received, ["in_repair", "collected", "abandoned"]),
        # No move into the closed group: no Cancelled, no Collected, no Abandoned.
        technician: (all_from_received[:-1], ["in_repair"]),
        viewer: ([], []),
    }
    for user, (from_received, from_ready) in expected.items():
        client.force_login(user)
        body = page_text(client.get(BOARD))
        assert _moves(_card(body, received)) == from_received, user.username
        assert _moves(_card(body, ready)) == from_ready, user.username
    client.force_login(viewer)
    assert "data-board-move" not in page_text(client.get(BOARD))


def test_colleagues_of_one_role_share_the_board_and_technicians_do_not(
    client, frontdesk, technician, other_technician, customer
):
    """Verify mode (on in tests) renders every hit again and fails on any difference: the
    second front desk user is served the first one's rendering only if it is theirs too."""
    factories.make_ticket(customer=customer, tech=technician, title="Tess laptop")
    factories.make_ticket(customer=customer, tech=other_technician, title="Otto phone")
    desk2 = factories.make_user(username="desk2", roles=[roles.FRONTDESK])
    for user in (frontdesk, desk2):
        client.force_login(user)
        body = page_text(client.get(BOARD, **HTMX))
        assert "Tess laptop" in body and "Otto phone" in body
    for user, own, other in (
        (technician, "Tess laptop", "Otto phone"),
        (other_technician, "Otto phone", "Tess laptop"),
    ):
        client.force_login(user)
        body = page_text(client.get(BOARD, **HTMX))
        assert own in body and other not in body


def test_board_needs_sign_in_and_get(client, frontdesk):
    assert client.get(BOARD)["Location"].startswith("/accounts/login/")
    client.force_login(frontdesk)
    assert client.post(BOARD).status_code == 405


# --- polling -------------------------------------------------------------------------------------
def test_board_fragment_and_unchanged_poll(client, frontdesk, customer):
    factories.make_ticket(customer=customer, title="Loose hinge")
    client.force_login(frontdesk)
    page = page_text(client.get(BOARD))
    version = poll_version(page)
    assert "data-poll data-board" in page
    fragment = client.get(BOARD, **HTMX)
    assert page_text(fragment).lstrip().startswith('<div id="board-results"')
    assert "<html" not in page_text(fragment)
    assert "HX-Request" in fragment["Vary"]
    with rendered_templates() as rendered, CaptureQueriesContext(connection) as ctx:
        unchanged = client.get(f"{BOARD}?v={version}", **HTMX)
    assert unchanged.status_code == 204 and rendered == []
    assert [query_kind(q["sql"]) for q in ctx.captured_queries] == ["session", "user", "version"]

    factories.make_ticket(customer=customer, title="Fresh tablet repair")
    changed = client.get(f"{BOARD}?v={version}", **HTMX)
    assert changed.status_code == 200 and "Fresh tablet repair" in page_text(changed)
    assert poll_version(page_text(changed)) != version


# --- moves from a card ---------------------------------------------------------------------------
def _move(client, ticket, key, **headers):
    data = {"status": key, "fragment": "card", "next": BOARD}
    return client.post(f"/tickets/{ticket.pk}/status/", data, **headers)


def test_a_move_from_a_card_answers_the_fresh_card(client, technician, customer):
    ticket = factories.make_ticket(customer=customer, tech=technician)
    client.force_login(technician)
    response = _move(client, ticket, "diagnosing", **HTMX)
    assert response.status_code == 200
    body = page_text(response)
    assert body.lstrip().startswith('<li class="board-card') and "<html" not in body
    assert 'data-status="diagnosing"' in body
    assert _moves(body) == ["in_repair", "awaiting_approval", "waiting_parts", "ready",
                            "ready_unrepaired"]  # fmt: skip
    assert "tickets-changed" in response["HX-Trigger"]
    assert f"Ticket #{ticket.pk}: Diagnosing." in response["HX-Trigger"]
    assert Ticket.objects.get(pk=ticket.pk).status.key == "diagnosing"


def test_a_move_the_status_does_not_allow_is_refused_with_the_allowed_ones(
    client, frontdesk, customer
):
    ticket = factories.make_ticket(customer=customer, status="ready")
    client.force_login(frontdesk)
    response = _move(client, ticket, "diagnosing", **HTMX)
    assert response.status_code == 409
    assert "Allowed: In repair, Collected, Abandoned." in response["HX-Trigger"]
    assert Ticket.objects.get(pk=ticket.pk).status.key == "ready"


def test_a_technician_moving_into_closed_is_refused_and_recorded(client, technician, customer):
    ticket = factories.make_ticket(customer=customer, tech=technician, status="ready")
    client.force_login(technician)
    response = _move(client, ticket, "collected", **HTMX)
    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status.key == "ready"
    assert ActivityLog.objects.filter(action="permission:denied", actor=technician).exists()


def test_a_bad_status_key_from_a_card_is_a_400_naming_it(client, frontdesk, customer):
    ticket = factories.make_ticket(customer=customer)
    client.force_login(frontdesk)
    response = _move(client, ticket, "no_such_status", **HTMX)
    assert response.status_code == 400
    assert "showMessage" in response["HX-Trigger"]


def test_a_card_move_without_javascript_redirects_to_the_board(client, frontdesk, customer):
    ticket = factories.make_ticket(customer=customer)
    client.force_login(frontdesk)
    response = _move(client, ticket, "in_repair")
    assert response.status_code == 302 and response["Location"] == BOARD
    assert Ticket.objects.get(pk=ticket.pk).status.key == "in_repair"


# --- query budgets -------------------------------------------------------------------------------
def _board_queries(client, **headers) -> tuple[int, list[str]]:
    from django.core.cache import caches

    caches["rendered"].clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(BOARD, **headers)
    assert response.status_code == 200
    return len(ctx.captured_queries), [query_kind(q["sql"]) for q in ctx.captured_queries]


def _spread(count: int, *, tech, customer):
    keys = [*BOARD_KEYS, "collected"]
    for n in range(count):
        factories.make_ticket(
            customer=customer if n % 2 else factories.make_customer(),
            tech=tech if n % 3 else factories.make_user(roles=[roles.TECHNICIAN]),
            status=keys[n % len(keys)],
        )


@pytest.mark.parametrize("role", ["frontdesk", "technician"])
def test_board_budget_does_not_grow_with_the_tickets(client, request, role, customer):
    user = request.getfixturevalue(role)
    client.force_login(user)
    _spread(5, tech=user, customer=customer)
    client.get(BOARD)  # the permissions are remembered from here on (accounts.backends)
    few, _ = _board_queries(client)
    few_htmx, _ = _board_queries(client, **HTMX)
    _spread(55, tech=user, customer=customer)
    many, kinds = _board_queries(client)
    many_htmx, _ = _board_queries(client, **HTMX)
    assert (few, few_htmx) == (many, many_htmx)
    # session, user, version, the statuses, their moves, the group defaults, the totals per
    # column, every column's cards (customer, technician and status joined). The
    # permissions and roles (the navigation's "is a technician") are remembered.
    assert many <= 8, kinds
    assert many_htmx <= 8


@pytest.mark.usefixtures("without_verify")  # a hit is not rendered again
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_repeated_board_renders_nothing_and_reads_only_the_version(
    client, frontdesk, technician, customer, headers
):
    _spread(10, tech=technician, customer=customer)
    client.force_login(frontdesk)
    client.get(BOARD, **headers)
    with rendered_templates() as rendered, CaptureQueriesContext(connection) as ctx:
        again = client.get(BOARD, **headers)
    assert again.status_code == 200 and rendered == []
    # With sessions in Redis (production), the session query is gone: two queries.
    assert [query_kind(q["sql"]) for q in ctx.captured_queries] == ["session", "user", "version"]


def test_the_default_of_the_new_group_is_the_first_column(frontdesk):
    """The board's first column is where check-in puts a ticket."""
    first = queries.board(user=frontdesk).columns[0].status
    assert first == StatusGroupDefault.objects.get(group="new").status


def test_a_move_made_elsewhere_shows_on_the_next_poll(client, frontdesk, manager, customer):
    ticket = factories.make_ticket(customer=customer)
    client.force_login(frontdesk)
    version = poll_version(page_text(client.get(BOARD)))
    services.ticket_set_status(actor=manager, ticket_id=ticket.pk, status="in_repair")
    body = page_text(client.get(f"{BOARD}?v={version}", **HTMX))
    assert _column_of(body, ticket) == "in_repair"
