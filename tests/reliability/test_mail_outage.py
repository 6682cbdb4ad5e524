"""Scenario 2: the mail server is down while tickets are created (issue 7, docs/api.md §7).

Tickets are saved and answered as fast as usual; their notifications wait as "pending" while
the worker retries with a back-off; once the SMTP server is back every mail goes out exactly
once (the Message-ID carries the notification's key, the idempotency key).
"""

import random
import statistics
import time

import pytest

from tests.reliability import harness, workload

BASELINE = 10
DURING_OUTAGE = 50
# How long the SMTP server stays down after the last create, so the worker fails a few
# attempts per mail and backs off, as it would in a real outage.
EXTRA_DOWNTIME = 12
DELIVERY_DEADLINE = 60


def delivered(stack) -> int:
    return stack.scalar("SELECT count(*) FROM tickets_notification WHERE status = 'sent'")


@pytest.mark.timeout(240)
def test_mail_server_down(stack, report):
    client = stack.client("frontdesk")
    customer_ids = stack.seed.customer_ids

    def create():
        result = client.post("/api/tickets", workload.ticket_body(random.choice(customer_ids)))
        assert result.status == 201, (result.status, result.text)
        return result

    # Normal: the mail server answers.
    client.get("/api/tickets")  # warm up both workers' first request paths
    normal = [create() for _ in range(BASELINE)]
    harness.wait_for(lambda: delivered(stack) == BASELINE, timeout=30, what="baseline mails")

    stack.smtp.stop()
    down_at = time.monotonic()
    outage = [create() for _ in range(DURING_OUTAGE)]
    outage_ids = {r.body["ticket"]["id"] for r in outage}
    # All saved and all waiting; nothing was sent or given up on.
    by_status = dict(
        stack.sql(
            "SELECT status, count(*) FROM tickets_notification WHERE ticket_id = ANY(%s) "
            "GROUP BY status",
            (list(outage_ids),),
        )
    )
    assert by_status == {"pending": DURING_OUTAGE}, by_status
    normal_ms = statistics.median(r.elapsed for r in normal) * 1000
    outage_ms = statistics.median(r.elapsed for r in outage) * 1000
    # The request never talks to the mail server: an outage does not slow it down.
    assert outage_ms - normal_ms < 100, (normal_ms, outage_ms)

    time.sleep(EXTRA_DOWNTIME)
    attempts = stack.sql(
        "SELECT min(attempts), max(attempts) FROM tickets_notification WHERE ticket_id = ANY(%s)",
        (list(outage_ids),),
    )[0]
    assert attempts[0] >= 1, "the worker did not try to send while the server was down"
    assert delivered(stack) == BASELINE

    stack.smtp.start()
    back_at = time.monotonic()
    harness.wait_for(
        lambda: delivered(stack) == BASELINE + DURING_OUTAGE,
        timeout=DELIVERY_DEADLINE,
        interval=0.5,
        what=f"all mails delivered within {DELIVERY_DEADLINE}s of the server's return",
    )
    all_sent_after = time.monotonic() - back_at
    # Let any duplicate delivery (a second run of a task) arrive before counting.
    time.sleep(3)

    keys = [str(k) for (k,) in stack.sql("SELECT key FROM tickets_notification ORDER BY id")]
    ids = stack.smtp.message_ids()
    assert sum(ids.values()) == len(keys), (
        f"{sum(ids.values())} mails for {len(keys)} notifications"
    )
    for key in keys:
        matching = sum(n for mid, n in ids.items() if key in mid)
        assert matching == 1, f"notification {key} delivered {matching} times"

    figures = harness.check_invariant(stack, {r.body["ticket"]["id"] for r in normal + outage})
    report(
        tickets_created=len(normal) + len(outage),
        normal_median_ms=round(normal_ms, 1),
        outage_median_ms=round(outage_ms, 1),
        smtp_down_s=round(back_at - down_at, 1),
        attempts_while_down={"min": attempts[0], "max": attempts[1]},
        all_delivered_after_return_s=round(all_sent_after, 1),
        mails_received=sum(ids.values()),
        duplicates=sum(n - 1 for n in ids.values() if n > 1),
        invariant=figures,
    )
