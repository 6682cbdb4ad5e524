"""Managers editing statuses at the same moment (issue 12), on PostgreSQL with real threads
and connections: whatever order the edits land in, each group keeps exactly one default,
an active status of that group, and a refused edit is a clear error, never a 500."""

import threading

import pytest
from django.db import connection

from accounts import roles
from core.errors import DomainError
from tests import factories
from tickets import services
from tickets.models import Status, StatusGroupDefault

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_together(functions) -> list:
    """Each function in its own thread and connection, released at once by a barrier; each
    one's result or the exception it raised."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def worker(index, function):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def outcome(result) -> str:
    if isinstance(result, DomainError):
        return result.code
    if isinstance(result, BaseException):
        return f"error: {result!r}"
    return "ok"


@pytest.mark.parametrize("round_", range(3))
def test_racing_default_switches_and_deactivations_keep_one_active_default(postgresql_only, round_):
    manager = factories.make_user(username=f"m{round_}", roles=[roles.MANAGER])
    by_key = {s.key: s.pk for s in Status.objects.all()}

    def save(status_key, **data):
        status_id = by_key.get(status_key)
        return lambda: services.status_save(actor=manager, status_id=status_id, data=data)

    results = run_together(
        [
            save("diagnosing", is_default=True),
            save("in_repair", active=False),
            save("diagnosing", active=False),
            save(None, key="bench", label="On the bench", group="in_progress", is_default=True),
        ]
    )
    outcomes = [outcome(r) for r in results]
    assert all(o in ("ok", "VALIDATION_ERROR", "CONFLICT") for o in outcomes), outcomes
    assert "ok" in outcomes
    rows = list(StatusGroupDefault.objects.filter(group="in_progress").select_related("status"))
    assert len(rows) == 1
    assert rows[0].status.active and rows[0].status.group == "in_progress"
    assert StatusGroupDefault.objects.count() == 5
