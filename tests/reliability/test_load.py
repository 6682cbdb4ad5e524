"""Scenario 7: a mixed load for 60 s at 16 concurrent clients (issue 7).

70 % reads (ticket lists with search and filters, customer search, one ticket), 25 % creates
(tickets and customers), 5 % status changes, against gunicorn (2 processes x 4 threads) on
PostgreSQL. Every request must succeed; the p95 latency is printed, not asserted.
"""

import random
import threading

import pytest

from tests.reliability import harness, workload

DURATION = 60
CLIENTS = 16
SEARCHES = ["ThinkPad", "no boot", "SN000", "fan", "#1", "12", "display", "zz-none"]


@pytest.mark.timeout(240)
def test_mixed_load(stack, report):
    customers = list(stack.seed.customer_ids)
    tickets: list[int] = []
    lock = threading.Lock()
    # Something to read and to complete from the first second.
    seeder = stack.client("frontdesk")
    for n in range(20):
        created = seeder.post("/api/tickets", workload.ticket_body(customers[n % len(customers)]))
        assert created.status == 201, created.text
        tickets.append(created.body["ticket"]["id"])

    def read(client, rng):
        kind = rng.random()
        if kind < 0.4:
            params = {"page": rng.randint(1, 3), "pageSize": 20}
            if rng.random() < 0.5:
                params["search"] = rng.choice(SEARCHES)
            if rng.random() < 0.3:
                params["completed"] = rng.choice(["true", "false"])
            if rng.random() < 0.2:
                params["sortBy"] = rng.choice(["priority", "updatedAt", "title"])
            return client.get("/api/tickets", params=params)
        if kind < 0.6:
            return client.get(
                "/api/customers", params={"search": rng.choice(["Tester", "ada", "load1"])}
            )
        with lock:
            ticket_id = rng.choice(tickets)
        return client.get(f"/api/tickets/{ticket_id}", params={"includeCustomer": "true"})

    def step(client, index):
        rng = client.rng
        roll = rng.random()
        if roll < 0.70:
            result = read(client, rng)
            result.op = "read"
        elif roll < 0.90:
            result = client.post("/api/tickets", workload.ticket_body(rng.choice(customers)))
            result.op = "create ticket"
            if result.status == 201:
                with lock:
                    tickets.append(result.body["ticket"]["id"])
        elif roll < 0.95:
            result = client.post("/api/customers", workload.customer_body())
            result.op = "create customer"
            if result.status == 201:
                with lock:
                    customers.append(result.body["customer"]["id"])
        else:
            with lock:
                ticket_id = rng.choice(tickets)
            result = client.post(
                f"/api/tickets/{ticket_id}/status", {"completed": rng.random() < 0.7}
            )
            result.op = "status"
        return result

    clients = []
    for n in range(CLIENTS):
        client = stack.client("frontdesk" if n % 2 else "manager")
        client.rng = random.Random(n)
        clients.append(client)
    results = workload.run_for(DURATION, clients, step)

    failures = [r for r in results if not r.ok]
    assert not failures, [(r.op, r.status, r.path, r.text[:200]) for r in failures[:10]]
    by_op = {}
    for op in ("read", "create ticket", "create customer", "status"):
        subset = [r for r in results if r.op == op]
        by_op[op] = workload.latency_figures(subset)
    created = {r.body["ticket"]["id"] for r in results if r.op == "create ticket"}
    figures = harness.check_invariant(stack, created | set(tickets[:20]))
    report(
        clients=CLIENTS,
        seconds=DURATION,
        statuses=workload.statuses(results),
        errors=len(failures),
        throughput_rps=round(len(results) / DURATION, 1),
        overall=workload.latency_figures(results),
        by_operation=by_op,
        invariant=figures,
    )
