"""Vocabulary for plausible shop data: people, addresses, devices and their faults.

Used by `manage.py demo` and by the benchmark's data generator. Every function takes a
`random.Random`, so the same seed always gives the same shop.
"""

import random
import string
from decimal import Decimal


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy Anthony "
    "Betty Mark Sandra Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle "
    "Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca "
    "Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy Jacob Amy Gary Kathleen Nicholas "
    "Angela Eric Shirley Jonathan Emma Stephen Brenda Larry Pamela Justin Nicole Scott Anna "
    "Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Priya "
    "Wei Fatima Mohammed Aisha Hiroshi Yuki Olga Dmitri Ingrid Lars Sofia Mateo Lucia Diego"
)

LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook "
    "Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward "
    "Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez "
    "Castillo Sanders Patel Myers Long Ross Foster Jimenez O'Brien Kowalski Nakamura Lindqvist"
)

EMAIL_DOMAINS = (
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "fastmail.com",
    "comcast.net",
    "hotmail.com",
)

STREET_NAMES = (
    "Maple",
    "Oak",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Main",
    "Church",
    "Walnut",
    "Sunset",
    "Highland",
    "Riverside",
    "Jefferson",
    "Lincoln",
    "Franklin",
    "Willow",
    "Chestnut",
    "Spring",
    "Madison",
    "Meadow",
    "Forest",
)
STREET_TYPES = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way", "Pl")

# (city, state, ZIP prefix, phone area code)
CITIES = (
    ("Portland", "OR", "972", "503"),
    ("Beaverton", "OR", "970", "971"),
    ("Vancouver", "WA", "986", "360"),
    ("Lake Oswego", "OR", "970", "503"),
    ("Hillsboro", "OR", "971", "503"),
    ("Gresham", "OR", "970", "971"),
    ("Tigard", "OR", "972", "503"),
    ("Milwaukie", "OR", "972", "503"),
    ("Camas", "WA", "986", "360"),
    ("Salem", "OR", "973", "503"),
)

# device type -> [(brand, model, serial pattern)]; in a pattern "A" is a letter or digit and
# "9" a digit, anything else is kept as is.
DEVICES = {
    "laptop": [
        ("Dell", "XPS 13", "AAAAAAA"),
        ("Dell", "Latitude 5420", "AAAAAAA"),
        ("Dell", "Inspiron 15 3000", "AAAAAAA"),
        ("Apple", "MacBook Air M1", "C02AAAAAAAAA"),
        ("Apple", "MacBook Pro 14", "AAAAAAAAAA"),
        ("Lenovo", "ThinkPad T14", "PF-AAAAA"),
        ("Lenovo", "IdeaPad 5", "PF-AAAAA"),
        ("HP", "EliteBook 840 G8", "5CD9999AAA"),
        ("HP", "Pavilion 15", "5CD9999AAA"),
        ("ASUS", "ZenBook 14", "N9AAAA999999999"),
        ("Acer", "Aspire 5", "NXAAAAA9999999999"),
        ("Microsoft", "Surface Laptop 4", "999999999999"),
    ],
    "desktop": [
        ("Dell", "OptiPlex 7090", "AAAAAAA"),
        ("HP", "ProDesk 400 G7", "MXL9999AAA"),
        ("Apple", "iMac 24", "AAAAAAAAAA"),
        ("Lenovo", "ThinkCentre M70q", "MJ-AAAAA"),
        ("Custom", "Gaming PC (Ryzen 7)", ""),
    ],
    "tablet": [
        ("Apple", "iPad Air (5th gen)", "AAAAAAAAAA"),
        ("Apple", "iPad 9th gen", "AAAAAAAAAA"),
        ("Samsung", "Galaxy Tab S8", "R52AAAAAAAA"),
        ("Microsoft", "Surface Pro 8", "999999999999"),
    ],
    "phone": [
        ("Apple", "iPhone 13", "AAAAAAAAAA"),
        ("Apple", "iPhone 12 mini", "AAAAAAAAAA"),
        ("Samsung", "Galaxy S22", "R58AAAAAAAA"),
        ("Google", "Pixel 7", "99999AAA999999"),
        ("Motorola", "Moto G Power", "ZY22AAAAAA"),
    ],
    "printer": [
        ("HP", "LaserJet Pro M404n", "PHB9AAAAAA"),
        ("Brother", "HL-L2350DW", "U6AAAA999999"),
        ("Epson", "EcoTank ET-2800", "X5AA999999"),
        ("Canon", "PIXMA TR8620", "KLAA99999"),
    ],
    "console": [
        ("Sony", "PlayStation 5", "AJ999999999"),
        ("Microsoft", "Xbox Series X", "999999999999"),
        ("Nintendo", "Switch OLED", "XTW99999999999"),
    ],
}

