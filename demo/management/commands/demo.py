"""manage.py demo: a working shop in one command.

Migrates, creates a demo user for every role, fills an empty database with ~50 customers
and ~150 tickets of the last 90 days, prints the logins, then serves on 127.0.0.1:8000
with the task worker beside it (so notification mail prints to this console).
Not for production: the demo users have known passwords.
"""

import random
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from core.models import ActivityLog
from customers.models import Customer
from demo import data as demo_data
from tickets.models import COMPLETED_GROUPS, Status, StatusChange, Ticket
from tickets.queries import active_technicians

DEMO_PASSWORD = "repairshop-demo"
SEED = 20240917

# (username, first name, last name, roles)
DEMO_USERS = (
    ("manager", "Maria", "Okafor", [roles.MANAGER]),
    ("frontdesk", "Frank", "Delgado", [roles.FRONTDESK]),
    ("alex", "Alex", "Chen", [roles.TECHNICIAN]),
    ("sam", "Sam", "Rivera", [roles.TECHNICIAN]),
    ("jordan", "Jordan", "Hughes", [roles.TECHNICIAN]),
    ("priya", "Priya", "Natarajan", [roles.TECHNICIAN]),
    ("viewer", "Victor", "Lang", [roles.VIEWER]),
)
CUSTOMER_COUNT = 50
TICKET_COUNT = 150
# Not yet handed back: the newest quarter (a fifth in the works, the rest waiting for pickup).
OPEN_SHARE = 0.25
DAYS = 90
# The open tickets' statuses, from the end of the repair back to its start.
OPEN_PIPELINE = (
    "ready_unrepaired", "ready", "waiting_parts", "awaiting_approval", "in_repair", "diagnosing",
    "received",
)  # fmt: skip
# Tickets (by age, oldest first) that came back under warranty: a manager's override.
WARRANTY_RETURNS = (40, 95)


class Command(BaseCommand):
    help = "Migrates, creates demo users and data (on an empty database), and serves the shop."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-serve", action="store_true", help="set up only; do not start the server"
        )

    def handle(self, *args, addrport, no_serve, **options):
        call_command("migrate", interactive=False, verbosity=0)
        created_users = create_demo_users()
        if Customer.objects.exists() or Ticket.objects.exists():
            self.stdout.write("The database already has customers or tickets: no demo data added.")
        else:
            customers, tickets = create_demo_data(now=timezone.now())
            self.stdout.write(f"Added {customers} demo customers and {tickets} demo tickets.")
        self.print_logins(created_users, addrport)
        if not no_serve:
            self.serve(addrport)

    def print_logins(self, created_users: set[str], addrport: str):
        self.stdout.write(self.style.SUCCESS(f"\nRepairshop demo on http://{addrport}/"))
        self.stdout.write(f"Admin (managers): http://{addrport}/admin/\n")
        self.stdout.write(f"{'role':<12} {'username':<12} password")
        for username, _, _, user_roles in DEMO_USERS:
            password = DEMO_PASSWORD if username in created_users else "(unchanged: user existed)"
            self.stdout.write(f"{user_roles[0]:<12} {username:<12} {password}")
        self.stdout.write("")

    def serve(self, addrport: str):
        host, _, port = addrport.rpartition(":")
        # runserver ends the process with os._exit() when it cannot bind, which would leave
        # the worker behind: find out first.
        with socket.socket() as probe:
            # As runserver does, so that a port left in TIME_WAIT by the last run is usable.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host or "127.0.0.1", int(port)))
            except OSError as exc:
                raise CommandError(
                    f"Cannot serve on {addrport} ({exc.strerror}). "
                    "Try another port: manage.py demo --addrport 127.0.0.1:8001"
                ) from None
        # The worker sends queued notification mail; with the default EMAIL_URL it prints here.
        worker = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
            [
                sys.executable,
                str(settings.BASE_DIR / "manage.py"),
                "worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "2",
            ]
        )
        # A plain `kill` (or a closed terminal) must also end the worker: turn it into an
        # exit that runs the `finally` below.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _exit_on_signal)
        try:
            # No autoreloader: it would run this command (and a second worker) again.
            call_command("runserver", addrport, use_reloader=False)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()


def _exit_on_signal(signum, frame):
    raise SystemExit(0)


def create_demo_users() -> set[str]:
    """Creates the demo users that do not exist yet; returns their usernames. Existing users
    keep their passwords and roles."""
    groups = {group.name: group for group in Group.objects.all()}
    created = set()
    for username, first_name, last_name, user_roles in DEMO_USERS:
        if User.objects.filter(username=username).exists():
            continue
        user = User.objects.create_user(
            username=username,
            email=f"{username}@demo.repairshop.test",
            password=DEMO_PASSWORD,
            first_name=first_name,
            last_name=last_name,
        )
        user.groups.set([groups[name] for name in user_roles])
        created.add(username)
    return created


