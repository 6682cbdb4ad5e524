"""The board in a real browser: a technician moving a ticket through the workshop on a tablet,
the front desk handing a device over, what a technician is not offered, a refused move put
back with its reason, and the tablet screenshot (docs/screenshots/board-tablet.png)."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.helpers import TABLET
from tickets import services
from tickets.models import DeviceType, Priority, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIN_TOUCH_PX = 44


def wait_for_held(page, held: list, count: int = 1):
    for _ in range(200):
        if len(held) >= count:
            return
        page.wait_for_timeout(25)
    raise AssertionError("the request was never sent")


def card_in(page, column: str, ticket):
    return page.locator(f"#column-{column} #card-{ticket.pk}")


def status_of(ticket) -> str:
    return Ticket.objects.select_related("status").get(pk=ticket.pk).status.key


def test_technician_moves_a_ticket_through_the_workshop_on_a_tablet(
    open_page, technician, customer
):
    ticket = factories.make_ticket(
        customer=customer,
        tech=technician,
        title="Cracked screen",
        device_type=DeviceType.PHONE,
        device_brand="Apple",
        device_model="iPhone 12",
    )
    page = open_page(technician, "/tickets/board/", viewport=TABLET)
    card = card_in(page, "received", ticket)
    expect(card).to_contain_text("Phone Apple iPhone 12")
    expect(card).to_contain_text("Grace Hopper")

    diagnosing = card.get_by_role("button", name="Diagnosing", exact=True)
    box = diagnosing.bounding_box()
    assert box["height"] >= MIN_TOUCH_PX, box  # a finger, not a mouse pointer
    diagnosing.click()
    expect(card_in(page, "diagnosing", ticket)).to_be_visible()
    expect(page.locator("#messages")).to_contain_text(f"Ticket #{ticket.pk}: Diagnosing.")
    assert status_of(ticket) == "diagnosing"

    # By keyboard this time: the moved card keeps the focus on its moves.
    card = card_in(page, "diagnosing", ticket)
    card.get_by_role("button", name="Waiting for parts").focus()
    page.keyboard.press("Enter")
    expect(card_in(page, "waiting_parts", ticket)).to_be_visible()
    expect(page.locator("#messages")).to_contain_text(f"Ticket #{ticket.pk}: Waiting for parts.")
    assert status_of(ticket) == "waiting_parts"
    expect(page.locator("#column-received [data-column-count]")).to_have_text("0")
    expect(page.locator("#column-waiting_parts [data-column-count]")).to_have_text("1")


def test_front_desk_hands_a_ready_device_over(open_page, frontdesk, technician, customer):
    ticket = factories.make_ticket(
        customer=customer, tech=technician, title="New battery", status="ready"
    )
    page = open_page(frontdesk, "/tickets/board/", viewport=TABLET)
    card = card_in(page, "ready", ticket)
    card.get_by_role("button", name="Collected").click()
    expect(page.locator(f"#card-{ticket.pk}")).to_have_count(0)  # closed: off the board
    expect(page.locator("#messages")).to_contain_text(f"Ticket #{ticket.pk}: Collected.")
    assert status_of(ticket) == "collected"
    expect(page.locator("#column-ready [data-column-count]")).to_have_text("0")


def test_technician_is_not_offered_the_hand_over(open_page, technician, customer):
    ticket = factories.make_ticket(
        customer=customer, tech=technician, title="Keyboard fixed", status="ready"
    )
    page = open_page(technician, "/tickets/board/", viewport=TABLET)
    card = card_in(page, "ready", ticket)
    expect(card.get_by_role("button", name="In repair")).to_be_visible()
    expect(card.get_by_role("button", name="Collected")).to_have_count(0)
    expect(card.get_by_role("button", name="Abandoned")).to_have_count(0)


def test_a_refused_move_goes_back_with_its_reason(open_page, frontdesk, manager, customer):
    ticket = factories.make_ticket(customer=customer, title="Fan noise")
    page = open_page(frontdesk, "/tickets/board/", viewport=TABLET)
    card = card_in(page, "received", ticket)
    expect(card).to_be_visible()

    # Meanwhile a colleague marks it ready: Diagnosing is no longer a move it may make.
    services.ticket_set_status(actor=manager, ticket_id=ticket.pk, status="ready")

    held = []
    page.route(f"**/tickets/{ticket.pk}/status/", lambda route: held.append(route))
    card.get_by_role("button", name="Diagnosing", exact=True).click()
    wait_for_held(page, held)
    expect(card_in(page, "diagnosing", ticket)).to_be_visible()  # optimistic
    held[0].continue_()

    back = card_in(page, "received", ticket)
    expect(back).to_be_visible()
    expect(back.locator(".card-message")).to_contain_text(
        "Ready for pickup cannot move to Diagnosing. Allowed: In repair, Collected, Abandoned."
    )
    expect(page.locator("#messages")).to_contain_text(
        "Ready for pickup cannot move to Diagnosing. Allowed: In repair, Collected, Abandoned."
    )
    expect(page.locator("#column-diagnosing [data-column-count]")).to_have_text("0")
    expect(page.locator("#column-received [data-column-count]")).to_have_text("1")
    assert status_of(ticket) == "ready"


def test_board_screenshot_on_a_tablet(open_page, frontdesk, technician, other_technician, tmp_path):
    folder = Path(os.environ.get("REPAIRSHOP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    people = [("Grace", "Hopper"), ("Alan", "Turing"), ("Ada", "Lovelace"), ("Linus", "Pauling")]
    devices = [
        (DeviceType.LAPTOP, "Lenovo", "ThinkPad T14", "Does not power on"),
        (DeviceType.PHONE, "Apple", "iPhone 12", "Cracked screen"),
        (DeviceType.TABLET, "Samsung", "Galaxy Tab S7", "Will not charge"),
        (DeviceType.PRINTER, "HP", "LaserJet 400", "Paper jam every page"),
        (DeviceType.LAPTOP, "Dell", "XPS 13", "Coffee spill"),
    ]
    now = timezone.now()
    layout = ["received", "received", "diagnosing", "in_repair", "waiting_parts", "ready", "ready"]
    for n, status in enumerate(layout):
        first, last = people[n % len(people)]
        device_type, brand, model, title = devices[n % len(devices)]
        factories.make_ticket(
            customer=factories.make_customer(first_name=first, last_name=last),
            tech=technician if n % 2 else other_technician,
            status=status,
            title=title,
            device_type=device_type,
            device_brand=brand,
            device_model=model,
            priority=Priority.URGENT if n == 2 else Priority.MEDIUM,
            # Waiting for parts for five days: past its 72 hours, overdue.
            created_at=now - timedelta(hours=120 if status == "waiting_parts" else 3 * n),
        )
    page = open_page(frontdesk, "/tickets/board/", viewport=TABLET)
    expect(page.locator("main h1")).to_have_text("Board")
    target = folder / "board-tablet.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000