# device type -> [(fault in the title, description, category, estimated hours)]
FAULTS = {
    "laptop": [
        (
            "no power after liquid spill",
            "Customer spilled coffee on the keyboard; the laptop shut off and will not power on.",
            "Liquid damage",
            "3",
        ),
        (
            "cracked screen",
            "Dropped from a desk; the display is cracked in the lower left corner.",
            "Screen",
            "1.5",
        ),
        (
            "battery drains in under an hour",
            "Battery health reported below 60%; shuts down at 30% charge.",
            "Battery",
            "1",
        ),
        (
            "overheating and fan noise",
            "Fan runs at full speed under light load; bottom case gets very hot.",
            "Cooling",
            "1.5",
        ),
        (
            "keyboard keys not responding",
            "E, R and the space bar do not register.",
            "Keyboard",
            "2",
        ),
        (
            "won't boot past the logo",
            "Stuck at the manufacturer logo; no access to the operating system.",
            "Software",
            "2",
        ),
        (
            "hinge broken",
            "Left hinge snapped; the lid no longer stays open.",
            "Chassis",
            "2.5",
        ),
        (
            "charging port loose",
            "Charges only when the cable is held at an angle.",
            "Power",
            "1.5",
        ),
        (
            "data recovery from failing SSD",
            "Clicking noises reported, files disappearing; customer needs photos recovered.",
            "Data recovery",
            "4",
        ),
        (
            "virus and pop-ups",
            "Browser redirects and constant pop-ups; customer clicked an invoice attachment.",
            "Software",
            "1.5",
        ),
    ],
    "desktop": [
        (
            "no display output",
            "Fans spin but the monitor shows no signal.",
            "Graphics",
            "2",
        ),
        (
            "random shutdowns",
            "Turns off without warning several times a day, more under load.",
            "Power supply",
            "2",
        ),
        (
            "slow startup and freezing",
            "Takes ten minutes to reach the desktop; freezes when opening email.",
            "Performance",
            "1.5",
        ),
        (
            "upgrade to 32 GB RAM and 1 TB SSD",
            "Customer supplied the parts; clone the old drive.",
            "Upgrade",
            "2",
        ),
        (
            "beeping on power-up",
            "Three short beeps and nothing on screen.",
            "Memory",
            "1",
        ),
    ],
    "tablet": [
        (
            "cracked screen",
            "Dropped face down; touch still works in the top half.",
            "Screen",
            "1.5",
        ),
        ("won't charge", "No charging indicator with two different cables.", "Power", "1"),
        ("stuck in boot loop", "Restarts over and over after an update.", "Software", "1.5"),
        ("battery swelling", "Screen lifting at the edge; case bulging.", "Battery", "1.5"),
    ],
    "phone": [
        ("shattered back glass", "Back glass shattered; camera lens intact.", "Chassis", "1"),
        (
            "cracked screen and touch not working",
            "Screen cracked; the bottom third ignores touches.",
            "Screen",
            "1",
        ),
        (
            "water damage",
            "Dropped in a pool for a few seconds; no sound from speaker.",
            "Liquid damage",
            "2",
        ),
        (
            "battery replacement",
            "Battery health at 71%; phone shuts down in the cold.",
            "Battery",
            "0.5",
        ),
        ("microphone not working", "Callers cannot hear the customer.", "Audio", "1"),
    ],
    "printer": [
        ("paper jam error", "Reports a paper jam with no paper inside.", "Paper path", "1"),
        ("streaky prints", "Grey streaks down every page.", "Print quality", "1"),
        ("not connecting to Wi-Fi", "Drops off the network after a few minutes.", "Network", "1"),
        (
            "grinding noise when printing",
            "Loud grinding from the left side while feeding.",
            "Mechanical",
            "1.5",
        ),
    ],
    "console": [
        (
            "HDMI port damaged",
            "HDMI port bent after the console was pulled off the shelf.",
            "Ports",
            "2",
        ),
        (
            "disc drive not reading",
            "Ejects every disc after a few seconds.",
            "Optical drive",
            "1.5",
        ),
        ("overheating shutdown", "Shuts off after 20 minutes of play.", "Cooling", "1.5"),
        (
            "controller drift",
            "Left stick drifts up; customer brought both controllers.",
            "Controller",
            "1",
        ),
    ],
}

