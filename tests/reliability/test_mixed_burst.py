"""Scenario: a burst of mixed writes by several users on PostgreSQL must not deadlock.

Eight threads send creates (auto-assigned and with a named technician), edits, reassignments
and status changes (managers, the front desk, and technicians on their own tickets), all with
API tokens, against gunicorn (2 processes x 4 threads). Before the lock order was fixed, a
status change failed with `deadlock detected` in most runs (503 DATABASE_ERROR): the ticket
writes took the technicians' rows FOR UPDATE while another transaction's foreign-key check
(FOR KEY SHARE on accounts_user, deferred to COMMIT) waited for them and held the data-version
row that the first one needed at its own commit.

Asserted: no 5xx and no missing answer, only the refusals the workload can expect (a
technician whose ticket was reassigned meanwhile: 403; an edit holding a stale updatedAt:
409), no "deadlock detected" in the PostgreSQL or application logs, and the scenario invariant
(every acknowledged ticket has its row, activity entry and mail).
"""

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.reliability import harness, workload

ROUNDS = 3
REQUESTS_PER_ROUND = 480
THREADS = 8
TECHNICIANS = ["tech1", "tech2", "tech3", "tech4"]
EXPECTED_REFUSALS = {(403, "FORBIDDEN"), (409, "CONFLICT")}


