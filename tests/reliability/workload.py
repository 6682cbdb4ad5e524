"""Request bodies and a small thread-based load generator for the scenarios."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable

from tests.reliability.harness import ApiClient, Result

_seq = itertools.count(1)
_seq_lock = threading.Lock()


def next_n() -> int:
    with _seq_lock:
        return next(_seq)


def customer_body(n: int | None = None, **overrides) -> dict:
    n = n if n is not None else next_n()
    body = {
        "firstName": "Load",
        "lastName": f"Tester{n}",
        "email": f"load{n}-{time.monotonic_ns()}@example.com",
        "phone": "+1 555 0100",
        "address1": "1 Fault Street",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "country": "US",
    }
    body.update(overrides)
    return body


def ticket_body(customer_id: int, n: int | None = None, **overrides) -> dict:
    n = n if n is not None else next_n()
    body = {
        "customerId": customer_id,
        "title": f"ThinkPad T480 no boot ({n})",
        "description": "Fan spins, no display. Customer needs the data.",
        "priority": "medium",
        "serialNumber": f"SN{n:08d}",
    }
    body.update(overrides)
    return body


def run_for(
    seconds: float,
    clients: list[ApiClient],
    step: Callable[[ApiClient, int], Result],
) -> list[Result]:
    """Each client calls step(client, thread_index) in a loop until `seconds` have passed;
    returns every result. Requests started before the deadline finish (bounded by the client
    timeout)."""
    deadline = time.monotonic() + seconds
    results: list[Result] = []
    lock = threading.Lock()

    def loop(client: ApiClient, index: int):
        local = []
        while time.monotonic() < deadline:
            local.append(step(client, index))
        with lock:
            results.extend(local)

    threads = [
        threading.Thread(target=loop, args=(client, i), daemon=True)
        for i, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    assert not any(t.is_alive() for t in threads), "a load thread hung"
    return results


def all_at_once(calls: list[Callable[[], Result]]) -> list[Result]:
    """Runs the calls on one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[Result | None] = [None] * len(calls)

    def run(i):
        barrier.wait(timeout=30)
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in results), "a concurrent call did not finish"
    return results  # type: ignore[return-value]


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def latency_figures(results: list[Result]) -> dict:
    times = [r.elapsed for r in results]
    return {
        "requests": len(results),
        "p50_ms": round(statistics.median(times) * 1000, 1) if times else 0,
        "p95_ms": round(percentile(times, 95) * 1000, 1),
        "max_ms": round(max(times, default=0) * 1000, 1),
    }


def statuses(results: list[Result]) -> dict:
    return dict(sorted(Counter(r.status for r in results).items()))
