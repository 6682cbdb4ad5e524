"""Screenshots of the main pages at desktop (1280x800) and tablet (800x1280) sizes, on the
demo data of `manage.py demo`.

They go to tmp_path, or to the folder in REPAIRSHOP_SCREENSHOTS: the README's pictures are
made with
    REPAIRSHOP_SCREENSHOTS=docs/screenshots uv run pytest tests/browser/test_screenshots.py
"""

import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from demo.management.commands.demo import create_demo_data, create_demo_users
from tests.helpers import DESKTOP, TABLET
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_screenshots_of_the_main_pages(open_page, browser, live_server, tmp_path):
    folder = Path(os.environ.get("REPAIRSHOP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    create_demo_users()
    create_demo_data(now=timezone.now())
    frontdesk = User.objects.get(username="frontdesk")
    ticket = Ticket.objects.filter(completed=False, tech__isnull=False).order_by("-id").first()
    technician = ticket.tech
    customer = ticket.customer

    shots = [
        (frontdesk, "/tickets/?completed=false", "tickets", [DESKTOP, TABLET]),
        (frontdesk, "/tickets/new/", "new-ticket", [DESKTOP, TABLET]),
        (frontdesk, f"/tickets/{ticket.pk}/", "ticket", [DESKTOP, TABLET]),
        (frontdesk, "/customers/", "customers", [DESKTOP, TABLET]),
        (frontdesk, f"/customers/{customer.pk}/", "customer", [DESKTOP]),
        (technician, "/tickets/queue/", "my-queue", [TABLET, DESKTOP]),
    ]
    written = []
    for user, path, name, viewports in shots:
        for viewport in viewports:
            page = open_page(user, path, viewport=viewport)
            expect(page.locator("main h1")).to_be_visible()
            size = "desktop" if viewport == DESKTOP else "tablet"
            target = folder / f"{name}-{size}.png"
            page.screenshot(path=str(target))
            written.append(target)

    # The walk-in form, opened.
    page = open_page(frontdesk, "/tickets/new/", viewport=DESKTOP)
    page.get_by_label("New customer (walk-in)").check()
    page.screenshot(path=str(folder / "new-ticket-walk-in-desktop.png"), full_page=True)
    written.append(folder / "new-ticket-walk-in-desktop.png")

    # A technician about to complete a ticket on the tablet.
    page = open_page(technician, "/tickets/queue/", viewport=TABLET)
    page.locator("summary", has_text="Move…").first.click()
    page.get_by_label("Comment (optional)").first.fill("Replaced the keyboard; all keys tested.")
    page.screenshot(path=str(folder / "my-queue-complete-tablet.png"))
    written.append(folder / "my-queue-complete-tablet.png")

    # The sign-in page, signed out.
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    login = context.new_page()
    login.goto("/accounts/login/")
    login.screenshot(path=str(folder / "sign-in-desktop.png"))
    written.append(folder / "sign-in-desktop.png")
    context.close()

    for target in written:
        assert target.stat().st_size > 10_000, target
