"""The pages in a real browser: check-in by keyboard, search as you type, a technician on a
tablet, optimistic status changes and their rollback, live polling, offline back-off, and
no Content-Security-Policy violation anywhere (checked by the open_page fixture)."""

import re

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from tests import factories
from tests.helpers import TABLET
from tickets import services
from tickets.models import Priority, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page, selector: str, limit: int = 80):
    """Presses Tab until the focused element matches `selector`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement?.id || ''")


def wait_for_held(page, held: list, count: int = 1):
    for _ in range(200):
        if len(held) >= count:
            return
        page.wait_for_timeout(25)
    raise AssertionError("the request was never sent")


# --- front desk -----------------------------------------------------------------------------
def test_front_desk_checks_in_a_walk_in_with_a_device_by_keyboard(open_page, frontdesk, technician):
    page = open_page(frontdesk, "/tickets/")
    tab_to(page, "a[href='/tickets/new/']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/tickets/new/")

    tab_to(page, "input[name='customer_mode']")
    page.keyboard.press("ArrowRight")  # "New customer (walk-in)"
    expect(page.get_by_label("First name")).to_be_visible()
    expect(page.get_by_label("Find the customer")).to_be_hidden()

    customer = [
        ("id_customer-first_name", "Walter"),
        ("id_customer-last_name", "Walkin"),
        ("id_customer-email", "walter@example.net"),
        ("id_customer-phone", "555 010 2030"),
        ("id_customer-address1", "5 Main Street"),
        ("id_customer-address2", ""),
        ("id_customer-city", "Springfield"),
        ("id_customer-state", "IL"),
        ("id_customer-zip", "62701"),
        ("id_customer-country", "US"),
        ("id_device_type", "Laptop"),
        ("id_device_brand", "Lenovo"),
        ("id_device_model", "ThinkPad T14"),
        ("id_serial_number", "PF-3XY7Z"),
        ("id_accessories", "Charger"),
        ("id_condition", "Scratched lid"),
        ("id_title", "Does not power on"),
        ("id_description", "Dead since a storm last night."),
    ]
    for field_id, value in customer:
        page.keyboard.press("Tab")
        assert focused_id(page) == field_id
        if value:
            page.keyboard.type(value)
    tab_to(page, "button[type='submit'].primary")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/tickets/\d+/$"))
    expect(page.locator("#messages")).to_contain_text("created and assigned to Tess")
    ticket = Ticket.objects.select_related("customer").get()
    assert ticket.customer.email == "walter@example.net"
    assert ticket.device_type == "laptop" and ticket.serial_number == "PF-3XY7Z"
    assert ticket.tech == technician
    expect(page.locator("h1")).to_contain_text("Does not power on")
    expect(page.get_by_text("Walter Walkin")).to_be_visible()


def test_check_in_for_an_existing_customer_with_the_picker(open_page, frontdesk, customer):
    factories.make_customer(first_name="Gregor", last_name="Mendel")
    page = open_page(frontdesk, "/tickets/new/")
    page.get_by_label("Find the customer").press_sequentially("hopp", delay=30)
    option = page.get_by_label(re.compile("Grace Hopper"))
    expect(option).to_be_visible()
    expect(page.get_by_text("Gregor Mendel")).to_have_count(0)
    option.check()
    page.get_by_label("Problem (short summary)").fill("Battery swollen")
    page.get_by_label("What the customer reports").fill("The case is bulging.")
    page.get_by_role("button", name="Create ticket").click()
    page.wait_for_url(re.compile(r"/tickets/\d+/$"))
    assert Ticket.objects.get().customer == customer


def test_search_as_you_type_keeps_the_sort_and_the_url(open_page, frontdesk):
    factories.make_customer(first_name="Grace", last_name="Hopper", email="grace@navy.test")
    factories.make_customer(first_name="Gracie", last_name="Allen", email="gracie@radio.test")
    factories.make_customer(first_name="Alan", last_name="Turing", email="alan@bletchley.test")
    page = open_page(frontdesk, "/customers/")
    rows = page.locator("#customer-rows tr")
    expect(rows).to_have_count(3)

    page.get_by_role("link", name="Email").click()  # sort by email
    expect(page).to_have_url(re.compile(r"sortBy=email"))
    page.get_by_label("Search").press_sequentially("grac", delay=40)  # no Enter
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("grace@navy.test")
    expect(page).to_have_url(re.compile(r"search=grac"))
    expect(page).to_have_url(re.compile(r"sortBy=email"))

    page.get_by_label("Search").press_sequentially("e@", delay=40)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Hopper")

    page.reload()  # the URL is the state: a reload or a bookmark shows the same list
    expect(page.get_by_label("Search")).to_have_value("grace@")
    expect(rows).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(re.compile(r"search=grac(&|$)"))


# --- technician on a tablet -------------------------------------------------------------------
def test_technician_completes_a_ticket_from_my_queue_on_a_tablet(open_page, technician, customer):
    ticket = factories.make_ticket(
        customer=customer, tech=technician, title="Replace keyboard", priority=Priority.HIGH
    )
    other = factories.make_ticket(customer=customer, tech=technician, title="Clean fan")
    page = open_page(technician, "/", viewport=TABLET)
    expect(page).to_have_url(re.compile(r"/tickets/queue/$"))
    row = page.locator(f"#ticket-{ticket.pk}")
    expect(row).to_be_visible()

    too_small = page.evaluate(
        """() => [...document.querySelectorAll('a.button, button, summary, .mainnav a, '
                                               + 'input:not([type=hidden]), select, textarea')]
            .filter((el) => el.offsetParent !== null)
            .map((el) => [el.textContent.trim() || el.name || el.tagName,
                          el.getBoundingClientRect().height])
            .filter(([, height]) => height < 44)"""
    )
    assert too_small == []

    row.get_by_text("Move…").click()
    row.get_by_label("Comment (optional)").fill("New keyboard fitted, tested.")
    row.get_by_role("button", name="Ready for pickup", exact=True).click()
    expect(page.locator("#messages")).to_contain_text(f"Ticket #{ticket.pk}: Ready for pickup.")
    expect(page.locator(f"#ticket-{ticket.pk}")).to_have_count(0)  # the queue refreshed
    expect(page.locator(f"#ticket-{other.pk}")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.completed and ticket.status.key == "ready"
    assert ticket.status_changes.latest("id").comment == "New keyboard fitted, tested."


def test_refused_status_change_rolls_back(open_page, technician, other_technician, customer):
    ticket = factories.make_ticket(customer=customer, tech=technician, title="Swap the SSD")
    page = open_page(technician, "/tickets/queue/")
    row = page.locator(f"#ticket-{ticket.pk}")
    badge = row.locator("[data-status-badge]")
    expect(badge).to_have_text("Received")

    # Meanwhile the front desk gives the ticket to someone else.
    Ticket.objects.filter(pk=ticket.pk).update(tech=other_technician)

    held = []
    page.route(f"**/tickets/{ticket.pk}/status/", lambda route: held.append(route))
    row.get_by_text("Move…").click()
    row.get_by_role("button", name="Ready for pickup", exact=True).click()
    wait_for_held(page, held)
    expect(badge).to_have_text("Ready for pickup")  # optimistic, before the server answers
    held[0].continue_()

    expect(badge).to_have_text("Received")
    expect(row).to_contain_text("You can only update your assigned tickets")
    expect(page.locator("#messages")).to_contain_text("You can only update your assigned tickets")
    assert not Ticket.objects.get(pk=ticket.pk).completed


def test_move_after_an_edit_elsewhere_goes_through_with_the_fresh_row(
    open_page, frontdesk, customer
):
    """A move is judged by the status the ticket is in when it arrives, not by the page's
    copy: an edit of the title in between does not refuse it, and the row shows the edit."""
    ticket = factories.make_ticket(customer=customer, title="Old title")
    page = open_page(frontdesk, "/tickets/")
    row = page.locator(f"#ticket-{ticket.pk}")
    ticket.title = "Renamed by a colleague"
    ticket.save()

    row.get_by_text("Move…").click()
    row.get_by_role("button", name="Diagnosing").click()
    expect(row).to_contain_text("Renamed by a colleague")
    expect(row.locator("[data-status-badge]")).to_have_text("Diagnosing")
    assert Ticket.objects.get(pk=ticket.pk).status.key == "diagnosing"


def test_refused_move_in_the_list_rolls_back_with_the_allowed_moves(
    open_page, frontdesk, manager, customer
):
    ticket = factories.make_ticket(customer=customer, title="Cracked screen", status="in_repair")
    page = open_page(frontdesk, "/tickets/")
    row = page.locator(f"#ticket-{ticket.pk}")
    badge = row.locator("[data-status-badge]")
    expect(badge).to_have_text("In repair")

    # After the page loaded, the ticket went to "Waiting for parts", from which "Ready for
    # pickup" is no allowed move.
    services.ticket_set_status(actor=manager, ticket_id=ticket.pk, status="waiting_parts")

    held = []
    page.route(f"**/tickets/{ticket.pk}/status/", lambda route: held.append(route))
    row.get_by_text("Move…").click()
    row.get_by_role("button", name="Ready for pickup", exact=True).click()
    wait_for_held(page, held)
    expect(badge).to_have_text("Ready for pickup")  # optimistic
    held[0].continue_()

    expect(badge).to_have_text("In repair")  # rolled back
    expect(row).to_contain_text("In repair")
    for allowed in ("Diagnosing", "Ready for pickup (not repaired)", "Cancelled"):
        expect(row.locator(".row-message")).to_contain_text(allowed)
        expect(page.locator("#messages")).to_contain_text(allowed)
    assert Ticket.objects.get(pk=ticket.pk).status.key == "waiting_parts"


def test_status_change_without_a_network_rolls_back(
    open_page, frontdesk, customer, console_problems
):
    console_problems.allow_failed = True
    ticket = factories.make_ticket(customer=customer, title="Fix hinge")
    page = open_page(frontdesk, "/tickets/")
    row = page.locator(f"#ticket-{ticket.pk}")
    page.route(f"**/tickets/{ticket.pk}/status/", lambda route: route.abort())
    row.get_by_text("Move…").click()
    row.get_by_role("button", name="Diagnosing").click()
    expect(row).to_contain_text("Could not reach the server")
    expect(row.locator("[data-status-badge]")).to_have_text("Received")
    expect(row.get_by_text("Move…")).to_be_enabled()


# --- live lists ----------------------------------------------------------------------------------
def test_ticket_created_elsewhere_appears_by_polling_with_filters_kept(
    open_page, frontdesk, customer, settings
):
    settings.POLL_INTERVAL_SECONDS = 1
    for n in range(20):
        factories.make_ticket(customer=customer, title=f"Routine job {n}", priority=Priority.LOW)
    url = "/tickets/?completed=false&sortBy=priority&sortOrder=desc"
    page = open_page(frontdesk, url)
    expect(page.locator("#ticket-rows tr")).to_have_count(20)
    page.evaluate("() => window.scrollTo(0, 300)")

    factories.make_ticket(customer=customer, title="Urgent walk-in", priority=Priority.URGENT)
    factories.make_ticket(customer=customer, title="Closed elsewhere", completed=True)

    expect(page.get_by_text("Urgent walk-in")).to_be_attached(timeout=10_000)
    expect(page.locator("#ticket-rows tr").first).to_contain_text("Urgent walk-in")
    expect(page.get_by_text("Closed elsewhere")).to_have_count(0)
    expect(page.locator("#ticket-rows tr")).to_have_count(21)
    assert page.url.endswith(url)
    expect(page.get_by_label("Open or completed")).to_have_value("false")
    assert page.evaluate("() => window.scrollY") > 0
    expect(page.locator("#live-status")).to_contain_text("updated")

    # Polling goes on after a swap: the next change arrives too.
    factories.make_ticket(customer=customer, title="Second arrival", priority=Priority.HIGH)
    expect(page.get_by_text("Second arrival")).to_be_attached(timeout=10_000)
    expect(page.locator("#ticket-rows tr")).to_have_count(22)


def test_poll_backs_off_while_offline_and_recovers(
    open_page, technician, customer, settings, console_problems
):
    settings.POLL_INTERVAL_SECONDS = 1
    console_problems.allow_failed = True
    factories.make_ticket(customer=customer, tech=technician, title="Queue item")
    page = open_page(technician, "/tickets/queue/")
    status = page.locator("#live-status")
    expect(status).to_contain_text("updated")

    failed = []

    def fail(route):
        failed.append(route.request.url)
        # A dropped connection first, then a server error: both count as offline.
        if len(failed) % 2:
            route.abort()
        else:
            route.fulfill(status=503, body="down")

    page.route(lambda url: "v=" in url, fail)
    expect(status).to_have_attribute("data-retry-in", "1", timeout=10_000)
    expect(status).to_contain_text("Offline — retrying")
    expect(status).to_have_attribute("data-retry-in", "2", timeout=10_000)
    expect(status).to_have_attribute("data-retry-in", "4", timeout=10_000)
    assert len(failed) == 3  # 1 s, 2 s, 4 s: the polls back off instead of piling up

    page.unroute_all()
    factories.make_ticket(customer=customer, tech=technician, title="Arrived while offline")
    expect(page.get_by_text("Arrived while offline")).to_be_visible(timeout=15_000)
    expect(status).not_to_have_class(re.compile("offline"))
    expect(status).to_contain_text("updated")
    expect(status).not_to_have_attribute("data-retry-in", re.compile("."))


def test_expired_session_sends_the_window_to_sign_in(open_page, frontdesk, settings):
    settings.POLL_INTERVAL_SECONDS = 1
    page = open_page(frontdesk, "/tickets/")
    page.context.clear_cookies()  # the session is gone
    page.wait_for_url(re.compile(r"/accounts/login/\?next=%2Ftickets%2F"), timeout=10_000)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#ticket-results")).to_have_count(0)


# --- Content-Security-Policy ---------------------------------------------------------------------
def test_no_csp_violation_on_any_page(open_page, manager, technician, customer):
    ticket = factories.make_ticket(customer=customer, tech=technician)
    page = open_page(manager, "/tickets/")
    for path in (
        "/tickets/?search=x&priority=high",
        "/tickets/new/",
        f"/tickets/{ticket.pk}/",
        "/tickets/queue/",
        "/customers/",
        "/customers/new/",
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/edit/",
        "/customers/424242/",
    ):
        page.goto(path)
        page.wait_for_load_state("load")
    page.goto("/customers/")
    page.get_by_label("Search").fill("grace")  # an htmx swap
    expect(page.locator("#customer-rows tr")).to_have_count(1)
    tech_page = open_page(technician, "/tickets/queue/")
    expect(tech_page.locator("h1")).to_have_text("My queue")
    assert "script-src 'self' 'nonce-" in page.evaluate(
        "async () => (await fetch('/tickets/')).headers.get('content-security-policy')"
    )


def test_the_console_watch_catches_a_violation(open_page, frontdesk, console_problems):
    """The CSP check above can fail: an inline script is blocked and reported."""
    page = open_page(frontdesk, "/customers/")
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.inlineRan = true';
                   document.body.appendChild(s); }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.inlineRan === undefined")
    assert any("Content Security Policy" in problem for problem in console_problems)
    console_problems.clear()


def test_sign_in_page_uses_the_layout(browser, live_server, frontdesk):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/customers/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    assert Customer.objects.count() == 0
    context.close()


def test_timeline_change_lines_have_one_marker_each(open_page, frontdesk, customer):
    """An entry has the drawn circle; its change lines only their list marker (the circle
    was drawn on every nested line too, beside the marker)."""
    from tickets import services

    ticket = factories.make_ticket(customer=customer, title="Dim screen")
    services.ticket_update(
        actor=frontdesk,
        ticket_id=ticket.pk,
        data={"title": "Dim screen, flickers", "priority": Priority.HIGH},
        expected_updated_at=None,
    )
    page = open_page(frontdesk, f"/tickets/{ticket.pk}/")
    markers = page.evaluate(
        """() => [...document.querySelectorAll('.timeline li')].map((li) => ({
            entry: li.parentElement.classList.contains('timeline'),
            circle: getComputedStyle(li, '::before').content !== 'none',
            marker: getComputedStyle(li).listStyleType !== 'none',
        }))"""
    )
    changes = [m for m in markers if not m["entry"]]
    assert changes, markers  # the edit's change lines are there
    assert all(m["circle"] and not m["marker"] for m in markers if m["entry"]), markers
    assert all(m["marker"] and not m["circle"] for m in changes), markers
