"""The parts a fault test owns: a throwaway PostgreSQL cluster, an SMTP sink, a Redis, gunicorn
and the task worker, each on a spare loopback port and each stoppable on demand.

Nothing here touches the shared PostgreSQL or Redis of the machine (CI runs other suites on
them at the same time): the cluster is made with initdb in a temporary folder and removed
afterwards.
"""

from __future__ import annotations

import contextlib
import email
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def postgres_bin_dir() -> Path | None:
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


# --- PostgreSQL ----------------------------------------------------------------------------


class PgCluster:
    """A PostgreSQL cluster in a temporary folder, TCP on 127.0.0.1 only, trust auth."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        # Not under pytest's tmp_path: that is mode 700 for root, and initdb refuses to run as
        # root, so the server runs as the "postgres" user and must be able to reach its folder.
        self.dir = Path(tempfile.mkdtemp(prefix="rs-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.port = free_port()
        self.as_other_user = os.geteuid() == 0
        if self.as_other_user:
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, user="postgres")

    def _cmd(self, name: str, *args: str) -> list[str]:
        cmd = [str(self.bin / name), *args]
        if self.as_other_user:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def _run(self, name: str, *args: str, timeout: float = 60):
        result = subprocess.run(
            self._cmd(name, *args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{name} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{tail(self.logfile)}"
            )
        return result

    def init(self):
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\nmax_connections = 200\n"
                # fsync only matters when the machine crashes; a fast shutdown checkpoints.
                "fsync = off\nfull_page_writes = off\n"
                "log_min_messages = warning\nlog_min_error_statement = panic\n"
            )

    def start(self):
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast"):
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_running(self) -> bool:
        result = subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data), "status"), capture_output=True, check=False
        )
        return result.returncode == 0

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True,
            connect_timeout=5,
        )  # fmt: skip

    def create_database(self, name: str, *, template: str | None = None):
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')

    def drop_database(self, name: str):
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self):
        with contextlib.suppress(Exception):
            if self.is_running():
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- SMTP sink ---------------------------------------------------------------------------


class SmtpSink:
    """An SMTP server on loopback that keeps every message; stop() makes the port refuse."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[email.message.Message] = []
        self._lock = threading.Lock()
        self._controller = None

    def start(self):
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                message = email.message_from_bytes(envelope.original_content or envelope.content)
                with sink._lock:
                    sink.messages.append(message)
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def snapshot(self) -> list[email.message.Message]:
        with self._lock:
            return list(self.messages)

    def message_ids(self) -> Counter:
        return Counter(m.get("Message-ID", "") for m in self.snapshot())


# --- Redis ---------------------------------------------------------------------------------


class RedisServer:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def answers():
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s,
            ):
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
            return False

        wait_for(answers, timeout=10, what="redis")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


# --- The application ---------------------------------------------------------------------


