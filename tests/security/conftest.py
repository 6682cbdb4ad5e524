"""Fixtures for the security tests."""

import pytest

from repairshop import ratelimits


@pytest.fixture(autouse=True)
def _fresh_ratelimit_state():
    """A store error seen by an earlier test must not change this one's policy."""
    ratelimits.reset_store_state()
    yield
    ratelimits.reset_store_state()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Failed logins hash a password too; the slow production hasher adds nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def site_data(manager, technician, frontdesk, viewer):
    """One of everything, so that every route of the crawl has an object to show."""
    from accounts.models import ApiToken
    from tests.factories import make_customer, make_token
    from tickets.models import Notification, Priority
    from tickets.services import ticket_create
    from tickets.tasks import send_notification

    customer = make_customer(first_name="Grace", last_name="Hopper", email="grace@navy.test")
    ticket = ticket_create(
        actor=manager,
        data={
            "customer_id": customer.pk,
            "title": "Screen flickers",
            "description": "Flickers when the lid moves.",
            "priority": Priority.HIGH,
            "tech": technician,
        },
    )
    make_token(manager, name="crawl")
    notification = Notification.objects.filter(
        ticket=ticket
    ).first() or Notification.objects.create(
        ticket=ticket, recipient=technician.email, subject="Assigned", body="You got a ticket."
    )
    send_notification.enqueue(notification.pk)
    return {
        "customer": customer,
        "ticket": ticket,
        "user": technician,
        "manager": manager,
        "token": ApiToken.objects.first(),
    }