ACCESSORIES = {
    "laptop": ["charger", "charger, laptop bag", "none", "charger, USB-C dock", "charger, mouse"],
    "desktop": ["power cable", "none", "power cable, keyboard"],
    "tablet": ["charger", "case", "none", "case, stylus"],
    "phone": ["none", "case", "case, charging cable", "SIM removed by customer"],
    "printer": ["power cable, USB cable", "power cable", "spare toner"],
    "console": ["power cable, HDMI cable", "controller", "none"],
}

CONDITIONS = (
    "Light scratches on the lid.",
    "Good overall; small dent on one corner.",
    "Worn, stickers on the case.",
    "As new.",
    "Scuffs along the edges; rubber feet missing.",
    "",
)

WORK_NOTES = (
    "Replaced the part; tested for 30 minutes, all good.",
    "Cleaned and reseated; customer called to pick up.",
    "Parts ordered, ETA 3 days.",
    "Diagnosed; waiting for the customer's approval of the quote.",
    "Backed up data before the repair.",
    "",
)

# (weight, priority value): low 1, medium 2, high 3, urgent 4
PRIORITY_WEIGHTS = ((20, 1), (50, 2), (22, 3), (8, 4))


def fill_pattern(rng: random.Random, pattern: str) -> str:
    alphabet = string.ascii_uppercase + string.digits
    out = []
    for ch in pattern:
        if ch == "A":
            out.append(rng.choice(alphabet))
        elif ch == "9":
            out.append(rng.choice(string.digits))
        else:
            out.append(ch)
    return "".join(out)


def phone_number(rng: random.Random, area_code: str) -> str:
    return f"({area_code}) 555-{rng.randint(100, 9999):04d}"


def customer_values(rng: random.Random, index: int) -> dict:
    """Field values for one customer; `index` keeps the email unique."""
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    city, state, zip_prefix, area = rng.choice(CITIES)
    local = f"{first}.{last}".lower().replace("'", "")
    if index:
        local += str(index)
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{local}@{rng.choice(EMAIL_DOMAINS)}",
        "phone": phone_number(rng, area),
        "address1": " ".join(
            (str(rng.randint(10, 9999)), rng.choice(STREET_NAMES), rng.choice(STREET_TYPES))
        ),
        "address2": rng.choice(
            ["", "", "", f"Apt {rng.randint(1, 40)}", f"Unit {rng.randint(1, 9)}B"]
        ),
        "city": city,
        "state": state,
        "zip": f"{zip_prefix}{rng.randint(0, 99):02d}",
        "country": "US",
        "notes": rng.choice(["", "", "", "Prefers text messages.", "Business customer: invoice."]),
    }


def ticket_values(rng: random.Random) -> dict:
    """Field values for one ticket (no customer, technician, status or dates)."""
    device_type = rng.choice(list(DEVICES))
    brand, model, serial_pattern = rng.choice(DEVICES[device_type])
    fault, description, category, hours = rng.choice(FAULTS[device_type])
    weights, priorities = zip(*PRIORITY_WEIGHTS, strict=True)
    return {
        "title": f"{brand} {model} — {fault}",
        "description": description,
        "priority": rng.choices(priorities, weights=weights)[0],
        "category": category,
        "estimated_hours": Decimal(hours),
        "device_type": device_type,
        "device_brand": brand,
        "device_model": model,
        "serial_number": fill_pattern(rng, serial_pattern),
        "accessories": rng.choice(ACCESSORIES[device_type]),
        "condition": rng.choice(CONDITIONS),
    }


