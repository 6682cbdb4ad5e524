"""Fill a PostgreSQL database with a realistic shop history, in bulk, for the benchmark.

    DATABASE_URL=postgres://root@127.0.0.1:5432/rs_bench uv run python bench/seed.py --scale 1.0

Scale 1.0 is five years of a busy shop: 50,000 customers and 200,000 tickets (about 2 % of
them still in the works, the newest ones, spread over the open statuses; some of the newest
waiting for pickup; the rest closed, mostly collected), 8 technicians, all priorities, device
+ fault + serial in titles and descriptions (the vocabulary of demo/data.py), each ticket's
history through the statuses (the journeys of demo/data.py: ~5 entries a ticket, up to 11),
notes, and the activity entries the app would have written (customer:create, ticket:create,
ticket:status_change).
Scale 0.1 gives 20k tickets, 10 gives 2M. Users get a known password (BENCH_PASSWORD) so
the runner can sign them in.

Rows are generated in Python and streamed with COPY FREEZE into freshly truncated tables
with their secondary indexes dropped; the indexes are rebuilt afterwards in one pass each
(much faster than maintaining three trigram GIN indexes row by row), then VACUUM ANALYZE.
The database is the benchmark's own: every table the seed touches is emptied first.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_PASSWORD = "bench-password-not-secret"
TECHNICIANS = 8
CUSTOMERS_PER_SCALE = 50_000
TICKETS_PER_SCALE = 200_000
YEARS = 5
SEED_MARK = "repairshop bench seed"
PRIORITY_NAMES = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
# The statuses of the tickets still in the works (a day old or more), and how often.
OPEN_STATUS_WEIGHTS = (
    ("received", 3), ("diagnosing", 22), ("in_repair", 30), ("awaiting_approval", 15),
    ("waiting_parts", 27),
)  # fmt: skip
READY_SHARE = 0.3  # of the newest tickets that are no longer in the works: waiting for pickup
WARRANTY_SHARE = 0.003  # of the collected ones: reopened by a manager (an override)
OPEN_NOTES = ("", "", "", "Waiting for parts.", "Diagnosis in progress.", "Quote sent to customer.")
TICKET_COLUMNS = (
    "id, customer_id, title, description, tech_id, priority, category, estimated_hours, "
    "completed, completed_at, notes, device_type, device_brand, device_model, serial_number, "
    "accessories, condition, created_at, updated_at, status_id, status_changed_at, overdue_at"
)
HISTORY_COLUMNS = (
    "id, ticket_id, from_status_id, to_status_id, at, by_id, comment, override, notified"
)
CUSTOMER_COLUMNS = (
    "id, first_name, last_name, email, phone, address1, address2, city, state, zip, country, "
    "notes, active, created_at, updated_at"
)
ACTIVITY_COLUMNS = "id, actor_id, action, object_type, object_id, metadata, request_id, created_at"
DATA_TABLES = (
    "repairshop_activitylog",
    "tickets_statuschange",
    "tickets_notification",
    "tickets_ticket",
    "customers_customer",
)


def ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def counts_for(scale: float) -> tuple[int, int]:
    return max(50, round(CUSTOMERS_PER_SCALE * scale)), max(100, round(TICKETS_PER_SCALE * scale))


def seed_mark(scale: float) -> str:
    customers, tickets = counts_for(scale)
    return f"{SEED_MARK}: customers={customers} tickets={tickets}"


def current_mark(database_url: str) -> str:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT obj_description('tickets_ticket'::regclass, 'pg_class')"
        ).fetchone()
    return (row[0] or "") if row else ""


def create_users(now: datetime) -> dict:
    """The cast: a manager, a front desk, TECHNICIANS technicians (known password)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import User

    password = make_password(BENCH_PASSWORD)  # hashed once: PBKDF2 is slow on purpose
    people = [
        ("manager", "Mona", "Manager", roles.MANAGER),
        ("frontdesk", "Fred", "Desk", roles.FRONTDESK),
    ]
    people += [
        (f"tech{n}", "Tech", f"Number{n}", roles.TECHNICIAN) for n in range(1, TECHNICIANS + 1)
    ]
    groups = {g.name: g for g in Group.objects.all()}
    users = {}
    for username, first, last, role in people:
        user = User.objects.create(
            username=username,
            password=password,
            first_name=first,
            last_name=last,
            email=f"{username}@shop.test",
            date_joined=now - timedelta(days=365 * YEARS + 30),
        )
        user.groups.add(groups[role])
        users[username] = user.pk
    return users


