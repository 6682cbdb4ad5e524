"""Scenario 6: a write that fails half-way leaves nothing behind (issue 7, docs/api.md §3, §7).

The test makes PostgreSQL reject the activity entry (a trigger on repairshop_activitylog
raises for the actions listed in a table the test fills), which happens after the ticket
row, the technician's assignment stamp, the Notification and its task were written in the
same transaction. The API must answer with the error envelope and none of it may survive.
"""

import pytest

from tests.reliability import harness, workload

TRIGGER = """
CREATE TABLE reliability_reject (action text PRIMARY KEY);
CREATE FUNCTION reliability_reject_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM reliability_reject WHERE action = NEW.action) THEN
        RAISE EXCEPTION 'reliability test: % rejected', NEW.action;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER reliability_reject_activity BEFORE INSERT ON repairshop_activitylog
    FOR EACH ROW EXECUTE FUNCTION reliability_reject_activity();
"""

COUNTS = {
    "tickets": "SELECT count(*) FROM tickets_ticket",
    "customers": "SELECT count(*) FROM customers_customer",
    "activity": "SELECT count(*) FROM repairshop_activitylog",
    "notifications": "SELECT count(*) FROM tickets_notification",
    "tasks": "SELECT count(*) FROM django_tasks_database_dbtaskresult",
    "assignment_stamps": "SELECT string_agg(coalesce(last_assigned_at::text, '-'), ',' "
    "ORDER BY id) FROM accounts_user",
    "completed": "SELECT count(*) FROM tickets_ticket WHERE completed",
}


def snapshot(stack) -> dict:
    return {name: stack.scalar(query) for name, query in COUNTS.items()}


def reject(stack, *actions):
    stack.sql("DELETE FROM reliability_reject")
    for action in actions:
        stack.sql("INSERT INTO reliability_reject VALUES (%s)", (action,))


def assert_server_error_envelope(result):
    assert result.status in (500, 503), (result.status, result.text)
    assert result.code in ("INTERNAL_ERROR", "DATABASE_ERROR"), result.text
    assert "Traceback" not in result.text and "reliability test" not in result.text


@pytest.mark.timeout(120)
def test_failed_activity_write_leaves_nothing(make_stack, report):
    stack = make_stack(worker=False)  # so queued tasks stay visible as rows
    stack.sql(TRIGGER)
    client = stack.client("frontdesk")
    customer_id = stack.seed.customer_ids[0]
    ok = client.post("/api/tickets", workload.ticket_body(customer_id))
    assert ok.status == 201, ok.text
    ticket_id = ok.body["ticket"]["id"]
    acknowledged = {ticket_id}

    # A ticket create (auto-assigned, so it also stamps the technician and queues mail).
    reject(stack, "ticket:create")
    before = snapshot(stack)
    failed_create = client.post("/api/tickets", workload.ticket_body(customer_id))
    assert_server_error_envelope(failed_create)
    assert snapshot(stack) == before

    # A customer create.
    reject(stack, "customer:create")
    failed_customer = client.post("/api/customers", workload.customer_body())
    assert_server_error_envelope(failed_customer)
    assert snapshot(stack) == before

    # A reassignment (queues mail to the new technician) and a status change.
    other_tech = next(
        u["email"]
        for name, u in stack.seed.users.items()
        if name.startswith("tech") and u["email"] != ok.body["ticket"]["tech"]
    )
    reject(stack, "ticket:update", "ticket:assign", "ticket:status_change")
    failed_patch = client.patch(f"/api/tickets/{ticket_id}", {"tech": other_tech})
    assert_server_error_envelope(failed_patch)
    failed_status = client.post(f"/api/tickets/{ticket_id}/status", {"completed": True})
    assert_server_error_envelope(failed_status)
    assert snapshot(stack) == before
    ticket = client.get(f"/api/tickets/{ticket_id}").body["ticket"]
    assert ticket["tech"] == ok.body["ticket"]["tech"] and ticket["completed"] is False

    # The same requests succeed once the database accepts the entries again.
    reject(stack)
    again = client.post("/api/tickets", workload.ticket_body(customer_id))
    assert again.status == 201, again.text
    acknowledged.add(again.body["ticket"]["id"])
    figures = harness.check_invariant(stack, acknowledged)
    report(
        rejected={
            "ticket create": failed_create.status,
            "customer create": failed_customer.status,
            "reassign": failed_patch.status,
            "status change": failed_status.status,
        },
        left_behind=0,
        invariant=figures,
    )
