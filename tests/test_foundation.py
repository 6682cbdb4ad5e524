"""The foundation: database-held rules, the roles migration, settings, /healthz and the
request id."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from accounts.roles import ROLE_PERMISSIONS, ROLES
from customers.models import Customer
from tests import factories
from tickets.models import Ticket

BASE_DIR = Path(__file__).resolve().parent.parent
# Left out of the subprocesses' environment: the settings under test, and what other tests
# set in this process (the browser tests allow async-unsafe calls, which check --deploy flags).
# What the test run sets that a production environment would not (RENDERED_VERIFY: the
# suite's verify mode, a deploy warning in production).
PRODUCTION_UNSAFE = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "RENDERED_VERIFY",
)


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter with Django set up from the given environment."""
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_UNSAFE}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "repairshop.settings"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- rules the database holds ----------------------------------------------------------------
def test_database_rejects_customer_email_differing_only_in_case(db):
    factories.make_customer(email="grace.hopper@navy.test")
    # Straight to the ORM, past the service's friendly check: the unique index must refuse it.
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.make_customer(email="Grace.HOPPER@Navy.test")
    assert Customer.objects.count() == 1


def test_database_rejects_duplicate_email_in_raw_sql(db):
    factories.make_customer(email="ada@example.com")
    columns = (
        "first_name, last_name, email, phone, address1, address2, city, state, zip, country, "
        "notes, active, created_at, updated_at"
    )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO customers_customer ({columns}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            ["A", "L", "ADA@EXAMPLE.COM", "5550100", "x", "", "c", "s", "z", "GB", "", True]
            + ["2026-01-01T00:00:00+00:00"] * 2,
        )


def test_database_rejects_staff_email_differing_only_in_case(db):
    factories.make_user(username="a", email="tess@shop.test")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="b", email="TESS@shop.test")


def test_database_rejects_bad_priority_and_estimate(db):
    customer = factories.make_customer()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.create(customer=customer, title="t", description="d", priority=9)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.create(customer=customer, title="t", description="d", estimated_hours=-1)


def test_customer_with_tickets_cannot_be_deleted_in_the_database(db):
    from django.db.models import ProtectedError

    ticket = factories.make_ticket()
    with pytest.raises(ProtectedError):
        ticket.customer.delete()


# --- roles -----------------------------------------------------------------------------------
def group_permissions() -> dict[str, set[str]]:
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.filter(name__in=ROLES)
    }


class _Editor:
    """What the migration function reads of its schema editor: the connection."""

    connection = connection


def test_roles_migration_gives_each_group_exactly_the_matrix_and_is_idempotent(db):
    migration = importlib.import_module("accounts.migrations.0002_roles")
    expected = {role: set(perms) for role, perms in ROLE_PERMISSIONS.items()}
    assert group_permissions() == expected  # as the test database's migrate left it

    # A permission added by hand is taken away again, and a second run changes nothing.
    Group.objects.get(name="viewer").permissions.add(
        Permission.objects.get(codename="delete_customer")
    )
    migration.create_roles(apps, _Editor())
    assert group_permissions() == expected
    migration.create_roles(apps, _Editor())
    assert group_permissions() == expected
    assert Group.objects.filter(name__in=ROLES).count() == len(ROLES)


def test_matrix_matches_contract_section_6(db):
    # The rows of the table that the permission codes stand for, role by role.
    def can(role, perm):
        return perm in ROLE_PERMISSIONS[role]

    assert [r for r in ROLES if can(r, "customers.delete_customer")] == ["manager"]
    assert [r for r in ROLES if can(r, "customers.add_customer")] == ["manager", "frontdesk"]
    assert [r for r in ROLES if can(r, "tickets.view_all_tickets")] == [
        "manager",
        "frontdesk",
        "viewer",
    ]
    assert [r for r in ROLES if can(r, "tickets.change_ticket_status")] == [
        "manager",
        "frontdesk",
        "technician",
    ]
    assert [r for r in ROLES if can(r, "accounts.access_admin")] == ["manager"]