# --- Repairs' journeys through the statuses (contract §12) ------------------------------------
# Who makes a move: the front desk (intake, the customer's decisions by phone, pickup), the
# ticket's technician (the work), the customer themselves (an approval on the status page),
# or a manager (an override).
DESK, TECH, CUSTOMER, MANAGER = "desk", "tech", "customer", "manager"

# (weight, the statuses a repair passes through, from the intake to its final status). Every
# move is in the default statuses' `next`.
JOURNEYS = (
    (30, ("received", "diagnosing", "in_repair", "ready", "collected")),
    (14, ("received", "in_repair", "ready", "collected")),
    (12, ("received", "diagnosing", "awaiting_approval", "in_repair", "ready", "collected")),
    (10, ("received", "diagnosing", "awaiting_approval", "in_repair", "waiting_parts",
          "in_repair", "ready", "collected")),
    (9, ("received", "diagnosing", "waiting_parts", "in_repair", "ready", "collected")),
    (6, ("received", "diagnosing", "awaiting_approval", "cancelled")),
    (5, ("received", "diagnosing", "ready_unrepaired", "collected")),
    (3, ("received", "diagnosing", "awaiting_approval", "ready_unrepaired", "collected")),
    (4, ("received", "diagnosing", "in_repair", "ready", "abandoned")),
    (3, ("received", "cancelled")),
    (3, ("received", "diagnosing", "in_repair", "ready", "in_repair", "ready", "collected")),
)  # fmt: skip
JOURNEY_WEIGHTS = tuple(weight for weight, _ in JOURNEYS)
OPEN_STATUSES = (
    "received", "diagnosing", "in_repair", "awaiting_approval", "waiting_parts", "ready",
    "ready_unrepaired",
)  # fmt: skip
# A collected device that comes back with the same fault: a closed status has no `next`, so
# only a manager's override reopens it.
WARRANTY_RETURN = ("in_repair", "ready", "collected")
WARRANTY_COMMENT = "Back under warranty with the same fault; reopened"

# Hours a ticket stays in a status before the next move: (shortest, longest).
STAY_HOURS = {
    "received": (0.2, 20),
    "diagnosing": (0.5, 30),
    "in_repair": (0.5, 48),
    "awaiting_approval": (1, 60),
    "waiting_parts": (24, 160),
    "ready": (1, 120),
    "ready_unrepaired": (1, 72),
}

# (from, to) -> the comments such a move gets ("" = none written).
MOVE_COMMENTS = {
    (None, "received"): ("Checked in at the counter", "Dropped off by the customer", ""),
    ("received", "diagnosing"): ("", "Started diagnostics", "On the bench"),
    ("received", "in_repair"): ("", "Known fault, straight to repair"),
    ("received", "cancelled"): ("Customer withdrew the repair", "Duplicate ticket"),
    ("diagnosing", "in_repair"): ("", "Fault confirmed; covered by the standard price"),
    ("diagnosing", "awaiting_approval"): (
        "Quote sent: parts and labour", "Quote sent by email", "Called the customer with the quote",
    ),
    ("diagnosing", "waiting_parts"): (
        "Screen ordered from supplier", "Battery ordered, ETA 3 days",
    ),
    ("diagnosing", "ready_unrepaired"): (
        "No fault found after 24 hours of testing", "Not economical to repair; customer informed",
    ),
    ("awaiting_approval", "in_repair"): (
        "Customer approved quote by phone", "Customer approved the quote at the counter",
    ),
    ("awaiting_approval", "cancelled"): ("Customer declined the quote", "No answer to the quote"),
    ("awaiting_approval", "ready_unrepaired"): ("Customer declined the repair; return as is",),
    ("in_repair", "waiting_parts"): (
        "Screen ordered from supplier", "Replacement part on back order", "Ordered a new battery",
    ),
    ("waiting_parts", "in_repair"): ("Part arrived", "Supplier delivered the part", ""),
    ("in_repair", "ready"): (
        "Repaired and tested", "Replaced the part; tested for 30 minutes, all good", "",
    ),
    ("ready", "collected"): ("Picked up and paid at the counter", "Picked up", ""),
    ("ready_unrepaired", "collected"): ("Picked up; no charge", "Picked up"),
    ("ready", "abandoned"): ("Not collected after 90 days and three reminders",),
    ("ready", "in_repair"): ("Fault came back while the customer tested it at pickup",),
}  # fmt: skip
CUSTOMER_APPROVAL_COMMENT = "Approved on the status page"


