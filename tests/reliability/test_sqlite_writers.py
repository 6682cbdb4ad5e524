"""Scenario 5: SQLite as the embedded default under concurrent writers (issue 7).

Four processes each create 500 tickets through the services (auto-assignment, activity entry,
queued notification: the full write) on one SQLite file at the same time. WAL plus
BEGIN IMMEDIATE with a busy timeout (settings) must queue the writers instead of failing with
"database is locked".
"""

import json
import sqlite3
import subprocess
import time

import pytest

from tests.reliability import harness

PROCESSES = 4
PER_PROCESS = 500


@pytest.mark.timeout(300)
def test_four_processes_write_to_sqlite(tmp_path, report):
    path = tmp_path / "embedded.sqlite3"
    env = harness.app_env(database_url=f"sqlite:///{path}", smtp_port=1, DEBUG="true")
    harness.manage(env, "migrate", "--noinput", "-v", "0")
    subprocess.run(
        [harness.PYTHON, "-m", "tests.reliability.seed"],
        cwd=harness.ROOT, env=env, capture_output=True, check=True, timeout=120,
    )  # fmt: skip

    start_at = time.time() + 5  # every process has imported Django by then
    writers = [
        subprocess.Popen(
            [
                harness.PYTHON,
                "-m",
                "tests.reliability.sqlite_writer",
                str(PER_PROCESS),
                str(start_at),
            ],
            cwd=harness.ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    outputs = []
    for writer in writers:
        out, err = writer.communicate(timeout=240)
        assert writer.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.time() - start_at

    locked = sum(o["locked"] for o in outputs)
    errors = [e for o in outputs for e in o["errors"]]
    assert locked == 0, f'{locked} "database is locked" errors'
    assert not errors, errors
    assert sum(o["created"] for o in outputs) == PROCESSES * PER_PROCESS

    db = sqlite3.connect(path)
    tickets = db.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]
    entries = db.execute(
        "SELECT count(DISTINCT object_id), count(*) FROM repairshop_activitylog "
        "WHERE action = 'ticket:create'"
    ).fetchone()
    notifications = db.execute(
        "SELECT count(DISTINCT ticket_id) FROM tickets_notification WHERE status = 'pending'"
    ).fetchone()[0]
    tasks = db.execute(
        "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'READY'"
    ).fetchone()[0]
    per_tech = db.execute(
        "SELECT count(*) FROM tickets_ticket GROUP BY tech_id ORDER BY 1"
    ).fetchall()
    db.close()
    total = PROCESSES * PER_PROCESS
    assert tickets == total
    assert entries == (total, total)
    assert notifications == total  # four technicians: every ticket got one
    assert tasks == total
    report(
        processes=PROCESSES,
        tickets=tickets,
        locked_errors=locked,
        seconds=round(elapsed, 1),
        tickets_per_second=round(total / elapsed, 1),
        per_technician=[n for (n,) in per_tech],
    )
