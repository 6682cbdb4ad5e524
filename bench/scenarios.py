"""The benchmark's scenarios, and their preparation inside Django.

Run by bench/run.py as a child process with the bench environment (DJANGO_SETTINGS_MODULE=
bench.settings and the bench database):

    python bench/scenarios.py            -> one JSON document on stdout

For every scenario it signs the user in (a session made by the session engine itself, as the
login view would: the cookie is then replayed by wrk), checks the answer's status, and counts
the SQL queries of one warm request (django.test.Client + CaptureQueriesContext, in-process,
on the same database). The poll URL is read from the ticket list page itself (the element
with hx-trigger="every ..."), so the benchmark follows whatever the page polls.
"""

import html
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Scenario:
    name: str
    label: str
    user: str  # username of the seeded user who runs it
    path: str = ""
    headers: dict = field(default_factory=dict)
    status: int = 200
    api: bool = False  # authenticates with a Bearer token instead of the session cookie
    queries: int | None = None
    bytes: int | None = None
    error: str = ""


def scenarios(surname: str, long_history_ticket: int) -> list[Scenario]:
    search = urlencode({"search": surname})
    return [
        Scenario("list", "Ticket list, full page (open, newest first)", "frontdesk",
                 "/tickets/?completed=false"),
        Scenario("list_partial", "Ticket list, htmx partial", "frontdesk",
                 "/tickets/?completed=false", {"HX-Request": "true"}),
        Scenario("queue", "Technician's queue", "tech1", "/tickets/queue/"),
        Scenario("search", "Ticket search over all history (\"paper jam\")", "frontdesk",
                 "/tickets/?search=paper+jam"),
        Scenario("customer_search", f"Customer search by name ({surname!r})", "frontdesk",
                 f"/customers/?{search}"),
        # As app.js sends its timed poll (static/js/app.js, X-Poll).
        Scenario("poll_unchanged", "Unchanged poll of the ticket list (204)", "frontdesk",
                 "", {"HX-Request": "true", "X-Poll": "timer"}, status=204),
        Scenario("api_list", "API ticket list (pageSize=25)", "frontdesk",
                 "/api/tickets?pageSize=25", api=True),
        Scenario("api_customer_search", f"API customer search ({surname!r})", "frontdesk",
                 f"/api/customers?{search}", api=True),
        Scenario("admin_changelist", "Django admin ticket changelist", "manager",
                 "/admin/tickets/ticket/"),
        Scenario("board", "Board as a technician (their open tickets, a column per status)",
                 "tech1", BOARD_PATH),
        Scenario("board_frontdesk", "Board as the front desk (every open ticket)", "frontdesk",
                 BOARD_PATH),
        # The board's own poll, read from the board page, as app.js sends it.
        Scenario("board_poll", "Unchanged poll of the board (204)", "tech1", "",
                 {"HX-Request": "true", "X-Poll": "timer"}, status=204),
        Scenario("history", "API history of a ticket with a long history", "frontdesk",
                 f"/api/tickets/{long_history_ticket}/history", api=True),
        Scenario("statuses", "API statuses", "frontdesk", "/api/statuses", api=True),
    ]  # fmt: skip


LIST_PATH = "/tickets/?completed=false"
BOARD_PATH = "/tickets/board/"
# Scenarios whose URL is the one a page polls -> that page.
POLLS = {"poll_unchanged": LIST_PATH, "board_poll": BOARD_PATH}

FLOOR = Scenario("floor", "Floor: signed-in URL returning 2 bytes (bench only)", "frontdesk",
                 "/bench/floor")  # fmt: skip

# The element that polls: a tag with hx-get and either data-poll (app.js fires its "poll"
# event) or an hx-trigger of "poll" / "every Ns".
_POLLING_TAG = re.compile(
    r"<[^>]*(?:\bdata-poll\b|hx-trigger=\"[^\"]*(?:\bpoll\b|every ))[^>]*>", re.S
)
_HX_GET = re.compile(r"hx-get=\"([^\"]+)\"")


def poll_path(page_path: str, page_html: str) -> str:
    """The URL the page polls, made absolute (hx-get may be just "?query")."""
    for tag in _POLLING_TAG.findall(page_html):
        found = _HX_GET.search(tag)
        if found:
            return urljoin(page_path, html.unescape(found.group(1)))
    return ""