def _log_size(path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _log_since(path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class Burst:
    """The shared state of one scenario: the tickets, who they are assigned to (as the last
    acknowledged answer says) and their last known updatedAt."""

    def __init__(self, stack: harness.Stack):
        self.stack = stack
        self.lock = threading.Lock()
        self.tickets: dict[int, dict] = {}
        self.acknowledged: set[int] = set()
        self.email_of = {name: stack.seed.users[name]["email"] for name in TECHNICIANS}
        self.name_of = {email: name for name, email in self.email_of.items()}
        self.local = threading.local()

    def client(self, user: str) -> harness.ApiClient:
        """This thread's client, sending `user`'s token on its next request.

        One keep-alive connection per thread, used back to back: with one per (thread, user)
        a connection could sit idle past gunicorn's keep-alive timeout (2 s) and be closed
        just as the next request went out on it (a connection reset that no server code
        saw)."""
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = self.stack.client(user)
        client.session.headers["Authorization"] = f"Bearer {self.stack.seed.tokens[user]}"
        return client

    def remember(self, result: harness.Result) -> None:
        if result.ok and result.body and "ticket" in result.body:
            ticket = result.body["ticket"]
            with self.lock:
                self.tickets[ticket["id"]] = ticket
                if result.method == "POST" and result.path == "/api/tickets":
                    self.acknowledged.add(ticket["id"])

    def pick(self, rng: random.Random, tech: str | None = None) -> dict | None:
        with self.lock:
            if tech is None:
                pool = list(self.tickets.values())
            else:
                email = self.email_of[tech]
                pool = [t for t in self.tickets.values() if t["tech"] == email]
        return rng.choice(pool) if pool else None

    # --- the operations ---

    def create(self, rng: random.Random) -> harness.Result:
        user = rng.choice(["frontdesk", "manager"])
        body = workload.ticket_body(rng.choice(self.stack.seed.customer_ids))
        if rng.random() < 0.3:
            body["tech"] = self.email_of[rng.choice(TECHNICIANS)]
        return self.client(user).post("/api/tickets", body)

    def edit(self, rng: random.Random) -> harness.Result:
        ticket = self.pick(rng)
        user = rng.choice(["frontdesk", "manager"])
        body = {"title": f"Edited {workload.next_n()}", "priority": rng.choice(["low", "high"])}
        if rng.random() < 0.3:
            body["updatedAt"] = ticket["updatedAt"]  # may be stale: 409 is fine
        return self.client(user).patch(f"/api/tickets/{ticket['id']}", body)

    def reassign(self, rng: random.Random) -> harness.Result:
        ticket = self.pick(rng)
        tech = rng.choice([*TECHNICIANS, None])
        body = {"tech": self.email_of[tech] if tech else None}
        return self.client("manager").patch(f"/api/tickets/{ticket['id']}", body)

    def status(self, rng: random.Random) -> harness.Result:
        tech = rng.choice(TECHNICIANS)
        ticket = self.pick(rng, tech) if rng.random() < 0.6 else None
        user = tech
        if ticket is None:  # a manager's or the front desk's status change
            ticket = self.pick(rng)
            user = rng.choice(["manager", "frontdesk"])
        body = {"completed": rng.random() < 0.6}
        if rng.random() < 0.3:
            body["notes"] = f"Checked by {user}"
        return self.client(user).post(f"/api/tickets/{ticket['id']}/status", body)

    def step(self, seed: int) -> harness.Result:
        rng = random.Random(seed)
        roll = rng.random()
        if roll < 0.25:
            op, result = "create", self.create(rng)
        elif roll < 0.50:
            op, result = "edit", self.edit(rng)
        elif roll < 0.65:
            op, result = "reassign", self.reassign(rng)
        else:
            op, result = "status", self.status(rng)
        result.op = op
        self.remember(result)
        return result


@pytest.mark.timeout(240)
def test_mixed_write_burst_has_no_deadlock(stack, report):
    pg_log = stack.cluster.logfile
    pg_offset = _log_size(pg_log)
    app_logs = [p for p in (stack.app.logfile, stack.worker.logfile)]
    app_offsets = [_log_size(p) for p in app_logs]

    burst = Burst(stack)
    for n in range(24):  # something to edit from the first request on
        created = burst.client("frontdesk").post(
            "/api/tickets", workload.ticket_body(stack.seed.customer_ids[n % 5])
        )
        assert created.status == 201, created.text
        burst.remember(created)

    rounds = []
    results: list[harness.Result] = []
    for round_no in range(ROUNDS):
        started = time.monotonic()
        seeds = [round_no * REQUESTS_PER_ROUND + i for i in range(REQUESTS_PER_ROUND)]
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            got = list(pool.map(burst.step, seeds))
        duration = time.monotonic() - started
        results.extend(got)
        rounds.append(
            {
                "requests": len(got),
                "5xx": sum(1 for r in got if r.status >= 500),
                "no_answer": sum(1 for r in got if r.status == 0),
                "seconds": round(duration, 1),
                "statuses": workload.statuses(got),
            }
        )

    failures = [r for r in results if r.status >= 500 or r.status == 0]
    unexpected = [r for r in results if not r.ok and (r.status, r.code) not in EXPECTED_REFUSALS]
    pg_text = _log_since(pg_log, pg_offset)
    app_text = "".join(_log_since(p, o) for p, o in zip(app_logs, app_offsets, strict=True))
    deadlocks_pg = pg_text.lower().count("deadlock detected")
    deadlocks_app = app_text.lower().count("deadlock")
    by_op = {
        op: dict(sorted(Counter(r.status for r in results if r.op == op).items()))
        for op in ("create", "edit", "reassign", "status")
    }
    figures = {
        "rounds": rounds,
        "requests": len(results),
        "5xx": sum(1 for r in results if r.status >= 500),
        "deadlocks_in_postgres_log": deadlocks_pg,
        "deadlocks_in_app_logs": deadlocks_app,
        "by_operation": by_op,
    }
    print(harness.dumps(figures))
    assert not failures, (
        f"{len(failures)} of {len(results)} requests got a 5xx or no answer: "
        f"{[(r.op, r.status, r.path, r.text[:200]) for r in failures[:5]]}"
    )
    assert not unexpected, [(r.op, r.status, r.path, r.text[:200]) for r in unexpected[:5]]
    assert deadlocks_pg == 0, pg_text[-3000:]
    assert deadlocks_app == 0, app_text[-3000:]
    assert all(by_op[op].get(200, 0) + by_op[op].get(201, 0) > 0 for op in by_op), by_op

    figures["invariant"] = harness.check_invariant(stack, burst.acknowledged)
    report(**figures)
