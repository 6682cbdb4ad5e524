"""Scenario 4: concurrent writers over the API on gunicorn (issue 7, docs/api.md §4, §5).

gunicorn runs 2 processes x 4 threads, so the requests released together by a barrier really
are handled at the same time, each in its own transaction.
"""

import random
from collections import Counter

import pytest

from tests.reliability import harness, workload

ROUNDS = 100


@pytest.mark.timeout(240)
def test_same_updated_at_one_wins_one_conflicts(stack, report):
    alice, bob = stack.client("frontdesk"), stack.client("manager")
    created = alice.post("/api/tickets", workload.ticket_body(stack.seed.customer_ids[0]))
    assert created.status == 201, created.text
    ticket_id = created.body["ticket"]["id"]
    path = f"/api/tickets/{ticket_id}"
    outcomes = Counter()
    for n in range(ROUNDS):
        read = alice.get(path)
        assert read.status == 200, read.text
        stamp = read.body["ticket"]["updatedAt"]
        titles = {alice: f"Alice's title {n}", bob: f"Bob's title {n}"}
        results = workload.all_at_once(
            [
                lambda c=client, body={"title": titles[client], "updatedAt": stamp}: c.patch(
                    path, body
                )
                for client in (alice, bob)
            ]
        )
        got = sorted(r.status for r in results)
        outcomes[tuple(got)] += 1
        assert got == [200, 409], f"round {n}: {[(r.status, r.text[:200]) for r in results]}"
        winner = next(r for r in results if r.status == 200)
        loser = next(r for r in results if r.status == 409)
        assert loser.code == "CONFLICT"
        # The loser is shown what it lost against, and that is what is stored: no silent
        # overwrite.
        assert loser.body["details"]["current"]["title"] == winner.body["ticket"]["title"]
        assert alice.get(path).body["ticket"]["title"] == winner.body["ticket"]["title"]

    updates = stack.scalar(
        "SELECT count(*) FROM repairshop_activitylog WHERE action = 'ticket:update' "
        "AND object_id = %s",
        (ticket_id,),
    )
    assert updates == ROUNDS, f"{updates} ticket:update entries for {ROUNDS} successful PATCHes"
    figures = harness.check_invariant(stack, {ticket_id})
    report(rounds=ROUNDS, outcomes={str(k): v for k, v in outcomes.items()}, invariant=figures)


def _case_variant(address: str, rng: random.Random) -> str:
    local, domain = address.split("@")
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in local) + "@" + domain


@pytest.mark.timeout(120)
def test_parallel_creates_of_one_email_make_one_customer(stack, report):
    rng = random.Random(7)
    variants = [_case_variant("Concurrent.Customer@Example.com", rng) for _ in range(20)]
    variants[0] = variants[0].upper()  # the domain's case must not matter either
    clients = [stack.client("frontdesk") for _ in variants]
    results = workload.all_at_once(
        [
            lambda c=client, e=email: c.post("/api/customers", workload.customer_body(email=e))
            for client, email in zip(clients, variants, strict=True)
        ]
    )
    statuses = Counter(r.status for r in results)
    assert statuses == {201: 1, 409: 19}, [(r.status, r.text[:200]) for r in results]
    assert {r.code for r in results if r.status == 409} == {"DUPLICATE_EMAIL"}
    rows = stack.scalar(
        "SELECT count(*) FROM customers_customer WHERE lower(email) = %s",
        ("concurrent.customer@example.com",),
    )
    assert rows == 1
    entries = stack.scalar(
        "SELECT count(*) FROM repairshop_activitylog WHERE action = 'customer:create'"
    )
    assert entries == 1
    report(requests=len(results), statuses=dict(statuses), rows=rows)


@pytest.mark.timeout(120)
def test_simultaneous_tickets_spread_over_idle_technicians(stack, report):
    clients = [stack.client("frontdesk") for _ in range(20)]
    customers = stack.seed.customer_ids
    results = workload.all_at_once(
        [
            lambda c=client, i=i: c.post(
                "/api/tickets", workload.ticket_body(customers[i % len(customers)])
            )
            for i, client in enumerate(clients)
        ]
    )
    assert [r.status for r in results] == [201] * 20, [r.text[:200] for r in results]
    per_tech = Counter(r.body["ticket"]["tech"] for r in results)
    technicians = {stack.seed.users[f"tech{n}"]["email"] for n in range(1, 5)}
    assert set(per_tech) == technicians, per_tech
    assert sorted(per_tech.values()) == [5, 5, 5, 5], per_tech
    stored = dict(
        stack.sql(
            "SELECT u.email, count(*) FROM tickets_ticket t JOIN accounts_user u "
            "ON u.id = t.tech_id GROUP BY u.email"
        )
    )
    assert stored == dict(per_tech)
    figures = harness.check_invariant(stack, {r.body["ticket"]["id"] for r in results})
    report(tickets=len(results), per_technician=dict(per_tech), invariant=figures)
