"""Seeds a reliability-test database: one user per role, four idle technicians, a few customers
and a bearer token for each user. Run in a subprocess with the scenario's DATABASE_URL
(`python -m tests.reliability.seed`); prints the tokens as JSON."""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "repairshop.settings")
django.setup()

from accounts import roles  # noqa: E402
from tests import factories  # noqa: E402

TECHNICIANS = ["tech1", "tech2", "tech3", "tech4"]


def main():
    users = {
        "manager": factories.make_user(username="manager", roles=[roles.MANAGER]),
        "frontdesk": factories.make_user(username="frontdesk", roles=[roles.FRONTDESK]),
        "viewer": factories.make_user(username="viewer", roles=[roles.VIEWER]),
    }
    for name in TECHNICIANS:
        users[name] = factories.make_user(username=name, roles=[roles.TECHNICIAN])
    tokens = {name: factories.make_token(user, name="reliability") for name, user in users.items()}
    tokens["technician"] = tokens["tech1"]
    customers = [factories.make_customer(email=f"seed{n}@example.com") for n in range(5)]
    print(
        json.dumps(
            {
                "tokens": tokens,
                "users": {n: {"id": u.pk, "email": u.email} for n, u in users.items()},
                "customer_ids": [c.pk for c in customers],
            }
        )
    )


if __name__ == "__main__":
    main()
