"""The benchmark runner: production settings, gunicorn, wrk, every scenario against the floor.

    uv run python bench/run.py                 full run at 200k tickets -> docs/benchmarks.{md,json}
    uv run python bench/run.py --scale-runs    ... plus the 20k / 200k / 2M scale table
    uv run python bench/run.py --scale-only    only the scale table, merged into docs/
    uv run python bench/run.py --quick         3 short rounds -> bench/results/
    uv run python bench/run.py --smoke         scale 0.01, one 2 s round (CI) -> bench/results/

Per data size it uses its own PostgreSQL database (rs_bench_<tickets>, created when missing),
migrates it, seeds it once (bench/seed.py, skipped when that size is already loaded), signs the
users in and counts each scenario's queries (bench/scenarios.py), starts gunicorn with 2 sync
workers on loopback under bench.settings (DEBUG=false, HTTPS=false, Redis cache and sessions),
and drives each scenario with wrk in interleaved rounds: floor, then every scenario, again and
again. Each scenario's req/s is divided by the floor's of the same round; the table shows the
median over the rounds. The peak RSS is the workers' VmHWM from /proc at the end.

wrk is the Debian package: `apt-get install wrk`.
"""

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DOCS = ROOT / "docs"
LUA = BENCH / "wrk_report.lua"
sys.path.insert(0, str(ROOT))

from bench.seed import counts_for  # noqa: E402

# Targets of issue 6: median ratio to the floor at 200k tickets.
TARGETS = {
    "list": 0.50,
    "list_partial": 0.60,
    "queue": 0.50,
    "poll_unchanged": 0.90,
    "api_list": 0.50,
    "search": 0.25,
    "customer_search": 0.40,
    "api_customer_search": None,  # measured, no target in the issue
    "admin_changelist": 0.10,
    # Issue 12: the board meets the queue's target, its poll the list poll's; a ticket's
    # history is an API read like the list.
    "board": 0.50,
    "board_frontdesk": 0.50,
    "board_poll": 0.90,
    "history": 0.50,
    "statuses": None,  # measured, no target in the issue
}
SEARCH_P99_MS = 100
SEARCH_P99_MS_AT_2M = 250
RSS_LIMIT_MB = 150
SCALE_SCENARIOS = ("list", "queue", "poll_unchanged", "api_list", "search")
SCALES = (0.1, 1.0, 10.0)


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --- environment ---------------------------------------------------------------------------------
def find_wrk() -> str:
    wrk = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
    if not wrk:
        raise BenchError("wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu).")
    return wrk


