"""Where one scenario's time goes, in-process: mean time per request, each SQL query with
its time (and EXPLAIN ANALYZE with --explain), and the cProfile top functions.

    uv run python bench/profile_scenario.py list [--scale 1.0] [-n 200] [--explain] [--top 30]

Uses the same database and settings as bench/run.py (run that once first to seed it).
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import bench_env, database_url  # noqa: E402
from bench.seed import counts_for  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("-n", type=int, default=200, help="requests to time and profile")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each query")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument(
        "--database-url-base",
        default=os.environ.get("BENCH_DATABASE_URL_BASE", "postgres://root@127.0.0.1:5432"),
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args(argv)

    url = database_url(args.database_url_base, counts_for(args.scale)[1], False)
    os.environ.update(bench_env(url, args.redis_url))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.scenarios import SignedIn, all_scenarios

    sc = next((s for s in all_scenarios() if s.name == args.scenario), None)
    if sc is None:
        parser.error(f"unknown scenario {args.scenario!r}")
    signed_in = SignedIn()
    signed_in.resolve(sc)
    if sc.error:
        print(sc.error)
        return 1
    print(f"{sc.name}: GET {sc.path}")
    for _ in range(3):
        response = signed_in.get(sc)
    print(f"status {response.status_code}, {len(response.content)} bytes")

    with CaptureQueriesContext(connection) as captured:
        signed_in.get(sc)
    print(f"\n{len(captured.captured_queries)} queries:")
    for q in captured.captured_queries:
        print(f"  {float(q['time']) * 1000:7.2f} ms  {q['sql'][:600]}")
        if args.explain and q["sql"].lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                for (line,) in cursor.fetchall():
                    print(f"      {line}")

    started = time.perf_counter()
    for _ in range(args.n):
        signed_in.get(sc)
    elapsed = (time.perf_counter() - started) / args.n * 1000
    print(f"\nmean {elapsed:.2f} ms per request over {args.n} (test client, in-process)")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.n):
        signed_in.get(sc)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
