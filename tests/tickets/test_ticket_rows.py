"""{% ticket_row %} (tickets/templatetags/ticket_rows.py): the ticket row built in Python."""

import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from tests import factories
from tickets.models import Status


def _row(ticket, user, **extra) -> str:
    request = RequestFactory().get("/tickets/?completed=false")
    request.user = user
    return render_to_string("tickets/_ticket_row.html", {"ticket": ticket, **extra}, request)


@pytest.fixture
def ticket(customer, technician):
    return factories.make_ticket(
        customer=customer,
        tech=technician,
        title='Printer <script>alert("x")</script> & co',
        device_brand="HP",
        device_model="LaserJet <b>",
    )


@pytest.mark.django_db
def test_row_markup_and_escaping(ticket, frontdesk):
    html = _row(ticket, frontdesk)
    assert (
        f'<tr id="ticket-{ticket.pk}" data-ticket-row="{ticket.pk}" data-completed="false"' in html
    )
    assert f'<a href="/tickets/{ticket.pk}/">#{ticket.pk} Printer &lt;script&gt;' in html
    assert "<script>" not in html and "<b>" not in html
    assert "Grace Hopper · HP LaserJet &lt;b&gt;" in html
    assert '<span class="badge status-new" data-status-badge>Received</span>' in html
    assert '<span class="badge priority-medium">Medium</span>' in html
    assert '<td data-label="Technician">Tess</td>' in html
    created = timezone.localtime(ticket.created_at)
    assert f'<time datetime="{created.isoformat()}">' in html
    # The status form: posts to the status URL, back to the list it came from.
    assert f'action="/tickets/{ticket.pk}/status/"' in html
    assert 'name="status" value="diagnosing"' in html
    assert 'name="next" value="/tickets/?completed=false"' in html
    assert re.search(r'name="csrfmiddlewaretoken" value="\w+"', html)
    assert "hide_tech" not in html


@pytest.mark.django_db
def test_completed_row_queue_variant_and_roles(ticket, frontdesk, other_technician, viewer):
    ticket.status, ticket.completed = Status.objects.get(key="ready"), True
    ticket.save()
    html = _row(ticket, frontdesk, hide_tech=True, row_next="/tickets/queue/?a=1&b=2")
    assert 'data-completed="true" data-status="ready" class="is-completed"' in html
    assert "Move…" in html and 'name="status" value="collected"' in html
    assert 'data-label="Technician"' not in html
    assert '<input type="hidden" name="hide_tech" value="1">' in html
    assert 'name="next" value="/tickets/queue/?a=1&amp;b=2"' in html
    # Someone else's ticket for a technician, anything for a viewer: no status form.
    assert "status-form" not in _row(ticket, other_technician)
    assert "status-form" not in _row(ticket, viewer)


@pytest.mark.django_db
def test_unassigned_ticket(customer, frontdesk):
    html = _row(factories.make_ticket(customer=customer, tech=None), frontdesk)
    assert '<td data-label="Technician"><span class="row-sub">Unassigned</span></td>' in html