# --- settings ----------------------------------------------------------------------------------
SETUP = "import django; django.setup(); print('started')"


def test_production_refuses_to_start_without_secret_key():
    result = run_python(SETUP, DEBUG="false", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = run_python(SETUP, DEBUG="false", SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_starts_with_both():
    result = run_python(SETUP, DEBUG="false", SECRET_KEY="x" * 60, ALLOWED_HOSTS="example.com")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_variables():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", *PRODUCTION_UNSAFE)}
    env.update(
        DEBUG="false",
        SECRET_KEY="a-production-secret-key-of-sixty-characters-or-more-0123456789",
        ALLOWED_HOSTS="example.com",
        EMAIL_URL="smtp+tls://mail.example.com",
    )
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr

    # Without EMAIL_URL, production would print notification mail to a console nobody reads.
    del env["EMAIL_URL"]
    result = check_deploy(env)
    assert result.returncode == 1
    assert "mail.E001" in result.stderr


# --- /healthz and the request id ---------------------------------------------------------------
def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


HEALTHZ_PROBE = """
import django
django.setup()
from django.test import Client
response = Client().get("/healthz", HTTP_X_REQUEST_ID="probe-503")
print(response.status_code, response.content.decode())
"""


@pytest.mark.parametrize(
    "database_url",
    [
        # Nothing listens on port 1; connection refused at once.
        "postgres://root@127.0.0.1:1/repairshop",
        # A directory that does not exist: SQLite cannot open the file.
        "sqlite:////nonexistent-dir/for/healthz/db.sqlite3",
    ],
    ids=["postgresql-down", "sqlite-unreadable"],
)
def test_healthz_503_when_the_database_is_unreachable(database_url):
    result = run_python(
        HEALTHZ_PROBE,
        DATABASE_URL=database_url,
        DATABASE_POOL_TIMEOUT="2",
        ALLOWED_HOSTS="testserver",
        SENTRY_DSN="",
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "503"
    assert '"database": "error"' in body
    # The warning is logged with the request's id.
    assert re.search(r"WARNING \[probe-503\] repairshop\.health: health check", result.stderr)


def test_inbound_request_id_is_echoed(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-1234.abc_DEF")
    assert response["X-Request-ID"] == "req-1234.abc_DEF"


@pytest.mark.parametrize("bad", ["has spaces", "x" * 129, "semi;colon", "new\tline", "<script>"])
def test_malformed_request_id_is_replaced(client, db, bad):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_request_id_is_made_when_absent(client, db):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


# --- search index on PostgreSQL -----------------------------------------------------------------
def test_title_substring_search_uses_the_trigram_index(postgresql_only):
    customer = factories.make_customer()
    words = ["screen", "battery", "keyboard", "hinge", "fan", "port", "boot", "speaker"]
    Ticket.objects.bulk_create(
        Ticket(
            customer=customer,
            title=f"Device {n} — {words[n % len(words)]} fault {n}",
            description="d",
        )
        for n in range(10000)
    )
    Ticket.objects.bulk_create(
        Ticket(customer=customer, title=f"HP LaserJet {n} — paper jam error", description="d")
        for n in range(5)
    )
    with connection.cursor() as cursor:
        # Fresh GIN entries sit in the index's pending list until a vacuum moves them, and
        # the planner prices that list high. Flush it, as autovacuum would on a real table;
        # the planner settings (enable_seqscan) are left alone.
        cursor.execute("SELECT gin_clean_pending_list('ticket_title_trgm'::regclass)")
        cursor.execute("ANALYZE tickets_ticket")
    queryset = Ticket.objects.filter(title__icontains="paper jam")
    plan = queryset.explain()
    assert "ticket_title_trgm" in plan, plan
    assert queryset.count() == 5