def copy_text(value: str) -> str:
    """A value for COPY's text format (the vocabulary has no tabs, but be safe)."""
    return value.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n")


def status_rows(conn) -> dict:
    """key -> (id, group, time limit in hours) of the installation's statuses (the defaults
    of tickets/default_statuses.py: the journeys of demo/data.py use their keys)."""
    rows = conn.execute("SELECT key, id, status_group, time_limit_hours FROM tickets_status")
    return {key: (pk, group, hours) for key, pk, group, hours in rows.fetchall()}


def generate(conn, *, scale: float, users: dict, rng: random.Random, now: float, out) -> dict:
    from demo import data as demo_data
    from demo.data import DESK, MANAGER, TECH

    n_customers, n_tickets = counts_for(scale)
    span = YEARS * 365 * 86400
    start = now - span
    techs = [users[f"tech{n}"] for n in range(1, TECHNICIANS + 1)]
    tech_emails = {pk: f"tech{n}@shop.test" for n, pk in enumerate(techs, 1)}
    desk_actors = [users["frontdesk"]] * 4 + [users["manager"]]
    manager = users["manager"]
    statuses = status_rows(conn)
    status_ids = {key: pk for key, (pk, _, _) in statuses.items()}
    time_limits = {key: hours for key, (_, _, hours) in statuses.items()}
    completed_keys = {
        key for key, (_, group, _) in statuses.items() if group in ("ready", "closed")
    }
    open_keys, open_weights = zip(*OPEN_STATUS_WEIGHTS, strict=True)
    history_id = 0
    rand = rng.random
    choice = rng.choice
    getrandbits = rng.getrandbits

    # Which customer brought each ticket: only customers who existed by then, so a customer's
    # created_at is never after their first ticket.
    ticket_customer = [
        1 + int(rand() * max(1, (i + 1) * n_customers // n_tickets)) for i in range(n_tickets)
    ]
    has_tickets = bytearray(n_customers + 1)
    for c in ticket_customer:
        has_tickets[c] = 1

    stats = {"customers": n_customers, "tickets": n_tickets, "open": 0, "activity": 0}
    activity_id = 0

    def write(cur, table: str, columns: str, lines: list[str]) -> None:
        # Several COPY FREEZE into one table are fine: it was truncated in this transaction.
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FREEZE)") as copy:
            for at in range(0, len(lines), 2000):
                copy.write("".join(lines[at : at + 2000]))

    with conn.cursor() as cur:
        t0 = time.monotonic()
        lines, activity = [], []
        for cid in range(1, n_customers + 1):
            c = demo_data.customer_values(rng, cid)
            created = ts(start + span * (cid - 1) / n_customers + rand() * 3600)
            # Only a customer without tickets can have been deactivated (docs/api.md §4).
            active = "f" if not has_tickets[cid] and rand() < 0.3 else "t"
            fields = (
                c["first_name"], c["last_name"], c["email"], c["phone"], c["address1"],
                c["address2"], c["city"], c["state"], c["zip"], c["country"], c["notes"],
            )  # fmt: skip
            lines.append(
                f"{cid}\t"
                + "\t".join(map(copy_text, fields))
                + f"\t{active}\t{created}\t{created}\n"
            )
            activity_id += 1
            activity.append(
                f"{activity_id}\t{choice(desk_actors)}\tcustomer:create\tcustomer\t{cid}\t{{}}\t"
                f"{getrandbits(128):032x}\t{created}\n"
            )
        write(cur, "customers_customer", CUSTOMER_COLUMNS, lines)
        write(cur, "repairshop_activitylog", ACTIVITY_COLUMNS, activity)
        print(f"  customers: {n_customers} in {time.monotonic() - t0:.1f}s", file=out, flush=True)

        t0 = time.monotonic()
        recent_from = int(n_tickets * 0.97)
        batch = 50_000
        for batch_start in range(0, n_tickets, batch):
            lines, activity, history = [], [], []
            for i in range(batch_start, min(n_tickets, batch_start + batch)):
                tid = i + 1
                created_epoch = start + span * (i + rand()) / n_tickets
                created = ts(created_epoch)
                t = demo_data.ticket_values(rng)
                serial = t["serial_number"]
                description = t["description"]
                if serial:
                    description += f"\nSerial number {serial}, checked in at the front desk."
                # The newest tickets are the open ones; a few old ones were never closed.
                is_recent = i >= recent_from
                is_open = rand() < (0.6 if is_recent else 0.002)
                if is_open:
                    stats["open"] += 1
                    tech = None if rand() < 0.03 else choice(techs)
                    note = choice(OPEN_NOTES)
                    if now - created_epoch < 86400 and rand() < 0.7:
                        ends_in = "received"
                    else:
                        ends_in = rng.choices(open_keys, weights=open_weights)[0]
                else:
                    tech = choice(techs)
                    note = choice(demo_data.WORK_NOTES)
                    ends_in = None
                    if is_recent and rand() < READY_SHARE:
                        ends_in = "ready" if rand() < 0.85 else "ready_unrepaired"
                moves = demo_data.journey(rng, ends_in=ends_in)
                if moves[-1][1] == "collected" and rand() < WARRANTY_SHARE:
                    moves = demo_data.with_warranty_return(moves)
                times = demo_data.move_times(
                    rng, moves, created=created_epoch, now=now, time_limits=time_limits
                )
                completed_epoch, was_completed = None, False
                for (_, target, *_), at in zip(moves, times, strict=True):
                    is_completed = target in completed_keys
                    if not is_completed:
                        completed_epoch = None
                    elif not was_completed:
                        completed_epoch = at
                    was_completed = is_completed
                current = moves[-1][1]
                completed = "t" if current in completed_keys else "f"
                completed_at = "\\N" if completed_epoch is None else ts(completed_epoch)
                changed = ts(times[-1])
                limit = time_limits[current]
                overdue = "\\N" if limit is None else ts(times[-1] + 3600 * limit)
                updated = changed
                title = t["title"]
                (title_c, desc_c, category_c, note_c, dtype_c, brand_c, model_c, serial_c,
                 accessories_c, condition_c) = [
                    copy_text(v)
                    for v in (
                        title, description, t["category"], note, t["device_type"],
                        t["device_brand"], t["device_model"], serial, t["accessories"],
                        t["condition"],
                    )
                ]  # fmt: skip
                tech_col = "\\N" if tech is None else tech
                hours = t["estimated_hours"] if rand() < 0.8 else "\\N"
                lines.append(
                    f"{tid}\t{ticket_customer[i]}\t{title_c}\t{desc_c}\t{tech_col}\t"
                    f"{t['priority']}\t{category_c}\t{hours}\t{completed}\t{completed_at}\t"
                    f"{note_c}\t{dtype_c}\t{brand_c}\t{model_c}\t{serial_c}\t{accessories_c}\t"
                    f"{condition_c}\t{created}\t{updated}\t{status_ids[current]}\t{changed}\t"
                    f"{overdue}\n"
                )
                meta = json.dumps(
                    {
                        "title": title,
                        "priority": PRIORITY_NAMES[t["priority"]],
                        "tech": tech_emails.get(tech),
                    },
                    ensure_ascii=False,
                )
                activity_id += 1
                activity.append(
                    f"{activity_id}\t{choice(desk_actors)}\tticket:create\tticket\t{tid}\t"
                    f"{copy_text(meta)}\t{getrandbits(128):032x}\t{created}\n"
                )
                for (source, target, who, comment, override), at in zip(moves, times, strict=True):
                    history_id += 1
                    if who == TECH:
                        by = tech or manager  # an unassigned ticket: the manager worked on it
                    elif who == DESK:
                        by = choice(desk_actors)
                    else:
                        by = manager if who == MANAGER else None  # None: the customer
                    by_col = "\\N" if by is None else by
                    source_col = "\\N" if source is None else status_ids[source]
                    at_text = ts(at)
                    history.append(
                        f"{history_id}\t{tid}\t{source_col}\t{status_ids[target]}\t{at_text}\t"
                        f"{by_col}\t{copy_text(comment)}\t{'t' if override else 'f'}\tf\n"
                    )
                    if source is not None:
                        activity_id += 1
                        move = json.dumps(
                            {"from": source, "to": target, "comment": comment, "override": override}
                        )
                        activity.append(
                            f"{activity_id}\t{by_col}\tticket:status_change\tticket\t{tid}\t"
                            f"{copy_text(move)}\t{getrandbits(128):032x}\t{at_text}\n"
                        )
            write(cur, "tickets_ticket", TICKET_COLUMNS, lines)
            write(cur, "tickets_statuschange", HISTORY_COLUMNS, history)
            write(cur, "repairshop_activitylog", ACTIVITY_COLUMNS, activity)
        stats["activity"] = activity_id
        stats["history"] = history_id
        print(
            f"  tickets: {n_tickets} ({stats['open']} open), {history_id} history and "
            f"{activity_id} activity entries "
            f"in {time.monotonic() - t0:.1f}s",
            file=out,
            flush=True,
        )
    return stats


def seed(database_url: str, *, scale: float, seed_value: int = 42, out=sys.stdout) -> dict:
    """Empties the shop's tables and loads a history of the given scale. Django must be set up
    against the same database (the users are made through the ORM)."""
    import psycopg
    from django.db import connection, transaction

    started = time.monotonic()
    rng = random.Random(seed_value)
    now_dt = datetime.now(UTC).replace(microsecond=0)

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE accounts_apitoken, accounts_user_groups, accounts_user_user_permissions, "
                "django_admin_log, django_session, accounts_user, "
                + ", ".join(DATA_TABLES)
                + " CASCADE"
            )
        users = create_users(now_dt)

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        # Foreign keys are correct by construction; checking them row by row would dominate.
        conn.execute("SET session_replication_role = replica")
        with conn.transaction():
            # COPY FREEZE needs the table emptied in the same transaction.
            conn.execute("TRUNCATE " + ", ".join(DATA_TABLES))
            indexes = conn.execute(
                """
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema()
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                  WHERE c.conindid = (quote_ident(i.indexname))::regclass)
                """,
                [list(DATA_TABLES)],
            ).fetchall()
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            stats = generate(
                conn, scale=scale, users=users, rng=rng, now=now_dt.timestamp(), out=out
            )
            t0 = time.monotonic()
            for _, definition in indexes:
                conn.execute(definition)
            print(
                f"  {len(indexes)} indexes rebuilt in {time.monotonic() - t0:.1f}s",
                file=out,
                flush=True,
            )
            for table in (
                "tickets_ticket", "tickets_statuschange", "customers_customer",
                "repairshop_activitylog",
            ):  # fmt: skip
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            # The triggers were off (replica role): recount what they keep, when they exist.
            if conn.execute("SELECT to_regproc('tickets_ticket_count_rebuild')").fetchone()[0]:
                conn.execute("SELECT tickets_ticket_count_rebuild()")
            conn.execute(f"COMMENT ON TABLE tickets_ticket IS '{seed_mark(scale)}'")
        t0 = time.monotonic()
        conn.execute(
            "VACUUM (ANALYZE) tickets_ticket, tickets_statuschange, customers_customer, "
            "repairshop_activitylog, accounts_user"
        )
        print(f"  vacuum analyze in {time.monotonic() - t0:.1f}s", file=out, flush=True)
    stats["seconds"] = round(time.monotonic() - started, 1)
    return stats


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "repairshop.settings")
    import django

    django.setup()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 200k tickets (default)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    parser.add_argument(
        "--if-needed", action="store_true", help="skip when this scale is already loaded"
    )
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("needs a PostgreSQL --database-url (or DATABASE_URL): the load uses COPY")
    if args.if_needed and current_mark(args.database_url) == seed_mark(args.scale):
        print(f"already seeded: {seed_mark(args.scale)}")
        return 0
    setup_django(args.database_url)
    customers, tickets = counts_for(args.scale)
    print(f"seeding scale {args.scale}: customers={customers} tickets={tickets}")
    stats = seed(args.database_url, scale=args.scale, seed_value=args.seed)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