def redis_reachable(url: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def database_url(base: str, tickets: int, smoke: bool) -> str:
    name = "rs_bench_smoke" if smoke else f"rs_bench_{tickets}"
    return f"{base.rstrip('/')}/{name}"


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def bench_env(db_url: str, redis_url: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SENTRY_", "OIDC_", "EMAIL_", "DATABASE_", "REDIS_", "RATE"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="false",
        HTTPS="false",
        SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DATABASE_URL=db_url,
        CACHE_KEY_PREFIX="rsbench",
        # One bench user makes thousands of API reads a minute; the limiter still runs.
        RATE_LIMIT_API_READ="10000000/m",
        PYTHONPATH=str(ROOT),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def run_child(args: list[str], env: dict, what: str) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def prepare_database(scale: float, args, env: dict) -> dict:
    """Migrate, seed if needed, sign in and count queries. Returns bench/scenarios.py's JSON."""
    py = sys.executable
    ensure_database(env["DATABASE_URL"])
    log("migrate")
    run_child([py, "manage.py", "migrate", "--noinput", "-v0"], env, "migrate")
    log(f"seed scale {scale} (skipped when already loaded)")
    out = run_child(
        [py, "bench/seed.py", "--scale", str(scale), "--if-needed",
         "--database-url", env["DATABASE_URL"]],
        env, "seed",
    )  # fmt: skip
    for line in out.strip().splitlines():
        log(f"  {line}")
    log("sign in, check answers, count queries")
    out = run_child([py, "bench/scenarios.py"], env, "scenario preparation")
    return json.loads(out.strip().splitlines()[-1])


def collectstatic(env: dict) -> None:
    log("collectstatic")
    run_child(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env, "collectstatic"
    )


# --- gunicorn ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, env: dict, workers: int, port: int, log_path: Path):
        self.env, self.workers, self.port, self.log_path = env, workers, port, log_path
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_file = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "repairshop.wsgi:application",
             "--workers", str(self.workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited, see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as answer:
                    if answer.status == 200 and len(self.worker_pids()) == self.workers:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise BenchError(f"gunicorn did not answer /healthz within 60 s, see {self.log_path}")

    def worker_pids(self) -> list[int]:
        assert self.proc
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
        return sorted(pids)

    def peak_rss_mb(self) -> float:
        """The largest VmHWM (peak resident set) among the workers, in MiB."""
        peak = 0
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        return round(peak / 1024, 1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log_file", None):
            self.log_file.close()


# --- wrk -----------------------------------------------------------------------------------------
def check_answer(server: Server, sc: dict) -> str:
    """One request before the load: the status must be the expected one (a redirect to the
    login page would look very fast)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    request = urllib.request.Request(server.base + sc["path"], headers=sc["headers"])
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return "" if status == sc["status"] else f"expected {sc['status']}, got {status} over HTTP"


def run_wrk(
    wrk: str, server: Server, sc: dict, *, duration: float, connections: int, threads: int
) -> dict:
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
    ]
    for key, value in sc["headers"].items():
        cmd += ["-H", f"{key}: {value}"]
    cmd += [server.base + sc["path"], "--", str(sc["status"])]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line[len("WRK_JSON ") :])
            break
    else:
        raise BenchError(f"wrk gave no result for {sc['name']}:\n{done.stdout}\n{done.stderr}")
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "requests": raw["requests"],
        "unexpected": raw["unexpected"],
        "unexpected_status": raw["unexpected_status"],
        "socket_errors": sum(raw["errors"].values()),
    }


def measure(prep: dict, names: list[str], args, env: dict, wrk: str) -> dict:
    """Starts gunicorn, warms up, runs the interleaved rounds. Returns per-scenario lists."""
    by_name = {sc["name"]: sc for sc in prep["scenarios"]}
    failed = {n: by_name[n]["error"] for n in names if n in by_name and by_name[n]["error"]}
    missing = [n for n in names if n not in by_name]
    for n in missing:
        failed[n] = "unknown scenario"
    runnable = [n for n in names if n not in failed]

    RESULTS.mkdir(parents=True, exist_ok=True)
    server = Server(env, args.workers, free_port(), RESULTS / "gunicorn.log")
    log(f"gunicorn: {args.workers} sync workers on {server.base}")
    server.start()
    try:
        for name in ["floor", *runnable]:
            problem = check_answer(server, by_name[name])
            if problem:
                if name == "floor":
                    raise BenchError(f"the floor URL fails: {problem}")
                failed[name] = problem
        runnable = [n for n in runnable if n not in failed]
        for name, problem in failed.items():
            log(f"  SKIPPED {name}: {problem}")
        warm = min(2.0, args.duration)
        log(f"warm-up ({warm:g} s each)")
        for name in ["floor", *runnable]:
            run_wrk(
                wrk,
                server,
                by_name[name],
                duration=warm,
                connections=args.connections,
                threads=args.threads,
            )
        rounds: dict[str, list[dict]] = {n: [] for n in ["floor", *runnable]}

        def one_run(r: int, name: str, duration: float) -> dict:
            one = run_wrk(
                wrk, server, by_name[name],
                duration=duration, connections=args.connections, threads=args.threads,
            )  # fmt: skip
            bad = (
                f"  UNEXPECTED {one['unexpected']} (last {one['unexpected_status']})"
                if one["unexpected"]
                else ""
            )
            errs = f"  socket errors {one['socket_errors']}" if one["socket_errors"] else ""
            log(f"round {r} {name:20s} {one['rps']:8.1f} req/s  p50 {one['p50_ms']:7.2f} ms  "
                f"p99 {one['p99_ms']:7.2f} ms{bad}{errs}")  # fmt: skip
            return one

        for r in range(1, args.rounds + 1):
            if args.floor_each:
                # floor, s1, floor, s2, ..., floor: each scenario against the mean of the two
                # floors around it, so a change in the machine's load during the round
                # (other work on a shared box) shifts both sides of the ratio alike.
                floors = [one_run(r, "floor", args.floor_duration)]
                for name in runnable:
                    one = one_run(r, name, args.duration)
                    floors.append(one_run(r, "floor", args.floor_duration))
                    one["floor_rps"] = (floors[-2]["rps"] + floors[-1]["rps"]) / 2
                    rounds[name].append(one)
                rounds["floor"].append(
                    {
                        k: round(statistics.fmean(f[k] for f in floors), 2)
                        for k in ("rps", "p50_ms", "p99_ms")
                    }
                )
            else:
                for name in ["floor", *runnable]:
                    rounds[name].append(one_run(r, name, args.duration))
        rss = server.peak_rss_mb()
    finally:
        server.stop()
    return {"rounds": rounds, "failed": failed, "rss": rss, "by_name": by_name}


def summarise(measured: dict, prep: dict) -> tuple[dict, dict]:
    rounds = measured["rounds"]
    floor = rounds["floor"]
    floor_out = {
        "rps": [x["rps"] for x in floor],
        "p50_ms": [x["p50_ms"] for x in floor],
        "p99_ms": [x["p99_ms"] for x in floor],
    }
    out = {}
    for name, runs in rounds.items():
        if name == "floor":
            continue
        sc = measured["by_name"][name]
        out[name] = {
            "rps": [x["rps"] for x in runs],
            "p50_ms": [x["p50_ms"] for x in runs],
            "p99_ms": [x["p99_ms"] for x in runs],
            "ratio": [
                round(x["rps"] / x.get("floor_rps", f["rps"]), 3) if f["rps"] else 0.0
                for x, f in zip(runs, floor, strict=True)
            ],
            "queries": sc["queries"],
            "bytes": sc["bytes"],
            "path": sc["path"],
            "label": sc["label"],
            "unexpected_answers": sum(x["unexpected"] + x["socket_errors"] for x in runs),
        }
    for name, problem in measured["failed"].items():
        sc = measured["by_name"].get(name, {})
        out[name] = {"error": problem, "path": sc.get("path", ""), "label": sc.get("label", name)}
    return floor_out, out


def med(values):
    return statistics.median(values) if values else None


# --- output --------------------------------------------------------------------------------------
def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} cores, {mem}, {platform.system()} {platform.machine()}" + (
        f" ({cpu})" if cpu else ""
    )


def verdict(name: str, s: dict) -> str:
    target = TARGETS.get(name)
    if "error" in s:
        return "not run"
    if target is None:
        return "—"
    ok = med(s["ratio"]) >= target
    if name == "search":
        ok = ok and med(s["p99_ms"]) <= SEARCH_P99_MS
    return "yes" if ok else "**no**"


def target_text(name: str) -> str:
    target = TARGETS.get(name)
    if target is None:
        return "—"
    return f"≥ {target:.2f}" + (f", p99 ≤ {SEARCH_P99_MS} ms" if name == "search" else "")


def markdown(result: dict) -> str:
    lines = [
        f"Run of {result['date']} on {result['machine']}; {result['database']}; "
        f"{result['tickets']:,} tickets ({result.get('open_tickets', 0):,} open), "
        f"{result['customers']:,} customers. Load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in result.get('load_average_after', []))}.",
        f"gunicorn {result['workers']} sync workers, `DEBUG=false`, Redis cache and sessions; "
        f"wrk {result['connections']} connections, {result['threads']} thread(s), "
        f"{result['rounds']} interleaved rounds of {result['duration_s']:g} s. "
        "Figures are medians over the rounds; the ratio is to the floor of the same round "
        + (
            "(measured just before and just after each scenario, the mean of the two) "
            if result.get("floor_each")
            else ""
        )
        + "(min to max in brackets).",
        "",
        "| scenario | req/s | p50 ms | p99 ms | ratio to floor | queries/request | target | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    f = result["floor"]
    lines.append(
        f"| floor (`/bench/floor`) | {med(f['rps']):.0f} | {med(f['p50_ms']):.2f} | "
        f"{med(f['p99_ms']):.2f} | 1.00 | {result.get('floor_queries', '')} | | |"
    )
    for name, s in result["scenarios"].items():
        if "error" in s:
            lines.append(
                f"| {name} | — | — | — | — | — | {target_text(name)} | not run: {s['error']} |"
            )
            continue
        ratio = f"{med(s['ratio']):.2f} ({min(s['ratio']):.2f} to {max(s['ratio']):.2f})"
        lines.append(
            f"| {name} | {med(s['rps']):.0f} | {med(s['p50_ms']):.2f} | {med(s['p99_ms']):.2f} | "
            f"{ratio} | {s['queries']} | {target_text(name)} | {verdict(name, s)} |"
        )
    rss = result["worker_peak_rss_mb"]
    lines += [
        "",
        f"Worker peak RSS (VmHWM, largest worker): **{rss} MB** (target ≤ {RSS_LIMIT_MB} MB: "
        f"{'yes' if rss <= RSS_LIMIT_MB else '**no**'}).",
        "",
        "Scenario URLs: "
        + "; ".join(f"{n} `{s.get('path', '')}`" for n, s in result["scenarios"].items())
        + ".",
    ]
    if result.get("scale"):
        lines += ["", *scale_markdown(result["scale"])]
    return "\n".join(lines) + "\n"


def scale_markdown(scale: list[dict]) -> list[str]:
    names = [n for n in SCALE_SCENARIOS if n != "search"]
    lines = [
        "### Scale: 20k → 200k → 2M tickets",
        "",
        "req/s (ratio to the floor of the same run); search as p99. Last row: the 2M run as a "
        "share of the 20k run (target ≥ 90 % for the four, search p99 ≤ 250 ms at 2M).",
        "",
        "| tickets | floor req/s | "
        + " | ".join(f"{n} req/s" for n in names)
        + " | search p99 ms |",
        "|---:|---:|" + "---:|" * len(names) + "---:|",
    ]
    for entry in scale:
        cells = []
        for n in names:
            s = entry["scenarios"].get(n)
            cells.append(f"{s['rps']:.0f} ({s['ratio']:.2f})" if s else "—")
        search = entry["scenarios"].get("search")
        search_cell = f"{search['p99_ms']:.1f}" if search else "—"
        lines.append(
            f"| {entry['tickets']:,} | {entry['floor']['rps']:.0f} | "
            + " | ".join(cells)
            + f" | {search_cell} |"
        )
    small = next((e for e in scale if e["tickets"] == counts_for(0.1)[1]), None)
    big = next((e for e in scale if e["tickets"] == counts_for(10.0)[1]), None)
    if small and big:
        cells = []
        for n in names:
            a, b = small["scenarios"].get(n), big["scenarios"].get(n)
            if a and b:
                raw = b["rps"] / a["rps"] * 100
                rel = b["ratio"] / a["ratio"] * 100
                cells.append(f"{raw:.0f} % ({rel:.0f} % of ratio)")
            else:
                cells.append("—")
        search = big["scenarios"].get("search")
        search_cell = f"{search['p99_ms']:.1f} at 2M" if search else "—"
        lines.append("| 2M / 20k | | " + " | ".join(cells) + f" | {search_cell} |")
    return lines


MARK_BEGIN = "<!-- bench:results:begin (written by bench/run.py) -->"
MARK_END = "<!-- bench:results:end -->"
DEFAULT_DOC = f"""# Benchmarks

How fast the pages, the poll and the API are, measured against the floor (the cost of a
signed-in Django request that does nothing of ours). Re-run with `uv run python bench/run.py
--scale-runs` (see the runner's docstring and the README).

## Latest full run

{MARK_BEGIN}
{MARK_END}
"""


def write_outputs(result: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "benchmarks.json"
    md_path = out_dir / "benchmarks.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    doc = md_path.read_text() if md_path.exists() else DEFAULT_DOC
    if MARK_BEGIN not in doc:
        doc += f"\n{MARK_BEGIN}\n{MARK_END}\n"
    head, rest = doc.split(MARK_BEGIN, 1)
    _, tail = rest.split(MARK_END, 1)
    md_path.write_text(f"{head}{MARK_BEGIN}\n{markdown(result)}{MARK_END}{tail}")
    log(f"wrote {md_path} and {json_path}")


# --- main ----------------------------------------------------------------------------------------
def run_scale(
    scale: float, names: list[str], args, wrk: str, redis_url: str, *, database: str = ""
) -> tuple[dict, dict]:
    tickets = counts_for(scale)[1]
    db_url = database_url(args.database_url_base, tickets, args.smoke)
    if database:
        db_url = f"{args.database_url_base.rstrip('/')}/{database}"
    env = bench_env(db_url, redis_url)
    prep = prepare_database(scale, args, env)
    measured = measure(prep, names, args, env, wrk)
    return prep, measured


def scale_entry(prep: dict, measured: dict) -> dict:
    floor, scen = summarise(measured, prep)
    entry = {"tickets": prep["tickets"], "floor": {"rps": med(floor["rps"])}, "scenarios": {}}
    for n in SCALE_SCENARIOS:
        s = scen.get(n)
        if not s or "error" in s:
            continue
        entry["scenarios"][n] = {
            "rps": med(s["rps"]),
            "ratio": med(s["ratio"]),
            "p50_ms": med(s["p50_ms"]),
            "p99_ms": med(s["p99_ms"]),
        }
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="data size of the main run (1.0 = 200k tickets)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds of 5 s, results to bench/results/"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="scale 0.01, 1 round of 2 s (CI), results to bench/results/",
    )
    parser.add_argument(
        "--scale-runs", action="store_true", help="also run the 20k / 200k / 2M table"
    )
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="only the scale table, merged into the existing JSON",
    )
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "-d", "--duration", type=float, default=None, help="seconds per wrk run (10)"
    )
    parser.add_argument("-c", "--connections", type=int, default=8)
    parser.add_argument(
        "-t",
        "--threads",
        type=int,
        default=1,
        help="wrk threads (1 leaves the cores to the server)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--floor-each",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the floor before and after every scenario (default) or once per round",
    )
    parser.add_argument("--floor-duration", type=float, default=None, help="seconds (d/2)")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument(
        "--database-url-base",
        default=os.environ.get("BENCH_DATABASE_URL_BASE", "postgres://root@127.0.0.1:5432"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    )
    parser.add_argument(
        "--database", default="", help="database of the main run (default rs_bench_<tickets>)"
    )
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args(argv)  # fmt: skip

    if args.smoke:
        args.scale = 0.01
        args.rounds = args.rounds or 1
        args.duration = args.duration or 2
    elif args.quick:
        args.rounds = args.rounds or 3
        args.duration = args.duration or 5
    args.rounds = args.rounds or 3
    args.duration = args.duration or 10
    args.floor_duration = args.floor_duration or max(1.0, args.duration / 2)
    out_dir = args.output_dir or (RESULTS if (args.smoke or args.quick or args.only) else DOCS)

    try:
        wrk = find_wrk()
        redis_url = args.redis_url
        if redis_url and not redis_reachable(redis_url):
            log(f"Redis at {redis_url} is not reachable: using the database cache")
            redis_url = ""
        all_names = list(TARGETS)
        names = [n.strip() for n in args.only.split(",") if n.strip()] or all_names
        collectstatic(bench_env(database_url(args.database_url_base, 0, True), redis_url))

        if args.scale_only:
            path = out_dir / "benchmarks.json"
            result = json.loads(path.read_text()) if path.exists() else None
            if not result:
                raise BenchError(f"--scale-only needs an earlier full run in {path}")
            result["scale"] = []
            for scale in SCALES:
                log(f"=== scale run: {counts_for(scale)[1]:,} tickets ===")
                result["scale"].append(
                    scale_entry(*run_scale(scale, list(SCALE_SCENARIOS), args, wrk, redis_url))
                )
            write_outputs(result, out_dir)
            return 0

        tickets = counts_for(args.scale)[1]
        log(f"=== main run: {tickets:,} tickets, {args.rounds} rounds of {args.duration:g} s ===")
        prep, measured = run_scale(args.scale, names, args, wrk, redis_url, database=args.database)
        floor, scen = summarise(measured, prep)
        result = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine(),
            "database": prep["database"],
            "tickets": prep["tickets"],
            "open_tickets": prep["open_tickets"],
            "customers": prep["customers"],
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": args.connections,
            "threads": args.threads,
            "workers": args.workers,
            "floor_each": args.floor_each,
            "floor_duration_s": args.floor_duration,
            "floor": floor,
            "floor_queries": next(s["queries"] for s in prep["scenarios"] if s["name"] == "floor"),
            "scenarios": scen,
            "worker_peak_rss_mb": measured["rss"],
            # Other work on the machine skews the req/s (less so the ratios): keep it on record.
            "load_average_after": list(os.getloadavg()),
        }
        if args.scale_runs:
            result["scale"] = []
            for scale in SCALES:
                if scale == args.scale:
                    result["scale"].append(scale_entry(prep, measured))
                    continue
                log(f"=== scale run: {counts_for(scale)[1]:,} tickets ===")
                result["scale"].append(
                    scale_entry(*run_scale(scale, list(SCALE_SCENARIOS), args, wrk, redis_url))
                )
        else:
            # A main run alone keeps the scale table of the previous run in the same place.
            previous = out_dir / "benchmarks.json"
            with contextlib.suppress(OSError, ValueError):
                if scale := json.loads(previous.read_text()).get("scale"):
                    result["scale"] = scale
        write_outputs(result, out_dir)
        print(markdown(result))
        problems = [f"{n}: {s['error']}" for n, s in scen.items() if "error" in s]
        problems += [
            f"{n}: {s['unexpected_answers']} unexpected answers"
            for n, s in scen.items()
            if s.get("unexpected_answers")
        ]
        if problems:
            log("PROBLEMS:\n  " + "\n  ".join(problems))
            return 1
        return 0
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
