"""One writer process of scenario 5: creates COUNT tickets through tickets.services on the
SQLite database named by DATABASE_URL, starting at the wall-clock time START_AT so that all
writers overlap; prints {"created", "locked", "errors"} as JSON.

python -m tests.reliability.sqlite_writer COUNT START_AT
"""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "repairshop.settings")
django.setup()

from django.db import OperationalError  # noqa: E402

from accounts.models import User  # noqa: E402
from customers.models import Customer  # noqa: E402
from tickets.services import ticket_create  # noqa: E402


def main(count: int, start_at: float):
    actor = User.objects.get(username="frontdesk")
    customers = list(Customer.objects.values_list("pk", flat=True))
    created = locked = 0
    errors: list[str] = []
    time.sleep(max(0.0, start_at - time.time()))
    for n in range(count):
        try:
            ticket_create(
                actor=actor,
                data={
                    "customer_id": customers[n % len(customers)],
                    "title": f"Embedded writer {os.getpid()} ticket {n}",
                    "description": "Written by one of four processes at once.",
                },
            )
            created += 1
        except OperationalError as exc:
            if "locked" in str(exc):
                locked += 1
            else:
                errors.append(repr(exc))
        except Exception as exc:
            errors.append(repr(exc))
    print(json.dumps({"created": created, "locked": locked, "errors": errors[:5]}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