def common_surname() -> str:
    """A surname that a few hundred customers share, as a real search would hit."""
    from django.db.models import Count

    from customers.models import Customer

    ranked = list(
        Customer.objects.values("last_name")
        .annotate(n=Count("id"))
        .order_by("-n", "last_name")
        .values_list("last_name", flat=True)[:40]
    )
    return ranked[len(ranked) // 2] if ranked else "Smith"


def database_version(connection) -> str:
    if connection.vendor != "postgresql":
        return connection.vendor
    major, minor = divmod(connection.pg_version, 10000)
    return f"PostgreSQL {major}.{minor}"


class SignedIn:
    """The seeded users signed in: a test client (session) and an API token for each."""

    def __init__(self, usernames=("frontdesk", "manager", "tech1")):
        from django.conf import settings
        from django.test import Client

        from accounts.models import ApiToken, User

        self.clients, self.cookies, self.tokens = {}, {}, {}
        self.anonymous = Client()
        for user in User.objects.filter(username__in=usernames):
            client = Client()
            client.force_login(user)
            self.clients[user.username] = client
            cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
            self.cookies[user.username] = f"{settings.SESSION_COOKIE_NAME}={cookie}"
            ApiToken.objects.filter(user=user, name="bench").delete()
            self.tokens[user.username] = ApiToken.issue(user=user, name="bench")[1]

    def resolve(self, sc: Scenario) -> None:
        """Fills in a poll URL, read from the page that polls."""
        page_path = POLLS.get(sc.name)
        if page_path and not sc.path:
            page = self.clients[sc.user].get(page_path)
            sc.path = poll_path(page_path, page.content.decode()) if page.status_code == 200 else ""
            if not sc.path:
                sc.error = f"no polling element (data-poll or hx-trigger) on {page_path}"

    def request_headers(self, sc: Scenario) -> dict:
        headers = dict(sc.headers)
        if sc.api:
            headers["Authorization"] = f"Bearer {self.tokens[sc.user]}"
        return headers

    def get(self, sc: Scenario):
        if sc.api:
            # An API call carries the token alone, no session. One client for all of them: a
            # new Client builds a new handler, whose WhiteNoise scans the static files again.
            self.anonymous.cookies.clear()
            return self.anonymous.get(sc.path, headers=self.request_headers(sc))
        return self.clients[sc.user].get(sc.path, headers=self.request_headers(sc))

    def wire_headers(self, sc: Scenario) -> dict:
        """What wrk sends: the token, or the session cookie."""
        headers = self.request_headers(sc)
        return headers if sc.api else {**headers, "Cookie": self.cookies[sc.user]}


def long_history_ticket() -> int:
    """The ticket with the longest history (the oldest of those): a worst case that stays
    realistic (a repair that waited for parts, came back at pickup or under warranty)."""
    from django.db.models import Count

    from tickets.models import StatusChange

    longest = (
        StatusChange.objects.values("ticket")
        .annotate(n=Count("id"))
        .order_by("-n", "ticket")
        .values_list("ticket", flat=True)
        .first()
    )
    return longest or 1


def all_scenarios() -> list[Scenario]:
    return [FLOOR, *scenarios(common_surname(), long_history_ticket())]


def prepare() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.models import Customer
    from tickets.models import Ticket

    signed_in = SignedIn()
    result = {
        "tickets": Ticket.objects.count(),
        "open_tickets": Ticket.objects.filter(completed=False).count(),
        "customers": Customer.objects.count(),
        "database": database_version(connection),
        "scenarios": [],
    }
    for sc in all_scenarios():
        signed_in.resolve(sc)
        if sc.error:
            result["scenarios"].append(asdict(sc))
            continue
        signed_in.get(sc)  # warm: session refresh, caches, first-use imports
        with CaptureQueriesContext(connection) as captured:
            response = signed_in.get(sc)
        sc.queries = len(captured.captured_queries)
        sc.bytes = len(response.content)
        if response.status_code != sc.status:
            location = response.get("Location", "")
            sc.error = f"expected {sc.status}, got {response.status_code} {location}".strip()
        sc.headers = signed_in.wire_headers(sc)
        result["scenarios"].append(asdict(sc))
    return result


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    print(json.dumps(prepare()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