def _mover(to_key: str, from_key: str | None) -> str:
    if from_key is None or to_key in ("collected", "cancelled", "abandoned"):
        return DESK  # intake and hand-over: only the front desk and managers close a ticket
    if from_key == "awaiting_approval" or (from_key == "ready" and to_key == "in_repair"):
        return DESK  # the customer's decision, taken at the counter or by phone
    return TECH


def journey(rng: random.Random, *, ends_in: str | None = None) -> list[tuple]:
    """One repair's moves, oldest first: (from key, to key, who, comment, override), the
    creation first (from None). `ends_in`: the journey is cut where it first reaches that
    status (a ticket still there); None: a finished repair, up to its closed status."""
    if ends_in is None:
        keys = rng.choices([keys for _, keys in JOURNEYS], weights=JOURNEY_WEIGHTS)[0]
    else:
        candidates = [(weight, keys) for weight, keys in JOURNEYS if ends_in in keys]
        keys = rng.choices(
            [keys for _, keys in candidates], weights=[weight for weight, _ in candidates]
        )[0]
        keys = keys[: keys.index(ends_in) + 1]
    moves = []
    previous = None
    for key in keys:
        who = _mover(key, previous)
        comment = rng.choice(MOVE_COMMENTS[(previous, key)])
        if previous == "awaiting_approval" and key == "in_repair" and rng.random() < 0.35:
            who, comment = CUSTOMER, CUSTOMER_APPROVAL_COMMENT
        moves.append((previous, key, who, comment, False))
        previous = key
    return moves


def with_warranty_return(moves: list[tuple]) -> list[tuple]:
    """A collected repair reopened by a manager's override, repaired and collected again."""
    assert moves[-1][1] == "collected"
    reopened = [("collected", WARRANTY_RETURN[0], MANAGER, WARRANTY_COMMENT, True)]
    previous = WARRANTY_RETURN[0]
    for key in WARRANTY_RETURN[1:]:
        reopened.append((previous, key, _mover(key, previous), "", False))
        previous = key
    return moves + reopened


def move_times(
    rng: random.Random,
    moves: list[tuple],
    *,
    created: float,
    now: float,
    time_limits: dict[str, float | None],
) -> list[float]:
    """When each move happened (epoch seconds, strictly increasing, the first = `created`).
    A finished repair takes the stays of STAY_HOURS (squeezed to end before `now`); an open
    ticket entered its current status a while ago, mostly within the status's time limit
    (`time_limits`: hours, None for none), now and then past it (overdue)."""
    stays = [0.0]
    for _, key, *_ in moves[:-1]:
        shortest, longest = STAY_HOURS.get(key, (1, 48))
        stays.append(3600 * (shortest + rng.random() * (longest - shortest)))
    if moves[-1][1] == "abandoned":
        stays[-1] = 86400 * (90 + rng.random() * 20)
    total = sum(stays)
    current = moves[-1][1]
    if current in STAY_HOURS:  # still open (or ready): how long it has been in this status
        limit = time_limits.get(current) or 96
        share = 1.2 + rng.random() * 2 if rng.random() < 0.1 else 0.05 + rng.random() * 0.75
        entered = now - 3600 * limit * share
        if entered <= created + 60 * len(moves):
            entered = created + (now - created) * (0.4 + rng.random() * 0.5)
        latest = entered
    else:
        latest = now - 300
    if total and created + total > latest:
        # Squeezed: the repair (or its part before the current status) fits the time it had.
        stays = [stay * (latest - created) / total for stay in stays]
    elif current in STAY_HOURS and total:
        stays[-1] += entered - created - total  # it waited longer before this last move
    times, at = [], created
    for stay in stays:
        at += stay
        times.append(at)
    return times
