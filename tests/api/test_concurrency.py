"""Races through the real HTTP stack (live server, one thread per request, PostgreSQL): the
database decides, and the API turns its verdict into 409s, never into a 5xx."""

import threading
from collections import Counter

import pytest
import requests

from accounts import roles
from tests import factories
from tests.helpers import customer_body
from tickets.models import Ticket

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def live_api(postgresql_only, live_server, settings):
    settings.RATELIMIT_ENABLE = False  # twenty requests in the same instant is the point
    manager = factories.make_user(username="race-manager", roles=[roles.MANAGER])
    token = factories.make_token(manager)
    return live_server.url, {"Authorization": f"Bearer {token}"}


def post_together(url: str, headers: dict, bodies: list[dict]) -> list[requests.Response]:
    """POSTs every body at once, each from its own thread, released by a barrier."""
    barrier = threading.Barrier(len(bodies))
    responses: list = [None] * len(bodies)

    def worker(index, body):
        barrier.wait(timeout=30)
        responses[index] = requests.post(url, json=body, headers=headers, timeout=60)

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, requests.Response) for r in responses)
    return responses


def test_twenty_creates_of_one_email_in_different_cases(live_api):
    base, headers = live_api
    emails = [
        "".join(c.upper() if (i >> n) & 1 else c for n, c in enumerate("race@example.com"))
        for i in range(20)
    ]
    responses = post_together(
        f"{base}/api/customers", headers, [customer_body(email=e) for e in emails]
    )
    outcomes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcomes == {(201, None): 1, (409, "DUPLICATE_EMAIL"): 19}, outcomes


def test_ten_tickets_at_once_split_evenly_between_two_idle_technicians(live_api):
    base, headers = live_api
    first = factories.make_user(username="tech-a", roles=[roles.TECHNICIAN])
    second = factories.make_user(username="tech-b", roles=[roles.TECHNICIAN])
    customer = factories.make_customer()
    body = {"customerId": customer.pk, "title": "Rush job", "description": "Today."}
    responses = post_together(f"{base}/api/tickets", headers, [body] * 10)
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    per_tech = Counter(r.json()["ticket"]["tech"] for r in responses)
    assert per_tech == {first.email: 5, second.email: 5}
    assert Counter(Ticket.objects.values_list("tech_id", flat=True)) == {
        first.pk: 5,
        second.pk: 5,
    }