@transaction.atomic
def create_demo_data(*, now) -> tuple[int, int]:
    """~50 customers and ~150 tickets spread over the technicians, priorities and the last
    90 days, about a fifth still in the works and a few waiting for pickup, each with its
    history through the statuses (demo/data.py JOURNEYS); the same every time (seeded)."""
    rng = random.Random(SEED)
    frontdesk = User.objects.filter(groups__name=roles.FRONTDESK).order_by("pk").first()
    manager = User.objects.filter(groups__name=roles.MANAGER).order_by("pk").first()
    technicians = list(active_technicians().order_by("pk"))

    customer_times = sorted(
        now - timedelta(days=DAYS, hours=rng.randint(0, 24 * 30)) for _ in range(CUSTOMER_COUNT)
    )
    customers = [
        Customer(**demo_data.customer_values(rng, index)) for index in range(CUSTOMER_COUNT)
    ]
    Customer.objects.bulk_create(customers)
    for customer, created_at in zip(customers, customer_times, strict=True):
        customer.created_at = customer.updated_at = created_at
    # bulk_update writes the times as given (auto_now_add would stamp them "now").
    Customer.objects.bulk_update(customers, ["created_at", "updated_at"])

    ticket_times = sorted(
        now - timedelta(seconds=rng.randint(600, DAYS * 24 * 3600)) for _ in range(TICKET_COUNT)
    )
    statuses = Status.objects.in_bulk(field_name="key")
    time_limits = {key: status.time_limit_hours for key, status in statuses.items()}
    open_from = int(TICKET_COUNT * (1 - OPEN_SHARE))
    open_count = TICKET_COUNT - open_from
    # The open tickets, oldest first, go from the end of the repair back to its start: the
    # oldest wait for pickup, the newest were just received; every status gets a few.
    open_ends = [
        OPEN_PIPELINE[position * len(OPEN_PIPELINE) // open_count] for position in range(open_count)
    ]
    tickets, journeys = [], []
    for index, created_at in enumerate(ticket_times):
        values = demo_data.ticket_values(rng)
        is_open = index >= open_from
        ticket = Ticket(
            customer=rng.choice(customers),
            tech=rng.choice(technicians) if technicians and rng.random() > 0.03 else None,
            created_at=created_at,
            **values,
        )
        moves = demo_data.journey(rng, ends_in=open_ends[index - open_from] if is_open else None)
        if index in WARRANTY_RETURNS and moves[-1][1] == "collected":
            moves = demo_data.with_warranty_return(moves)
        times = demo_data.move_times(
            rng,
            moves,
            created=created_at.timestamp(),
            now=now.timestamp(),
            time_limits=time_limits,
        )
        moved_at = [datetime.fromtimestamp(at, UTC) for at in times]
        _place_in_status(ticket, statuses, moves, moved_at)
        if ticket.completed:
            ticket.notes = rng.choice(demo_data.WORK_NOTES)
        tickets.append(ticket)
        journeys.append((moves, moved_at))
    Ticket.objects.bulk_create(tickets)
    # bulk_update writes the time as given (auto_now would stamp it "now").
    Ticket.objects.bulk_update(tickets, ["updated_at"])

    movers = {demo_data.DESK: frontdesk or manager, demo_data.MANAGER: manager}
    history, status_activity = [], []
    for ticket, (moves, moved_at) in zip(tickets, journeys, strict=True):
        for (source, target, who, comment, override), at in zip(moves, moved_at, strict=True):
            # The work on an unassigned ticket: the manager's; None: the customer's approval.
            by = (ticket.tech or manager) if who == demo_data.TECH else movers.get(who)
            history.append(
                StatusChange(
                    ticket=ticket,
                    from_status=statuses[source] if source else None,
                    to_status=statuses[target],
                    at=at,
                    by=by,
                    comment=comment,
                    override=override,
                )
            )
            if source is not None:
                status_activity.append(
                    ActivityLog(
                        actor=by,
                        action="ticket:status_change",
                        object_type="ticket",
                        object_id=ticket.pk,
                        metadata={
                            "via": "demo",
                            "from": source,
                            "to": target,
                            "comment": comment,
                            "override": override,
                        },
                        created_at=at,
                    )
                )
    StatusChange.objects.bulk_create(history)

    for tech in technicians:
        own = [t.created_at for t in tickets if t.tech_id == tech.pk]
        tech.last_assigned_at = max(own) if own else None
        tech.save(update_fields=["last_assigned_at"])

    activity = [
        ActivityLog(
            actor=frontdesk,
            action="customer:create",
            object_type="customer",
            object_id=c.pk,
            metadata={"via": "demo"},
            created_at=c.created_at,
        )
        for c in customers
    ]
    for t in tickets:
        activity.append(
            ActivityLog(
                actor=frontdesk,
                action="ticket:create",
                object_type="ticket",
                object_id=t.pk,
                metadata={"via": "demo", "tech": t.tech.email if t.tech else None},
                created_at=t.created_at,
            )
        )
    activity += status_activity
    ActivityLog.objects.bulk_create(activity)
    return len(customers), len(tickets)


def _place_in_status(ticket: Ticket, statuses: dict, moves: list[tuple], moved_at: list) -> None:
    """The ticket's status fields after its moves, as tickets.services would have left them:
    completedAt is when it last entered the ready or closed groups from an open one."""
    completed_at = None
    was_completed = False
    for (_, target, *_), at in zip(moves, moved_at, strict=True):
        is_completed = statuses[target].group in COMPLETED_GROUPS
        if not is_completed:
            completed_at = None
        elif not was_completed:
            completed_at = at
        was_completed = is_completed
    status = statuses[moves[-1][1]]
    ticket.status = status
    ticket.completed = status.group in COMPLETED_GROUPS
    ticket.completed_at = completed_at
    ticket.status_changed_at = ticket.updated_at = moved_at[-1]
    limit = status.time_limit
    ticket.overdue_at = None if limit is None else ticket.status_changed_at + limit
