"""Fill a PostgreSQL database with a realistic shop history, in bulk, for the benchmark.

    DATABASE_URL=postgres://root@127.0.0.1:5432/rs_bench uv run python bench/seed.py --scale 1.0

Scale 1.0 is five years of a busy shop: 50,000 customers and 200,000 tickets (about 2 % of
them still open, the newest ones), 8 technicians, all priorities, device + fault + serial in
titles and descriptions, notes, and the activity entries the app would have written
(customer:create, ticket:create, ticket:status_change). Scale 0.1 gives 20k tickets, 10 gives
2M. Users get a known password (BENCH_PASSWORD) so the runner can sign them in.

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


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- Vocabulary ---------------------------------------------------------------------------
FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Paul Emily Andrew "
    "Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy "
    "Stephanie Ronald Rebecca Edward Sharon Jason Laura Jeffrey Cynthia Ryan Amy Jacob Kathleen "
    "Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna Larry Pamela Justin "
    "Nicole Scott Samantha Brandon Katherine Benjamin Christine Samuel Helen Gregory Debra "
    "Alexander Rachel Patrick Carolyn Frank Janet Raymond Maria Jack Olivia Dennis Heather "
    "Jerry Diane Tyler Julie Aaron Joyce Jose Victoria Adam Ruth Nathan Virginia Henry Lauren "
    "Zachary Kelly Douglas Christina Peter Joan Kyle Evelyn Noah Judith Ethan Andrea Jeremy "
    "Hannah Walter Megan Christian Cheryl Keith Jacqueline Roger Martha Terry Madison Austin "
    "Teresa Sean Gloria Gerald Sara Carl Janice Harold Ann Dylan Kathryn Arthur Abigail Lawrence "
    "Sophia Jordan Frances Jesse Jean Bryan Alice Billy Judy Bruce Isabella Gabriel Julia Joe "
    "Grace Logan Amber Alan Denise Juan Danielle Albert Marilyn Willie Beverly Elijah Charlotte "
    "Wayne Natalie Randy Theresa Vincent Diana Mason Brittany Roy Doris Ralph Kayla Bobby Alexis "
    "Russell Lori Bradley Marie Philip Ingrid Aiko Mateo Priya Wei Olga Tariq Amara Lars Chiara"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook "
    "Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward "
    "Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez "
    "Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan "
    "Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan "
    "Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant "
    "Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison "
    "Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker "
    "Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason "
    "Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox "
    "Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan "
    "Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos "
    "Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews "
    "Ray Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter "
    "Lawrence Sandoval Novak Kowalski Lindqvist Okafor Tanaka Rossi Dubois Mueller Larsen"
)
STREETS = _words(
    "Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Walnut Sunset Lincoln Jackson "
    "Church River Highland Forest Meadow Spring Ridge Mill Valley Willow Franklin Chestnut"
)
STREET_KINDS = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct")
CITIES = (
    ("Springfield", "IL", "627", "US"),
    ("Portland", "OR", "972", "US"),
    ("Austin", "TX", "787", "US"),
    ("Madison", "WI", "537", "US"),
    ("Burlington", "VT", "054", "US"),
    ("Boulder", "CO", "803", "US"),
    ("Asheville", "NC", "288", "US"),
    ("Savannah", "GA", "314", "US"),
    ("Tucson", "AZ", "857", "US"),
    ("Ann Arbor", "MI", "481", "US"),
    ("Spokane", "WA", "992", "US"),
    ("Albany", "NY", "122", "US"),
    ("Providence", "RI", "029", "US"),
    ("Toronto", "ON", "M5V", "CA"),
    ("Halifax", "NS", "B3H", "CA"),
    ("Bristol", "England", "BS1", "GB"),
)
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "aol.com")

# device type -> (weight, [(brand, [models])], [faults], [categories])
DEVICES = {
    "laptop": (
        36,
        [
            ("Dell", ["XPS 13", "XPS 15", "Latitude 5420", "Inspiron 15 3000", "Vostro 3510"]),
            ("HP", ["EliteBook 840 G8", "Pavilion 15", "ProBook 450 G9", "Envy x360", "Spectre"]),
            ("Lenovo", ["ThinkPad T14", "ThinkPad X1 Carbon", "IdeaPad 5", "Yoga 7", "Legion 5"]),
            ("Apple", ["MacBook Air M1", "MacBook Air M2", "MacBook Pro 14", "MacBook Pro 16"]),
            ("Asus", ["ZenBook 14", "VivoBook 15", "ROG Strix G15", "TUF Gaming F15"]),
            ("Acer", ["Aspire 5", "Swift 3", "Nitro 5", "TravelMate P2"]),
        ],
        [
            "no power after liquid spill",
            "cracked screen",
            "battery not charging",
            "overheating and loud fan",
            "keyboard keys not working",
            "will not boot, blue screen",
            "very slow, needs a clean-up",
            "broken hinge",
            "virus and pop-ups",
            "data recovery from a failing drive",
            "Wi-Fi keeps dropping",
            "no display on the built-in screen",
            "trackpad not clicking",
            "SSD upgrade and OS reinstall",
        ],
        ["Hardware repair", "Software", "Data recovery", "Upgrade", "Screen replacement"],
    ),
    "desktop": (
        16,
        [
            ("Dell", ["OptiPlex 7090", "OptiPlex 3080", "XPS 8950", "Inspiron 3891"]),
            ("HP", ["EliteDesk 800 G6", "Pavilion TP01", "ProDesk 400"]),
            ("Lenovo", ["ThinkCentre M70q", "IdeaCentre 5"]),
            ("Apple", ["iMac 24", "Mac mini M2", "iMac 27"]),
            ("Custom", ["gaming tower", "office PC", "home server"]),
        ],
        [
            "no display",
            "random restarts",
            "power supply failure",
            "will not POST",
            "RAM and SSD upgrade",
            "virus removal",
            "data recovery after a power cut",
            "loud grinding fan",
            "USB ports dead",
            "Windows update loop",
        ],
        ["Hardware repair", "Software", "Upgrade", "Data recovery", "Maintenance"],
    ),
    "tablet": (
        9,
        [
            ("Apple", ["iPad 9th gen", "iPad Air 5", "iPad Pro 11", "iPad mini 6"]),
            ("Samsung", ["Galaxy Tab S8", "Galaxy Tab A8", "Galaxy Tab S6 Lite"]),
            ("Microsoft", ["Surface Pro 8", "Surface Go 3"]),
            ("Amazon", ["Fire HD 10", "Fire HD 8"]),
        ],
        [
            "cracked screen",
            "charging port loose",
            "battery drains fast",
            "stuck on the logo",
            "touch not responding",
            "forgotten passcode, needs reset",
        ],
        ["Screen replacement", "Hardware repair", "Software"],
    ),
    "phone": (
        15,
        [
            ("Apple", ["iPhone 12", "iPhone 13", "iPhone 14 Pro", "iPhone SE", "iPhone 11"]),
            ("Samsung", ["Galaxy S21", "Galaxy S22", "Galaxy A52", "Galaxy A13"]),
            ("Google", ["Pixel 6", "Pixel 7", "Pixel 6a"]),
            ("Motorola", ["Moto G Power", "Edge 30"]),
        ],
        [
            "cracked screen",
            "battery replacement",
            "charging port not working",
            "water damage",
            "rear camera blurry",
            "speaker crackles",
            "microphone not working on calls",
            "back glass shattered",
        ],
        ["Screen replacement", "Hardware repair", "Battery"],
    ),
    "printer": (
        12,
        [
            ("HP", ["LaserJet Pro M404", "OfficeJet Pro 9015", "DeskJet 2755", "Color LaserJet"]),
            ("Brother", ["HL-L2350DW", "MFC-L2750DW", "DCP-L2550DW"]),
            ("Canon", ["PIXMA TR8620", "imageCLASS MF445dw", "PIXMA G6020"]),
            ("Epson", ["EcoTank ET-2800", "WorkForce WF-2860", "EcoTank ET-4760"]),
        ],
        [
            "paper jam",
            "paper jam in the rear tray",
            "streaks on every print",
            "not found over Wi-Fi",
            "error light blinking",
            "grinding noise when feeding paper",
            "printhead clogged",
            "scanner lid sensor broken",
        ],
        ["Printer service", "Maintenance", "Hardware repair"],
    ),
    "console": (
        6,
        [
            ("Sony", ["PlayStation 5", "PlayStation 4 Pro", "PlayStation 4"]),
            ("Microsoft", ["Xbox Series X", "Xbox One S"]),
            ("Nintendo", ["Switch", "Switch OLED"]),
        ],
        [
            "HDMI port damaged",
            "disc drive not reading",
            "shuts down when hot",
            "controller stick drift",
            "no picture on the TV",
        ],
        ["Hardware repair", "Maintenance"],
    ),
    "other": (
        6,
        [
            ("Seagate", ["Expansion 2TB", "Backup Plus"]),
            ("WD", ["My Passport 4TB", "Elements 1TB"]),
            ("Netgear", ["Nighthawk R7000", "Orbi RBK752"]),
            ("LG", ["UltraFine 27", "27GL850"]),
            ("Garmin", ["Forerunner 245", "Venu 2"]),
        ],
        [
            "external drive not recognised",
            "monitor flickering",
            "router keeps rebooting",
            "watch will not charge",
            "clicking noise, needs data recovery",
        ],
        ["Data recovery", "Hardware repair", "Maintenance"],
    ),
}
DETAILS = (
    "Happens every time the device warms up.",
    "Started after the last software update.",
    "Customer already tried a restart and a different charger.",
    "Dropped once last month according to the customer.",
    "Intermittent; customer could not reproduce it at the counter.",
    "Needs it back before the end of the week for work.",
    "Customer wants a quote before any parts are ordered.",
    "Under manufacturer warranty until next spring.",
    "Second visit for the same problem.",
    "Backup of photos and documents requested before any repair.",
)
PRINTER_DETAILS = (
    "Paper jam reported twice this month, torn sheet may be stuck inside.",
    "Office printer, used for about 500 pages a week.",
    "Customer replaced the toner recently.",
)
ACCESSORIES = ("", "", "charger", "charger and bag", "power cable", "case", "USB cable", "none")
CONDITIONS = (
    "",
    "",
    "",
    "scratches on the lid",
    "dent on one corner",
    "screen already cracked",
    "good",
    "worn keys",
    "sticker residue",
)
CLOSING_NOTES = (
    "Replaced the faulty part; tested for an hour, all fine.",
    "Cleaned, updated drivers and firmware, tested OK.",
    "Customer declined the quote; returned unrepaired.",
    "Data copied to the customer's USB drive.",
    "Replaced battery; calibration done.",
    "Cleared the paper path and replaced the pickup roller.",
    "",
    "",
)
OPEN_NOTES = ("", "", "", "Waiting for parts.", "Diagnosis in progress.", "Quote sent to customer.")
SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
PRIORITIES = (1, 2, 3, 4)
PRIORITY_WEIGHTS = (25, 45, 22, 8)
PRIORITY_NAMES = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
HOURS = ("\\N", "\\N", "0.50", "1.00", "1.50", "2.00", "3.00", "4.00", "6.00", "8.00")

TICKET_COLUMNS = (
    "id, customer_id, title, description, tech_id, priority, category, estimated_hours, "
    "completed, completed_at, notes, device_type, device_brand, device_model, serial_number, "
    "accessories, condition, created_at, updated_at"
)
CUSTOMER_COLUMNS = (
    "id, first_name, last_name, email, phone, address1, address2, city, state, zip, country, "
    "notes, active, created_at, updated_at"
)
ACTIVITY_COLUMNS = "id, actor_id, action, object_type, object_id, metadata, request_id, created_at"
DATA_TABLES = (
    "repairshop_activitylog",
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
        (f"tech{n}", FIRST_NAMES[n * 7], LAST_NAMES[n * 11], roles.TECHNICIAN)
        for n in range(1, TECHNICIANS + 1)
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


def generate(conn, *, scale: float, users: dict, rng: random.Random, now: float, out) -> dict:
    n_customers, n_tickets = counts_for(scale)
    span = YEARS * 365 * 86400
    start = now - span
    techs = [users[f"tech{n}"] for n in range(1, TECHNICIANS + 1)]
    tech_emails = {pk: f"tech{n}@shop.test" for n, pk in enumerate(techs, 1)}
    desk_actors = [users["frontdesk"]] * 4 + [users["manager"]]
    device_types = list(DEVICES)
    device_weights = [DEVICES[d][0] for d in device_types]
    rand = rng.random
    choice = rng.choice
    choices = rng.choices
    randrange = rng.randrange
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
            first = choice(FIRST_NAMES)
            last = choice(LAST_NAMES)
            city, state, zip_prefix, country = choice(CITIES)
            created = ts(start + span * (cid - 1) / n_customers + rand() * 3600)
            email = f"{first}.{last}{cid}@{choice(EMAIL_DOMAINS)}".lower()
            phone = f"+1 555 {randrange(1000):03d} {randrange(10000):04d}"
            address = f"{randrange(1, 9999)} {choice(STREETS)} {choice(STREET_KINDS)}"
            address2 = f"Apt {randrange(1, 400)}" if rand() < 0.15 else ""
            if country == "US":
                zip_code = f"{zip_prefix}{randrange(100):02d}"
            else:
                zip_code = f"{zip_prefix} {randrange(10)}XY"
            note = "Prefers a call, not email." if rand() < 0.05 else ""
            # Only a customer without tickets can have been deactivated (contract §4).
            active = "f" if not has_tickets[cid] and rand() < 0.3 else "t"
            lines.append(
                f"{cid}\t{first}\t{last}\t{email}\t{phone}\t{address}\t{address2}\t{city}\t"
                f"{state}\t{zip_code}\t{country}\t{note}\t{active}\t{created}\t{created}\n"
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
            lines, activity = [], []
            for i in range(batch_start, min(n_tickets, batch_start + batch)):
                tid = i + 1
                created_epoch = start + span * (i + rand()) / n_tickets
                created = ts(created_epoch)
                # The newest tickets are the open ones; a few old ones were never closed.
                is_open = rand() < (0.6 if i >= recent_from else 0.002)
                dtype = choices(device_types, device_weights)[0]
                _, brands, faults, categories = DEVICES[dtype]
                brand, models = choice(brands)
                model = choice(models)
                fault = choice(faults)
                serial = brand[:2].upper() + "".join(choices(SERIAL_CHARS, k=10))
                priority = choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
                if dtype == "printer" and rand() < 0.4:
                    detail = choice(PRINTER_DETAILS)
                else:
                    detail = choice(DETAILS)
                description = (
                    f"Customer reports: {fault} on their {brand} {model}. {detail}"
                    f"\\nSerial number {serial}, checked in at the front desk."
                )
                title = f"{brand} {model} — {fault}"
                if is_open:
                    stats["open"] += 1
                    tech = None if rand() < 0.03 else choice(techs)
                    completed, completed_at, note = "f", "\\N", choice(OPEN_NOTES)
                    updated = ts(min(now, created_epoch + rand() * 7200))
                else:
                    tech = choice(techs)
                    done_epoch = min(now, created_epoch + 7200 + rand() * 10 * 86400)
                    completed, completed_at, note = "t", ts(done_epoch), choice(CLOSING_NOTES)
                    updated = completed_at
                tech_col = "\\N" if tech is None else tech
                lines.append(
                    f"{tid}\t{ticket_customer[i]}\t{title}\t{description}\t{tech_col}\t{priority}\t"
                    f"{choice(categories)}\t{choice(HOURS)}\t{completed}\t{completed_at}\t{note}\t"
                    f"{dtype}\t{brand}\t{model}\t{serial}\t{choice(ACCESSORIES)}\t"
                    f"{choice(CONDITIONS)}\t{created}\t{updated}\n"
                )
                meta = json.dumps(
                    {
                        "title": title,
                        "priority": PRIORITY_NAMES[priority],
                        "tech": tech_emails.get(tech),
                    },
                    ensure_ascii=False,  # a \u escape would be eaten by COPY's text format
                )
                activity_id += 1
                activity.append(
                    f"{activity_id}\t{choice(desk_actors)}\tticket:create\tticket\t{tid}\t{meta}\t"
                    f"{getrandbits(128):032x}\t{created}\n"
                )
                if completed == "t":
                    activity_id += 1
                    activity.append(
                        f"{activity_id}\t{tech}\tticket:status_change\tticket\t{tid}\t"
                        f'{{"completed": {{"old": false, "new": true}}}}\t'
                        f"{getrandbits(128):032x}\t{completed_at}\n"
                    )
            write(cur, "tickets_ticket", TICKET_COLUMNS, lines)
            write(cur, "repairshop_activitylog", ACTIVITY_COLUMNS, activity)
        stats["activity"] = activity_id
        print(
            f"  tickets: {n_tickets} ({stats['open']} open) and {activity_id} activity entries "
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
            for table in ("tickets_ticket", "customers_customer", "repairshop_activitylog"):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            conn.execute(f"COMMENT ON TABLE tickets_ticket IS '{seed_mark(scale)}'")
        t0 = time.monotonic()
        conn.execute(
            "VACUUM (ANALYZE) tickets_ticket, customers_customer, repairshop_activitylog, "
            "accounts_user"
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
