"""The management commands: create_user, create_api_token and demo."""

import io
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts import roles
from accounts.models import ApiToken, User, hash_token
from core.models import ActivityLog
from customers.models import Customer
from demo.management.commands import demo
from tests import factories
from tickets.models import COMPLETED_GROUPS, Status, StatusChange, Ticket

BASE_DIR = Path(__file__).resolve().parent.parent


def run(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The cast of users is made anew for each test; PBKDF2 would be most of the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- create_api_token --------------------------------------------------------------------------
def test_create_api_token_prints_only_the_token_and_stores_only_its_hash(technician):
    out, _ = run("create_api_token", technician.username, "--name", "bench")

    plain = out.removesuffix("\n")
    assert re.fullmatch(r"rs_[A-Za-z0-9_-]{43}", plain), out  # the token, and nothing else
    assert out == plain + "\n"
    token = ApiToken.objects.get(user=technician)
    assert token.name == "bench"
    assert token.token_hash == hash_token(plain)
    # The plain token is in no column of the row.
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert plain not in {str(value) for value in stored.values()}
    assert ActivityLog.objects.filter(action="api_token:create", object_id=token.pk).exists()


def test_each_call_makes_a_new_token(technician):
    first, _ = run("create_api_token", technician.username)
    second, _ = run("create_api_token", technician.username)
    assert first != second
    assert ApiToken.objects.filter(user=technician).count() == 2


def test_create_api_token_for_unknown_or_inactive_user_fails(technician):
    with pytest.raises(CommandError, match="No user"):
        run("create_api_token", "nobody")
    technician.is_active = False
    technician.save()
    with pytest.raises(CommandError, match="inactive"):
        run("create_api_token", technician.username)
    assert not ApiToken.objects.exists()


# --- create_user ---------------------------------------------------------------------------------
def test_create_user_with_roles_email_and_password(db):
    out, _ = run(
        "create_user",
        "dana",
        "--role",
        "technician",
        "--role",
        "viewer",
        "--email",
        "dana@shop.test",
        "--password",
        "a-long-enough-passphrase",
    )
    user = User.objects.get(username="dana")
    assert user.email == "dana@shop.test"
    assert set(user.groups.values_list("name", flat=True)) == {roles.TECHNICIAN, roles.VIEWER}
    assert user.check_password("a-long-enough-passphrase")
    assert not user.is_staff and not user.is_superuser
    assert "Created user dana" in out


def test_create_user_applies_the_password_validators(db):
    for weak in ("short", "12345678901", "password123"):
        with pytest.raises(CommandError, match="Password refused"):
            run("create_user", "weak", "--role", "viewer", "--password", weak)
    assert not User.objects.filter(username="weak").exists()


def test_create_user_refuses_a_password_like_the_username(db):
    with pytest.raises(CommandError, match="too similar"):
        run("create_user", "bartholomew", "--role", "viewer", "--password", "bartholomew1")


def test_create_user_refuses_unknown_role(db):
    with pytest.raises(CommandError, match="invalid choice"):
        run("create_user", "x", "--role", "owner", "--password", "a-long-enough-passphrase")


def test_create_user_needs_a_role(db):
    with pytest.raises(CommandError, match="--role"):
        run("create_user", "x", "--password", "a-long-enough-passphrase")


def test_create_user_refuses_duplicates(manager):
    with pytest.raises(CommandError, match="already exists"):
        run("create_user", manager.username, "--role", "viewer")
    with pytest.raises(CommandError, match="already has the email"):
        run("create_user", "other", "--role", "viewer", "--email", manager.email.upper())
    with pytest.raises(CommandError, match="valid email address"):
        run("create_user", "other", "--role", "viewer", "--email", "not-an-address")


def test_create_user_without_password_is_sso_only(db):
    _, err = run("create_user", "sso", "--role", "frontdesk")
    assert not User.objects.get(username="sso").has_usable_password()
    assert "single sign-on" in err


# --- demo ---------------------------------------------------------------------------------
def test_demo_creates_users_of_every_role_and_a_realistic_shop(client, db):
    out, _ = run("demo", "--no-serve")

    for username, *_ in demo.DEMO_USERS:
        assert re.search(rf"^\w+\s+{username}\s+{demo.DEMO_PASSWORD}$", out, re.M), out
    held = set(User.objects.values_list("groups__name", flat=True))
    assert set(roles.ROLES) <= held
    assert User.objects.filter(groups__name=roles.TECHNICIAN).count() == 4

    assert Customer.objects.count() == demo.CUSTOMER_COUNT
    assert Ticket.objects.count() == demo.TICKET_COUNT
    open_count = Ticket.objects.filter(completed=False).count()
    assert 0.15 * demo.TICKET_COUNT <= open_count <= 0.25 * demo.TICKET_COUNT
    # Spread over every technician and every priority, inside the last 90 days.
    assert Ticket.objects.values("tech").distinct().count() >= 4
    assert Ticket.objects.values("priority").distinct().count() == 4
    oldest = Ticket.objects.order_by("created_at").first().created_at
    newest = Ticket.objects.order_by("-created_at").first().created_at
    assert (newest - oldest).days >= 60
    ticket = Ticket.objects.exclude(serial_number="").first()
    assert " — " in ticket.title
    assert ticket.device_brand in ticket.title
    assert Ticket.objects.filter(completed=True, completed_at__isnull=True).count() == 0
    assert ActivityLog.objects.filter(action="ticket:create").count() == demo.TICKET_COUNT

    # The printed login works, and the manager sees the demo data in the admin.
    assert client.login(username="manager", password=demo.DEMO_PASSWORD)
    page = client.get("/admin/tickets/ticket/")
    assert page.status_code == 200
    assert Ticket.objects.order_by("-created_at").first().title in page.content.decode()


def test_demo_spreads_tickets_over_every_status_with_their_history(db):
    run("demo", "--no-serve")

    statuses = Status.objects.in_bulk()
    in_status = set(Ticket.objects.values_list("status__key", flat=True))
    assert in_status == {status.key for status in statuses.values()}
    history = {}
    for change in StatusChange.objects.order_by("ticket_id", "id"):
        history.setdefault(change.ticket_id, []).append(change)
    now = timezone.now()
    for ticket in Ticket.objects.all():
        entries = history[ticket.pk]
        assert entries[0].from_status_id is None, ticket  # the creation comes first
        assert entries[0].at == ticket.created_at
        assert entries[-1].to_status_id == ticket.status_id  # and ends where the ticket is
        for before, after in itertools.pairwise(entries):
            assert after.from_status_id == before.to_status_id
            assert before.at < after.at <= now, ticket
            # Every move is allowed by the statuses, but for a manager's logged override.
            allowed = statuses[before.to_status_id].next.filter(pk=after.to_status_id).exists()
            assert allowed or (
                after.override and after.by.has_perm("tickets.override_status_rules")
            )
        assert ticket.status_changed_at == entries[-1].at
        limit = statuses[ticket.status_id].time_limit
        assert ticket.overdue_at == (None if limit is None else ticket.status_changed_at + limit)
        assert ticket.completed == (statuses[ticket.status_id].group in COMPLETED_GROUPS)
        if ticket.completed:
            # When it entered ready or closed from an open status.
            entered = max(
                e.at
                for e, previous in zip(entries, [None, *entries], strict=False)
                if statuses[e.to_status_id].group in COMPLETED_GROUPS
                and (
                    previous is None
                    or statuses[previous.to_status_id].group not in COMPLETED_GROUPS
                )
            )
            assert ticket.completed_at == entered
        else:
            assert ticket.completed_at is None
    # The staff who made the moves: the front desk hands devices over, the technician works.
    frontdesk = User.objects.get(username="frontdesk")
    closing = StatusChange.objects.filter(to_status__group="closed", override=False)
    assert set(closing.values_list("by", flat=True)) == {frontdesk.pk}
    repairs = StatusChange.objects.filter(to_status__key="ready", from_status__key="in_repair")
    assert all(change.by_id == change.ticket.tech_id for change in repairs if change.ticket.tech_id)
    assert StatusChange.objects.filter(comment="Customer approved quote by phone").exists()
    assert StatusChange.objects.filter(by=None, from_status__key="awaiting_approval").exists()
    assert 1 <= StatusChange.objects.filter(override=True).count() <= 2
    overdue = Ticket.objects.filter(completed=False, overdue_at__lte=now).count()
    assert 1 <= overdue <= 0.3 * Ticket.objects.filter(completed=False).count()
    assert ActivityLog.objects.filter(action="ticket:status_change").count() == (
        StatusChange.objects.exclude(from_status=None).count()
    )


def test_demo_is_deterministic_and_adds_nothing_the_second_time(db):
    run("demo", "--no-serve")
    titles = list(Ticket.objects.order_by("pk").values_list("title", flat=True))
    paths = _status_paths()
    out, _ = run("demo", "--no-serve")
    assert "no demo data added" in out
    assert "unchanged" in out  # the users existed: their passwords were left alone
    assert Ticket.objects.count() == demo.TICKET_COUNT
    assert list(Ticket.objects.order_by("pk").values_list("title", flat=True)) == titles

    # Same seed, same shop: rebuild from scratch and compare.
    ActivityLog.objects.all().delete()
    Ticket.objects.all().delete()
    Customer.objects.all().delete()
    run("demo", "--no-serve")
    assert list(Ticket.objects.order_by("pk").values_list("title", flat=True)) == titles
    assert _status_paths() == paths


def _status_paths() -> list[tuple]:
    """Every ticket's moves in order (status keys, comment, who), by ticket title."""
    return [
        (change.ticket.title, change.from_status_id and change.from_status.key,
         change.to_status.key, change.comment, change.by and change.by.username)
        for change in StatusChange.objects.select_related(
            "ticket", "from_status", "to_status", "by"
        ).order_by("ticket_id", "id")
    ]  # fmt: skip


def test_demo_leaves_an_existing_shop_alone(db):
    factories.make_customer()
    run("demo", "--no-serve")
    assert Customer.objects.count() == 1
    assert not Ticket.objects.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(120)
def test_demo_serves_the_shop_within_60_seconds(tmp_path):
    """What a newcomer does: `manage.py demo` on an empty database, then open the site."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env["PYTHONUNBUFFERED"] = "1"
    log = tmp_path / "demo.log"
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--addrport", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the worker it starts goes in the same group
        )
    try:
        status = None
        while time.monotonic() - started < 60 and process.poll() is None:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
            except requests.ConnectionError:
                time.sleep(0.5)
                continue
            break
        assert status == 200, log.read_text()
        printed = log.read_text()
        for username, *_ in demo.DEMO_USERS:
            assert username in printed
        assert (
            "manage.py worker"
            in subprocess.run(
                ["ps", "-o", "args=", "--ppid", str(process.pid)], capture_output=True, text=True
            ).stdout
        )
        # The manager signs in through the login page and sees the demo tickets in the admin.
        session = requests.Session()
        login_url = f"http://127.0.0.1:{port}/accounts/login/"
        session.get(login_url, timeout=10)
        response = session.post(
            login_url,
            data={
                "username": "manager",
                "password": demo.DEMO_PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/tickets/ticket/",
            },
            timeout=10,
        )
        assert response.status_code == 200
        assert "—" in response.text and "/admin/tickets/ticket/" in response.url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_demo_refuses_a_busy_port_before_starting_the_worker(db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match="Cannot serve"):
            run("demo", "--addrport", f"127.0.0.1:{port}")
