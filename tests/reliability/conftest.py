"""Fixtures of the fault-injection suite (issue 7): a PostgreSQL cluster owned by the test run,
a migrated and seeded template database, and per scenario a fresh copy of it served by gunicorn
with the task worker and an SMTP sink.

The suite takes a few minutes and needs the PostgreSQL server binaries, so a plain `pytest`
skips it; it runs with `pytest -m reliability`, `pytest tests/reliability` or
RUN_RELIABILITY=1 (CI runs it through .ci/run).
"""

import json
import os
import re
import tempfile
from pathlib import Path

import pytest

from tests.reliability import harness

HERE = Path(__file__).resolve().parent
TEMPLATE_DB = "rs_template"
_figures: list[tuple[str, dict]] = []


def _selected_explicitly(config) -> bool:
    if os.environ.get("RUN_RELIABILITY") == "1":
        return True
    markexpr = config.getoption("markexpr", default="") or ""
    if "reliability" in markexpr and "not reliability" not in markexpr:
        return True
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if HERE in Path(str(item.path)).parents]
    for item in ours:
        item.add_marker(pytest.mark.reliability)
    if ours and not _selected_explicitly(config):
        skip = pytest.mark.skip(
            reason="fault-injection suite (several minutes, own PostgreSQL cluster): "
            "run with `pytest -m reliability` or RUN_RELIABILITY=1; CI runs it"
        )
        for item in ours:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    if not _figures:
        return
    terminalreporter.section("reliability figures")
    for scenario, figures in _figures:
        terminalreporter.write_line(f"{scenario}: {harness.dumps(figures)}")
    out = Path("test-results")
    out.mkdir(exist_ok=True)
    with open(out / "reliability.jsonl", "a") as f:
        for scenario, figures in _figures:
            f.write(json.dumps({"scenario": scenario, **figures}, default=str) + "\n")


@pytest.fixture
def report(request):
    """report(**figures): printed at the end of the run and appended to
    test-results/reliability.jsonl, so the release note can quote them."""

    def record(**figures):
        _figures.append((request.node.name, figures))
        print(f"{request.node.name}: {harness.dumps(figures)}")

    return record


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster made with initdb for this test run, holding a migrated, seeded
    template database that every scenario copies."""
    bin_dir = harness.postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    cluster = harness.PgCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        cluster.create_database(TEMPLATE_DB)
        env = harness.app_env(database_url=cluster.url(TEMPLATE_DB), smtp_port=1)
        harness.manage(env, "migrate", "--noinput", "-v", "0")
        # DEBUG=false serves static files from the manifest, so the pages need it.
        harness.manage(env, "collectstatic", "--noinput", "-v", "0")
        out = harness.subprocess.run(
            [harness.PYTHON, "-m", "tests.reliability.seed"],
            cwd=harness.ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        cluster.seed = harness.Seed(**json.loads(out.stdout.strip().splitlines()[-1]))
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def make_stack(pg_cluster, request):
    """make_stack(redis=False, worker=True) -> a started Stack on a fresh copy of the template
    database; everything is stopped and dropped afterwards."""
    stacks: list[harness.Stack] = []
    workdirs = []

    def make(*, redis: bool = False, worker: bool = True, app: bool = True, **options):
        name = re.sub(r"\W+", "_", request.node.name).lower()[:40] + f"_{len(stacks)}"
        pg_cluster.create_database(name, template=TEMPLATE_DB)
        workdir = Path(tempfile.mkdtemp(prefix="rs-stack-"))
        workdirs.append(workdir)
        smtp = harness.SmtpSink()
        smtp.start()
        redis_server = None
        if redis:
            redis_server = harness.RedisServer(workdir)
            redis_server.start()
        stack = harness.Stack(
            cluster=pg_cluster,
            dbname=name,
            seed=pg_cluster.seed,
            workdir=workdir,
            smtp=smtp,
            redis=redis_server,
            **options,
        )
        stacks.append(stack)
        if app:
            stack.start_app()
        if worker:
            stack.start_worker()
        return stack

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for stack in stacks:
        if failed:
            for proc in (stack.app, stack.worker):
                if proc is not None:
                    print(f"--- {proc.name} log ---\n{proc.log()}")
            print(f"--- postgres log ---\n{harness.tail(pg_cluster.logfile)}")
        stack.stop()
        stack.smtp.stop()
        if stack.redis is not None:
            stack.redis.stop()
        if not pg_cluster.is_running():
            pg_cluster.start()
        pg_cluster.drop_database(stack.dbname)
    for workdir in workdirs:
        harness.shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def stack(make_stack):
    return make_stack()
