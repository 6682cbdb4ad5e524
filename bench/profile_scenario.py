"""Where one scenario's time goes, in-process: mean time per request, each SQL query with
its time (and EXPLAIN ANALYZE with --explain), and the cProfile top functions.

    uv run python bench/profile_scenario.py list [--scale 1.0] [-n 200] [--explain] [--top 30]
    uv run python bench/profile_scenario.py all [-n 200] [--rendering]

--rendering forgets every remembered list (core.rendered) and the polled version
before each request: the cost of the first request after a change, which renders.

`all` prints the CPU cost of one request of every scenario: this process's CPU time plus
the CPU time of the PostgreSQL backends serving it (from /proc), and that cost relative to
the floor's. On a machine that other work keeps busy, wall-clock req/s swing a lot; CPU per
request barely moves, and on a saturated box throughput is cores / CPU per request, so it
predicts the wrk ratios well enough to decide which change helps.

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


def _backend_cpu_seconds() -> float:
    """utime + stime of the client backends connected to this database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        )
        pids = [pid for (pid,) in cursor.fetchall()]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_table(n: int) -> int:
    from bench.scenarios import SignedIn, all_scenarios

    signed_in = SignedIn()
    items = all_scenarios()
    for sc in items:
        signed_in.resolve(sc)
    items = [sc for sc in items if not sc.error]
    for sc in items:
        for _ in range(3):
            signed_in.get(sc)
    rows = {}
    for sc in items:
        wall0, cpu0, db0 = time.perf_counter(), time.process_time(), _backend_cpu_seconds()
        for _ in range(n):
            signed_in.get(sc)
        wall = (time.perf_counter() - wall0) / n * 1000
        cpu = (time.process_time() - cpu0) / n * 1000
        db = (_backend_cpu_seconds() - db0) / n * 1000
        rows[sc.name] = (wall, cpu, db)
    floor = sum(rows["floor"][1:])
    print(f"{'scenario':22s} {'wall ms':>8s} {'py cpu ms':>10s} {'pg cpu ms':>10s} {'ratio':>6s}")
    for name, (wall, cpu, db) in rows.items():
        print(f"{name:22s} {wall:8.2f} {cpu:10.2f} {db:10.2f} {floor / (cpu + db):6.2f}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database", default="", help="database (default rs_bench_<tickets>)")
    parser.add_argument("-n", type=int, default=200, help="requests to time and profile")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each query")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument(
        "--database-url-base",
        default=os.environ.get("BENCH_DATABASE_URL_BASE", "postgres://root@127.0.0.1:5432"),
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--rendering",
        action="store_true",
        help="forget remembered lists before each request (the cost after a change)",
    )
    args = parser.parse_args(argv)

    url = database_url(args.database_url_base, counts_for(args.scale)[1], False)
    if args.database:
        url = f"{args.database_url_base.rstrip('/')}/{args.database}"
    os.environ.update(bench_env(url, args.redis_url))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.scenarios import SignedIn, all_scenarios

    if args.rendering:
        from django.core.cache import caches

        from core.rendered import forget_all

        plain_get = SignedIn.get

        def rendering_get(self, sc):
            caches["rendered"].clear()
            forget_all()
            return plain_get(self, sc)

        SignedIn.get = rendering_get

    if args.scenario == "all":
        return cpu_table(args.n)
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
