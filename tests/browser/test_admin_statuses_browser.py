"""The status admin in a real browser: the transition map and the change form render under
the strict CSP (open_page fails on any violation) with the vendored stylesheet applied, and
a manager changes the allowed moves with the checkboxes."""

import pytest

from tickets.models import Status, StatusTransition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_transition_map_renders_styled_without_csp_violations(open_page, manager):
    page = open_page(manager, "/admin/tickets/status/map/")
    table = page.locator("#transition-map")
    assert table.locator("td.allowed").count() == StatusTransition.objects.count()
    # The admin's CSS and ours load from 'self': the diagonal is shaded, the marks coloured.
    shade = page.eval_on_selector("td.self", "e => getComputedStyle(e).backgroundColor")
    assert shade not in ("rgba(0, 0, 0, 0)", "transparent")
    page.screenshot(path="/tmp/admin_transition_map.png", full_page=True)


def test_a_manager_changes_the_moves_with_the_checkboxes(open_page, manager):
    received = Status.objects.get(key="received")
    page = open_page(manager, f"/admin/tickets/status/{received.pk}/change/")
    page.get_by_label("In repair (in_repair, In progress)").uncheck()
    page.locator('input[name="_save"]').click()
    page.wait_for_url("**/admin/tickets/status/")
    assert not StatusTransition.objects.filter(source=received, target__key="in_repair").exists()
    assert StatusTransition.objects.filter(source=received).count() == 6
