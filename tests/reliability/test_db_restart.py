"""Scenario 1: the database goes away under load and comes back (issue 7).

Eight clients create tickets and customers over the API for 40 s; at second 15 the test stops
its own PostgreSQL cluster (`pg_ctl stop -m fast`) and starts it again 14 s later. The outage
is longer than the connection pool's wait (10 s), so requests during it do fail and /healthz
does say 503; a plain `pg_ctl restart` takes 0.2 s and the pool's checks hide it completely.
"""

import random
import threading
import time

import pytest
import requests

from tests.reliability import harness, workload

DURATION = 40
OUTAGE_AT = 15
OUTAGE_SECONDS = 14
# Errors are accepted from requests still running when the database stopped until this long
# after it came back (the pool reconnects with a back-off of 1, 2, 4 s).
GRACE_SECONDS = 8
TICKET_CLIENTS = 6
CUSTOMER_CLIENTS = 2


@pytest.mark.timeout(180)
def test_database_restart_under_load(stack, report):
    customer_ids = stack.seed.customer_ids
    timeline = {}
    health: list[tuple[float, int, float]] = []
    stop_probing = threading.Event()

    def probe_once():
        started = time.monotonic()
        try:
            status = requests.get(stack.base_url + "/healthz", timeout=35).status_code
        except requests.RequestException:
            status = 0
        health.append((started, status, time.monotonic() - started))

    def probe_health():
        # One probe a second, each on its own thread like a load balancer's checks: a probe
        # stuck behind the requests in flight when the database went away does not hold up
        # the next ones.
        probes = []
        while not stop_probing.is_set():
            probe = threading.Thread(target=probe_once, daemon=True)
            probe.start()
            probes.append(probe)
            stop_probing.wait(1)
        for probe in probes:
            probe.join(timeout=40)

    def outage():
        time.sleep(OUTAGE_AT)
        timeline["down"] = time.monotonic()
        stack.cluster.stop("fast")
        time.sleep(OUTAGE_SECONDS)
        timeline["starting"] = time.monotonic()
        stack.cluster.start()
        timeline["up"] = time.monotonic()

    def step(client, index):
        if index < TICKET_CLIENTS:
            return client.post("/api/tickets", workload.ticket_body(random.choice(customer_ids)))
        return client.post("/api/customers", workload.customer_body())

    prober = threading.Thread(target=probe_health, daemon=True)
    fault = threading.Thread(target=outage, daemon=True)
    clients = [stack.client("frontdesk") for _ in range(TICKET_CLIENTS + CUSTOMER_CLIENTS)]
    started = time.monotonic()
    prober.start()
    fault.start()
    results = workload.run_for(DURATION, clients, step)
    fault.join(timeout=60)
    # Keep probing a little after the load, so "200 after" is seen even if recovery is slow.
    time.sleep(2)
    stop_probing.set()
    prober.join(timeout=60)
    health.sort()
    down, up = timeline["down"], timeline["up"]

    failures = [r for r in results if not r.ok]
    # 1. Failures are the 503 envelope of docs/api.md §3, never a 500, an HTML page or a dropped
    #    connection.
    bad = [r for r in failures if r.status != 503 or r.code != "DATABASE_ERROR"]
    assert not bad, [(r.status, r.code, r.error, r.text[:200]) for r in bad[:5]]
    # 2. Only during the outage and a few seconds after.
    outside = [
        r for r in failures if r.started + r.elapsed < down or r.started > up + GRACE_SECONDS
    ]
    assert not outside, [(round(r.started - started, 1), r.status) for r in outside[:5]]
    # 3. Nothing hangs.
    slowest = max(r.elapsed for r in results)
    assert slowest < 30, f"a request took {slowest:.1f}s"
    # 4. /healthz says 503 while the database is down and 200 once it is back.
    # A probe can wait behind the requests already queued in gunicorn, so the one that is
    # answered before the database is back must say 503, and at least one must.
    probes = [(round(t - down, 1), s, round(e, 1)) for t, s, e in health]
    during = [s for t, s, e in health if t >= down and t + e < timeline["starting"]]
    assert 503 in during, f"/healthz never said 503 during the outage: {probes}"
    assert set(during) == {503}, f"/healthz during the outage: {probes}"
    recovered = [t for t, s, e in health if t > up and s == 200]
    assert recovered, "/healthz never said 200 after the database came back"
    assert all(s == 200 for t, s, _ in health if t > recovered[0]), "flapping /healthz"
    # 5. The app serves again after the outage.
    first_ok_after = min(
        (r.started + r.elapsed for r in results if r.ok and r.started > up), default=None
    )
    assert first_ok_after is not None, "no successful request after the database came back"

    # 6. The worker got through the outage too: every queued mail goes out, once. A send
    #    task the outage killed leaves its notification pending with no task; the worker
    #    re-queues it within 10 s (tickets/management/commands/worker.py).
    stranded_at_end = len(harness.stranded_notifications(stack))
    drain_started = time.monotonic()
    harness.wait_for(
        lambda: (
            stack.scalar("SELECT count(*) FROM tickets_notification WHERE status <> 'sent'") == 0
        ),
        timeout=90,
        interval=0.5,
        what="every notification sent after the outage",
    )
    drained_after = time.monotonic() - drain_started
    time.sleep(2)
    ids = stack.smtp.message_ids()
    keys = {str(k) for (k,) in stack.sql("SELECT key FROM tickets_notification")}
    delivered_keys = {mid.strip("<>").split("@")[0] for mid in ids}
    assert delivered_keys == keys, "a notification was not delivered, or a mail had no key"
    # At least once, not exactly once: if the database dies after the SMTP server took a
    # mail but before "sent" is committed, the retry sends it again. The copy carries the
    # same Message-ID (the notification's key), so a mail client shows it once. One worker
    # sends one mail at a time, so one outage can cause at most one such copy.
    duplicates = sum(n - 1 for n in ids.values())
    assert duplicates <= 1, f"{duplicates} duplicate mails: {ids.most_common(3)}"

    # 7. Every acknowledged write exists with its side effects, and nothing else does.
    tickets = {r.body["ticket"]["id"] for r in results if r.ok and r.path == "/api/tickets"}
    customers = {r.body["customer"]["id"] for r in results if r.ok and r.path == "/api/customers"}
    figures = harness.check_invariant(stack, tickets)
    rows = {
        cid
        for (cid,) in stack.sql(
            "SELECT id FROM customers_customer WHERE NOT (id = ANY(%s))", (customer_ids,)
        )
    }
    assert rows == customers, (len(rows), len(customers))
    entries = stack.scalar(
        "SELECT count(*) FROM repairshop_activitylog WHERE action = 'customer:create'"
    )
    assert entries == len(customers)

    in_outage = [
        r for r in results if r.started + r.elapsed >= down and r.started <= up + GRACE_SECONDS
    ]
    report(
        requests=len(results),
        statuses=workload.statuses(results),
        outage_seconds=OUTAGE_SECONDS,
        during_outage=workload.statuses(in_outage),
        last_error_after_up_s=round(
            max((r.started + r.elapsed - up for r in failures), default=0.0), 2
        ),
        app_recovery_s=round(first_ok_after - up, 2),
        healthz_recovery_s=round(recovered[0] - up, 2),
        healthz_during=sorted(set(during)),
        slowest_request_s=round(slowest, 2),
        slowest=[
            (round(r.started - down, 1), round(r.elapsed, 1), r.status)
            for r in sorted(results, key=lambda r: -r.elapsed)[:8]
        ],
        tickets_created=len(tickets),
        customers_created=len(customers),
        worker_restarts=stack.worker.restarts,
        mails_delivered=sum(ids.values()),
        duplicate_mails_same_message_id=duplicates,
        stranded_by_outage_then_requeued=stranded_at_end,
        mail_backlog_drained_after_load_s=round(drained_after, 1),
        invariant=figures,
    )
