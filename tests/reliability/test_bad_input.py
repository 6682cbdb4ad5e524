"""Scenario 8: bad input never makes a server error, and no role writes what it may not
(issue 7, docs/api.md §3, §6), on PostgreSQL (which, unlike SQLite, rejects NUL bytes).

- schemathesis fuzzes every operation of /api/openapi.json over HTTP against gunicorn, once
  with each role's token; the database is compared before and after for what that role may
  not change.
- Hand-made bad bodies: malformed JSON, bodies over 1 MB (refused from the Content-Length,
  before the body is read), NUL bytes and invalid UTF-8 in every text field.
"""

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability import harness, workload

ROLE_ORDER = ["viewer", "technician", "frontdesk", "manager"]  # read-only roles first
MAX_EXAMPLES = 5

CUSTOMER_TEXT = [
    "firstName", "lastName", "email", "phone", "address1", "address2", "city", "state", "zip",
    "country", "notes",
]  # fmt: skip
TICKET_TEXT = [
    "title", "description", "category", "notes", "deviceType", "deviceBrand", "deviceModel",
    "serialNumber", "accessories", "condition", "tech", "priority",
]  # fmt: skip
LIST_PARAMS = {
    "/api/customers": ["search", "sortBy", "sortOrder", "active"],
    "/api/tickets": [
        "search",
        "tech",
        "priority",
        "dateFrom",
        "dateTo",
        "sortBy",
        "completed",
        "status",
        "statusGroup",
        "overdue",
    ],
}


def db_state(stack, tech_id: int) -> dict:
    return {
        "customers": stack.sql("SELECT id, updated_at, active FROM customers_customer ORDER BY id"),
        "tickets": stack.sql("SELECT id, updated_at, tech_id FROM tickets_ticket ORDER BY id"),
        "others_tickets": stack.sql(
            "SELECT id, updated_at FROM tickets_ticket WHERE tech_id IS DISTINCT FROM %s "
            "ORDER BY id",
            (tech_id,),
        ),
    }