def app_env(*, database_url: str, smtp_port: int, redis_url: str | None = None, **extra) -> dict:
    """The production-like environment gunicorn and the worker get (docs/api.md §10)."""
    env = {
        k: v
        for k, v in os.environ.items()
        # Whatever the outer test run was pointed at must not leak in.
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SENTRY_DSN",
            "EMAIL_URL",
            "DJANGO_SETTINGS_MODULE",
            "RENDERED_VERIFY",  # production-like: the servers run without verify mode
        }
        and not k.startswith(("PYTEST", "OIDC_", "RATE_LIMIT_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="repairshop.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        HTTPS="false",
        SECRET_KEY="reliability-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        RATELIMIT_ENABLE="false",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["CACHE_KEY_PREFIX"] = "rs-reliability"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Process:
    """A long-running child (gunicorn, the worker) with its output in a log file.

    With supervise=True it is restarted a second after it exits, as systemd's Restart=always
    does in production (the task worker exits when the database goes away)."""

    def __init__(self, name: str, cmd: list[str], env: dict, logdir: Path, supervise=False):
        self.name = name
        self.cmd = cmd
        self.env = env
        self.logfile = logdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.supervise = supervise
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def _spawn(self):
        log = open(self.logfile, "ab")  # noqa: SIM115 (the child keeps it)
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    def start(self):
        self._stopping.clear()
        self._spawn()
        if self.supervise:
            self._watcher = threading.Thread(target=self._watch, daemon=True)
            self._watcher.start()

    def _watch(self):
        while not self._stopping.is_set():
            if self.proc.poll() is not None and not self._stopping.wait(1):
                self.restarts += 1
                self._spawn()
            self._stopping.wait(0.2)

    def stop(self, timeout: float = 15):
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self.proc is None or self.proc.poll() is not None:
            return
        # gunicorn's graceful stop waits for keep-alive connections; the test is done with it.
        self.proc.send_signal(signal.SIGINT if self.name == "gunicorn" else signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def log(self, lines: int = 60) -> str:
        return tail(self.logfile, lines)


@dataclass
class Seed:
    tokens: dict[str, str]  # role/username -> bearer token
    users: dict[str, dict]  # username -> {"id": .., "email": ..}
    customer_ids: list[int]


@dataclass
class Stack:
    """One scenario's world: its own database (a copy of the migrated template), gunicorn,
    the task worker and an SMTP sink."""

    cluster: PgCluster
    dbname: str
    seed: Seed
    workdir: Path
    smtp: SmtpSink
    redis: RedisServer | None = None
    workers: int = 2
    threads: int = 4
    extra_env: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    app: Process | None = None
    worker: Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict:
        return app_env(
            database_url=self.cluster.url(self.dbname),
            smtp_port=self.smtp.port,
            redis_url=self.redis.url if self.redis else None,
            **self.extra_env,
        )

    def start_app(self):
        self.app = Process(
            "gunicorn",
            [
                PYTHON, "-m", "gunicorn", "repairshop.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--threads", str(self.threads),
                "--timeout", "30", "--graceful-timeout", "5", "--log-level", "warning",
            ],
            self.env, self.workdir,
        )  # fmt: skip
        self.app.start()

        def healthy():
            if self.app.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.app.log()}")
            with contextlib.suppress(requests.RequestException):
                return requests.get(self.base_url + "/healthz", timeout=2).status_code == 200
            return False

        wait_for(healthy, timeout=60, what="gunicorn /healthz")

    def start_worker(self):
        self.worker = Process(
            "worker",
            [
                PYTHON, "manage.py", "worker", "--no-startup-delay",
                "--interval", "0.2", "--queue-name", "*",
            ],
            self.env, self.workdir, supervise=True,
        )  # fmt: skip
        self.worker.start()

    def stop(self):
        for proc in (self.worker, self.app):
            if proc is not None:
                proc.stop()

    # --- looking at the database directly (not through the app under test) ---

    def sql(self, query: str, params=None) -> list[tuple]:
        with self.cluster.connect(self.dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, query: str, params=None):
        rows = self.sql(query, params)
        return rows[0][0] if rows else None

    def client(self, role: str = "manager") -> ApiClient:
        return ApiClient(self.base_url, self.seed.tokens[role])


@dataclass
class Result:
    method: str
    path: str
    status: int  # 0: no HTTP answer (connection refused/reset, client timeout)
    started: float  # time.monotonic()
    elapsed: float
    body: dict | None
    text: str = ""
    error: str = ""

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("code")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ApiClient:
    """A bearer-token client for one thread (requests.Session is not shared across threads)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 35):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def call(self, method: str, path: str, *, json_body=None, **kwargs) -> Result:
        started = time.monotonic()
        try:
            response = self.session.request(
                method, self.base_url + path, json=json_body, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            return Result(
                method, path, 0, started, time.monotonic() - started, None, error=repr(exc)
            )
        elapsed = time.monotonic() - started
        body = None
        if response.headers.get("Content-Type", "").startswith("application/json"):
            with contextlib.suppress(ValueError):
                body = response.json()
        return Result(
            method, path, response.status_code, started, elapsed, body, response.text[:500]
        )

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, json_body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, json_body=body, **kw)


# --- The invariant every scenario ends with ----------------------------------------------------


def stranded_notifications(stack: Stack) -> list[tuple]:
    """Pending notifications that no READY or RUNNING task will send (id, attempts, error,
    statuses of their tasks)."""
    return stack.sql(
        "SELECT n.id, n.attempts, n.last_error, "
        "  (SELECT string_agg(t.status, ',') FROM django_tasks_database_dbtaskresult t "
        "   WHERE t.args_kwargs -> 'args' ->> 0 = n.id::text) "
        "FROM tickets_notification n WHERE n.status = 'pending' AND NOT EXISTS ("
        "  SELECT 1 FROM django_tasks_database_dbtaskresult t "
        "  WHERE t.status IN ('READY', 'RUNNING') AND t.args_kwargs -> 'args' ->> 0 = n.id::text)"
    )


def check_invariant(stack: Stack, acknowledged_ticket_ids: set[int], *, exact: bool = True) -> dict:
    """Nothing acknowledged is lost, nothing unacknowledged half-exists (issue 7, "done when" 2):
    successful creates = ticket rows = ticket:create activity entries = notifications queued or
    sent (for the tickets that got a technician). Returns the figures for the report."""
    tickets = dict(stack.sql("SELECT id, tech_id FROM tickets_ticket"))
    missing = acknowledged_ticket_ids - tickets.keys()
    assert not missing, f"{len(missing)} acknowledged tickets have no row: {sorted(missing)[:10]}"
    if exact:
        extra = tickets.keys() - acknowledged_ticket_ids
        assert not extra, f"{len(extra)} ticket rows no client saw created: {sorted(extra)[:10]}"

    created = Counter(
        dict(
            stack.sql(
                "SELECT object_id, count(*) FROM repairshop_activitylog "
                "WHERE action = 'ticket:create' GROUP BY object_id"
            )
        )
    )
    no_entry = [t for t in tickets if created[t] != 1]
    assert not no_entry, f"tickets without exactly one ticket:create entry: {no_entry[:10]}"
    orphans = created.keys() - tickets.keys()
    assert not orphans, (
        f"ticket:create entries for tickets that do not exist: {sorted(orphans)[:10]}"
    )

    notified = Counter(
        dict(
            stack.sql(
                "SELECT ticket_id, count(*) FROM tickets_notification "
                "WHERE status IN ('pending', 'sent') GROUP BY ticket_id"
            )
        )
    )
    with_tech = {t for t, tech in tickets.items() if tech is not None}
    unnotified = [t for t in with_tech if notified[t] < 1]
    assert not unnotified, f"assigned tickets without a queued or sent mail: {unnotified[:10]}"
    # Every pending notification has a task that will send it (the task row is written in the
    # same transaction as the notification; a retry enqueues the next one).
    stranded = stranded_notifications(stack)
    assert not stranded, f"pending notifications that no task will send: {stranded[:5]}"
    queued = stack.scalar(
        "SELECT count(*) FROM django_tasks_database_dbtaskresult "
        "WHERE status IN ('READY', 'RUNNING')"
    )
    by_status = dict(stack.sql("SELECT status, count(*) FROM tickets_notification GROUP BY status"))
    return {
        "acknowledged": len(acknowledged_ticket_ids),
        "ticket_rows": len(tickets),
        "create_entries": sum(created.values()),
        "assigned": len(with_tech),
        "notifications": by_status,
        "tasks_queued": queued,
    }


def dumps(figures: dict) -> str:
    return json.dumps(figures, default=str, sort_keys=True)
