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
from datetime import timedelta

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
from tickets.models import Status, Ticket
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
OPEN_SHARE = 0.2
DAYS = 90


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
    90 days, about a fifth still open; the same every time (seeded)."""
    rng = random.Random(SEED)
    frontdesk = User.objects.filter(groups__name=roles.FRONTDESK).order_by("pk").first()
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
    received = Status.objects.get(key="received")
    ready = Status.objects.get(key="ready")
    open_from = int(TICKET_COUNT * (1 - OPEN_SHARE))  # the newest fifth is still open
    tickets = []
    for index, created_at in enumerate(ticket_times):
        values = demo_data.ticket_values(rng)
        is_open = index >= open_from
        ticket = Ticket(
            customer=rng.choice(customers),
            tech=rng.choice(technicians) if technicians and rng.random() > 0.03 else None,
            created_at=created_at,
            status=received if is_open else ready,
            completed=not is_open,
            **values,
        )
        if not is_open:
            ticket.completed_at = min(
                created_at + timedelta(hours=rng.randint(2, 24 * 7)), now - timedelta(minutes=5)
            )
            ticket.notes = rng.choice(demo_data.WORK_NOTES)
        ticket.updated_at = ticket.completed_at or created_at
        ticket.status_changed_at = ticket.updated_at
        tickets.append(ticket)
    Ticket.objects.bulk_create(tickets)
    Ticket.objects.bulk_update(tickets, ["updated_at"])

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
        if t.completed:
            activity.append(
                ActivityLog(
                    actor=t.tech or frontdesk,
                    action="ticket:status_change",
                    object_type="ticket",
                    object_id=t.pk,
                    metadata={"via": "demo", "completed": {"old": False, "new": True}},
                    created_at=t.completed_at,
                )
            )
    ActivityLog.objects.bulk_create(activity)
    return len(customers), len(tickets)