def run_schemathesis(stack, role: str, workdir) -> tuple[int, str, int, dict]:
    report_path = workdir / f"schemathesis-{role}.json"
    command = [
        str(Path(harness.PYTHON).parent / "st"), "run", f"{stack.base_url}/api/openapi.json",
        "-H", f"Authorization: Bearer {stack.seed.tokens[role]}",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-allow-x00", "true",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--request-timeout", "20",
        "--seed", "20261125",
        "--workers", "4",  # gunicorn has 8 threads; sequential requests would idle them
        "--no-color",
        "--report", "ndjson", "--report-ndjson-path", str(report_path),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=harness.ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    phases = dict(re.findall(r"(Examples|Coverage|Fuzzing) \(in ([\d.]+)s\)", result.stdout))
    requests_made = 0
    if report_path.exists():
        for line in report_path.read_text().splitlines():
            requests_made += line.count('"response":')
    (workdir / f"schemathesis-{role}.out").write_text(result.stdout + result.stderr)
    failures = result.stdout[result.stdout.find("=== FAILURES") :] if result.returncode else ""
    return result.returncode, failures[:12000] + result.stderr[-2000:], requests_made, phases


@pytest.mark.timeout(600)
def test_schemathesis_with_every_role(stack, report, tmp_path):
    manager = stack.client("manager")
    customers = stack.seed.customer_ids
    # Tickets for every technician, so the technician's token meets others' tickets too.
    for n in range(8):
        tech = stack.seed.users[f"tech{n % 4 + 1}"]["email"]
        created = manager.post("/api/tickets", workload.ticket_body(customers[n % 5], tech=tech))
        assert created.status == 201, created.text
    tech1 = stack.seed.users["tech1"]["id"]

    figures = {}
    for role in ROLE_ORDER:
        before = db_state(stack, tech1)
        started = time.monotonic()
        code, output, requests_made, phases = run_schemathesis(stack, role, tmp_path)
        after = db_state(stack, tech1)
        figures[role] = {
            "exit": code,
            "requests": requests_made,
            "seconds": round(time.monotonic() - started, 1),
            "phase_seconds": phases,
        }
        assert code == 0, f"schemathesis as {role} found server errors:\n{output}"
        if role == "viewer":
            assert after == before, "the viewer changed data"
        if role == "technician":
            assert after["customers"] == before["customers"], "a technician changed customers"
            assert len(after["tickets"]) == len(before["tickets"]), "a technician made tickets"
            assert after["others_tickets"] == before["others_tickets"], (
                "a technician changed someone else's ticket"
            )
        if role == "frontdesk":
            was_active = {cid for cid, _, active in before["customers"] if active}
            still = {cid for cid, _, active in after["customers"] if active}
            assert was_active <= still, "the front desk deactivated a customer"
        figures[role]["rows_changed"] = sum(
            len(set(after[k]) ^ set(before[k])) for k in ("customers", "tickets")
        )
    ticket_ids = {tid for tid, _, _ in stack.sql("SELECT id, 0, 0 FROM tickets_ticket")}
    invariant = harness.check_invariant(stack, ticket_ids)
    report(by_role=figures, invariant=invariant)


def raw_request(port: int, head: bytes, body_part: bytes, *, timeout: float = 15) -> bytes:
    """Sends the head and part of a body, then reads whatever the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body_part)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


@pytest.mark.timeout(300)
def test_bad_bodies_are_4xx(stack, report):
    client = stack.client("manager")
    customer_id = stack.seed.customer_ids[0]
    ticket = client.post("/api/tickets", workload.ticket_body(customer_id))
    assert ticket.status == 201
    ticket_id = ticket.body["ticket"]["id"]
    writes = [
        ("POST", "/api/customers"),
        ("PATCH", f"/api/customers/{customer_id}"),
        ("POST", "/api/tickets"),
        ("PATCH", f"/api/tickets/{ticket_id}"),
        ("POST", f"/api/tickets/{ticket_id}/status"),
    ]
    json_headers = {"Content-Type": "application/json"}
    outcomes: dict[str, dict[int, int]] = {}

    def record(kind, result, *, expect_4xx=True):
        outcomes.setdefault(kind, {})
        outcomes[kind][result.status] = outcomes[kind].get(result.status, 0) + 1
        assert result.status < 500, (kind, result.method, result.path, result.text[:300])
        if expect_4xx:
            assert 400 <= result.status < 500, (kind, result.method, result.path, result.text)
            assert result.body is not None and "code" in result.body, result.text[:300]

    # Malformed JSON.
    for method, path in writes:
        for raw in (b"{", b'{"title": }', b"[1, 2", b"null", b'"just a string"', b"{'a': 1}"):
            result = client.call(method, path, data=raw, headers=json_headers)
            record("malformed json", result)
            assert result.code == "VALIDATION_ERROR", result.text

    # Invalid UTF-8 inside a JSON string, in every text field.
    for method, path, fields in [
        ("POST", "/api/customers", CUSTOMER_TEXT),
        ("PATCH", f"/api/customers/{customer_id}", CUSTOMER_TEXT),
        ("POST", "/api/tickets", TICKET_TEXT),
        ("PATCH", f"/api/tickets/{ticket_id}", TICKET_TEXT),
    ]:
        for field in fields:
            raw = b'{"' + field.encode() + b'": "caf\xc3\x28 \xff\xfe"}'
            record("invalid utf-8", client.call(method, path, data=raw, headers=json_headers))

    # NUL bytes in every text field (PostgreSQL would refuse them with a DataError).
    base_customer = workload.customer_body()
    base_ticket = workload.ticket_body(customer_id)
    for field in CUSTOMER_TEXT:
        body = {**base_customer, field: "nul\x00byte"}
        record("nul byte", client.post("/api/customers", body))
        record("nul byte", client.patch(f"/api/customers/{customer_id}", {field: "nul\x00byte"}))
    for field in TICKET_TEXT:
        body = {**base_ticket, field: "nul\x00byte"}
        record("nul byte", client.post("/api/tickets", body))
        record("nul byte", client.patch(f"/api/tickets/{ticket_id}", {field: "nul\x00byte"}))
    record(
        "nul byte",
        client.post(f"/api/tickets/{ticket_id}/status", {"completed": True, "notes": "a\x00b"}),
    )
    record("nul byte", client.post("/api/customers", {**base_customer, "nul\x00key": "x"}))
    for path, params in LIST_PARAMS.items():
        for param in params:
            record("nul byte in query", client.get(path, params={param: "a\x00b"}))
            # Invalid UTF-8 in a query string is decoded with replacement characters by
            # Django: a harmless search, so any non-5xx answer is right.
            result = client.call("GET", f"{path}?{param}=%FF%FEx")
            record("invalid utf-8 in query", result, expect_4xx=False)

    # Bodies over 1 MB: refused from the Content-Length, before the body is read.
    token = stack.seed.tokens["manager"]
    declared = 50 * 1024 * 1024
    head = (
        f"POST /api/customers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = raw_request(stack.port, head, b'{"notes": "' + b"x" * 65536)
    status_line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    assert status_line.split()[1:2] in (["413"], ["400"]), status_line or "no answer"
    huge_declared_answer_s = round(time.monotonic() - started, 2)
    big = json.dumps({**base_customer, "notes": "x" * (2 * 1024 * 1024)})
    result = client.call("POST", "/api/customers", data=big, headers=json_headers)
    record("over 1 MB", result)
    assert result.status in (400, 413), result.text

    # A chunked body has no Content-Length: Django reads none of it (an empty body).
    chunked_head = (
        f"POST /api/customers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    chunked_answer = raw_request(stack.port, chunked_head, chunk * 32 + b"0\r\n\r\n")
    chunked_status = chunked_answer.split(b"\r\n", 1)[0].decode(errors="replace")
    assert chunked_status.split()[1:2] in (["413"], ["400"]), chunked_status or "no answer"

    # Nothing of the above was written.
    figures = harness.check_invariant(stack, {ticket_id})
    report(
        requests=sum(sum(v.values()) for v in outcomes.values()) + 1,
        statuses_by_kind=outcomes,
        fifty_mb_declared={"status": status_line, "answered_after_s": huge_declared_answer_s},
        two_mb_chunked=chunked_status,
        invariant=figures,
    )
