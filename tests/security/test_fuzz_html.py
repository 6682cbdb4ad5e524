"""The HTML twin of the schemathesis run: crawl every page of the URL conf as each role, find
every <form> with its fields and every query parameter the page's filters and links use,
and send each hostile value in each of them (GET, and POST with the CSRF token), plus
hostile headers. No answer may be a 5xx, and nothing hostile may reach a stored row.

PostgreSQL refuses NUL in text and lone surrogates anywhere, so these bugs show there:
`DATABASE_URL=postgres://... uv run pytest tests/security/test_fuzz_html.py`. On SQLite the
run still checks the answers, the CSRF handling and that no stored text carries NUL.

The values travel as a browser or a scanner sends them: percent-encoded bytes in the query
string or an application/x-www-form-urlencoded body (so %ED%A0%80, a UTF-8-encoded lone
surrogate, and %FF, invalid UTF-8, are real bytes on the wire), and headers as the WSGI
server hands them over (latin-1 decoded bytes).
"""

import logging
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, quote_plus, urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from core.models import ActivityLog
from customers.models import Customer
from tests.security.crawl import all_routes
from tickets.models import Ticket

ROLES = ("manager", "frontdesk", "technician", "viewer", "anonymous")

# Percent-encoded, as they appear in a query string or a form body.
HOSTILE = {
    "nul": "%00",
    "nul-inside": "ab%00cd",
    "lone-surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF",
    "over-long": "A" * 10_000,
    "far-future": "9999-12-31",
    "far-past": "0001-01-01",
    "far-future-instant": quote("9999-12-31T23:59:59-14:00"),
    "far-past-instant": quote("0001-01-01T00:00:00+14:00"),
    "negative": "-1",
    "huge": "99999999999999999999",
    "past-bigint": "9223372036854775808",
    "control": quote("\x01\x08\x1b[31m\x7f"),
    "crlf": quote("x\r\nSet-Cookie: a=b"),
}


def values_for(name: str):
    """Every hostile value; the instants with an offset only where a date is read (the bare
    far dates go everywhere), to keep the run short."""
    for label, value in HOSTILE.items():
        if label.endswith("-instant") and "date" not in name.lower():
            continue
        yield label, value


# Header values as a WSGI server passes them on: bytes decoded as latin-1.
HOSTILE_HEADERS = {
    "nul": "ab\x00cd",
    "control": "\x01\x08\x1b[31m\x7f",
    "crlf": "x\r\nSet-Cookie: a=b",
    "lone-surrogate": "\xed\xa0\x80",  # U+D800 encoded as UTF-8
    "invalid-utf8": "\xff\xfe",
    "over-long": "A" * 10_000,
    "scoped-ipv6": "fe80::1%\x00evil",  # ipaddress accepts any zone id
}
HEADERS = ("X-Request-ID", "User-Agent", "HX-Current-URL", "Referer", "X-Forwarded-For")

# A valid value for a field left empty by the page, so that the hostile one reaches the
# service rather than stopping at "This field is required".
FILLERS = {
    "email": "fuzz@example.com",
    "phone": "+44 20 7946 0958",
    "country": "GB",
    "zip": "NW1 6XE",
    "password": "not-the-password",
    "username": "fuzz-user",
}


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, value) as sent
    names: dict[str, str] = field(default_factory=dict)  # name -> input type


@dataclass
class Hx:
    """An element that sends a request with htmx (a live filter, the customer picker)."""

    url: str
    target: str
    param: str | None


class PageParser(HTMLParser):
    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.hx: list[Hx] = []
        self._form: Form | None = None
        self._select: tuple[str, list[str]] | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if attrs.get("hx-get"):
            target = attrs.get("hx-target", "").lstrip("#")
            self.hx.append(Hx(urljoin(self.page, attrs["hx-get"]), target, attrs.get("name")))
        if tag == "a" and attrs.get("href"):
            self.links.append(urljoin(self.page, attrs["href"]))
        if tag == "form":
            action = urljoin(self.page, attrs.get("action") or self.page)
            self._form = Form(self.page, action, (attrs.get("method") or "get").lower())
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or not attrs.get("name"):
            return
        name = attrs["name"]
        if tag == "input":
            kind = attrs.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            form.names.setdefault(name, kind)
            if kind in ("checkbox", "radio"):
                if "checked" in attrs or (
                    kind == "radio" and not any(n == name for n, _ in form.fields)
                ):
                    form.fields = [(n, v) for n, v in form.fields if n != name]
                    form.fields.append((name, attrs.get("value", "on")))
                return
            form.fields.append((name, attrs.get("value", "")))
        elif tag == "select":
            form.names[name] = "select"
            self._select = (name, [])
            form.fields.append((name, ""))
        elif tag == "option" and self._select is not None:
            name, options = self._select
            value = attrs.get("value", "")
            options.append(value)
            current = dict(form.fields)[name]
            if "selected" in attrs or (not current and value):
                form.fields = [(n, v) for n, v in form.fields if n != name]
                form.fields.append((name, value))
        elif tag == "textarea":
            form.names[name] = "textarea"
            self._textarea = [name, ""]
        elif (
            tag == "button"
            and attrs.get("type", "submit").lower() == "submit"
            and name not in form.names
        ):
            # A named submit button (a status move's target) is what the form sends: the
            # first one stands for the click.
            form.names[name] = "button"
            form.fields.append((name, attrs.get("value", "")))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            name, text = self._textarea
            self._form.fields.append((name, text.strip("\n")))
            self._textarea = None


def route_of(url: str) -> str | None:
    """The URL conf's pattern for a same-site URL (so /customers/3/ and /customers/4/ are
    fuzzed once), None for another site."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "testserver"):
        return None
    try:
        return resolve(parts.path).route
    except Resolver404:
        return None


def filled(form: Form) -> list[tuple[str, str]]:
    """The form as the page renders it, with required-looking empty fields given a valid
    value (only the field under test is hostile)."""
    values = []
    for name, value in form.fields:
        if not value and form.names.get(name) not in ("hidden", "checkbox", "radio", "select"):
            short = name.rsplit("-", 1)[-1].removeprefix("new_")
            value = FILLERS.get(short, FILLERS.get(form.names.get(name, ""), ""))
            if not value and name not in ("search", "customer_search", "next"):
                value = "fuzz"
        values.append((name, value))
    return values


def encode(pairs: list[tuple[str, str]], hostile: str | None = None, target: str = "") -> str:
    """An urlencoded body/query; `target`'s value is the raw (already encoded) hostile one."""
    parts = []
    seen_target = False
    for name, value in pairs:
        if name == target and hostile is not None:
            if seen_target:
                continue
            seen_target = True
            parts.append(f"{quote_plus(name)}={hostile}")
        else:
            parts.append(f"{quote_plus(name)}={quote_plus(value)}")
    if hostile is not None and not seen_target:
        parts.append(f"{quote_plus(target)}={hostile}")
    return "&".join(parts)


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


class Fuzzer:
    def __init__(self, site_data):
        self.site_data = site_data
        self.requests = 0
        self.failures: list[str] = []
        self.forms: dict[tuple[str, str], Form] = {}  # (route, method) -> first seen
        self.form_roles: dict[tuple[str, str], set[str]] = {}
        self.params: dict[str, set[str]] = {}  # route -> query parameters seen
        self.param_urls: dict[tuple[str, str], str] = {}  # (route, param) -> a base URL
        self.hx_targets: dict[str, set[str]] = {}  # route -> hx targets
        # A refused CSRF token would pass as "no 5xx" and test nothing.
        self.csrf_refusals = Recorder()
        logging.getLogger("django.security.csrf").addHandler(self.csrf_refusals)

    def close(self):
        logging.getLogger("django.security.csrf").removeHandler(self.csrf_refusals)

    def client(self, role: str) -> Client:
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        if role != "anonymous":
            user = self.site_data[role]
            client.force_login(user)
        return client

    def send(self, client, method, url, *, body=None, headers=None, what=""):
        self.requests += 1
        kwargs = {"headers": headers or {}}
        if method == "post":
            response = client.post(
                url, data=body or "", content_type="application/x-www-form-urlencoded", **kwargs
            )
        else:
            response = client.get(url, **kwargs)
        if response.status_code >= 500:
            exc = response.exc_info[1] if getattr(response, "exc_info", None) else None
            self.failures.append(
                f"{response.status_code} {method.upper()} {url[:200]} {what}: {exc!r:.300}"
            )
        if self.csrf_refusals.records:
            self.csrf_refusals.records.clear()
            self.failures.append(f"CSRF refused {method.upper()} {url[:200]} {what}")
        return response

    # --- discovery ------------------------------------------------------------------------
    def discover(self, role: str, client: Client, urls: list[str]) -> dict[str, Form]:
        """GETs every URL (following one redirect), records its forms, links and htmx
        requests; returns this role's forms by (route, method)."""
        mine = {}
        queue = list(urls)
        visited = set()
        while queue:
            url = queue.pop(0)
            shape = (route_of(url), urlsplit(url).path if "<" not in str(route_of(url)) else "")
            shape += tuple(sorted(n for n, _ in parse_qsl(urlsplit(url).query)))
            if shape in visited:
                continue
            visited.add(shape)
            response = self.send(client, "get", url, what=f"crawl as {role}")
            if response.status_code in (301, 302) and route_of(response["Location"]):
                url = urljoin(url, response["Location"])
                response = self.send(client, "get", url, what=f"crawl as {role}")
            if "text/html" not in response.get("Content-Type", ""):
                continue
            parser = PageParser(url)
            parser.feed(response.content.decode(errors="replace"))
            for form in parser.forms:
                route = route_of(form.action)
                if route is None or route.startswith("admin/"):
                    continue
                key = (route, form.method)
                # The fullest version of a form wins (check-in with a customer picked).
                if len(form.names) > len(mine.get(key, Form("", "", "")).names):
                    mine[key] = form
                if len(form.names) > len(self.forms.get(key, Form("", "", "")).names):
                    self.forms[key] = form
                self.form_roles.setdefault(key, set()).add(role)
                if form.method == "get":
                    for name, _ in form.fields:
                        self._param(route, name, form.action)
            for link in parser.links:
                route = route_of(link)
                if route is None:
                    continue
                for name, _ in parse_qsl(urlsplit(link).query, keep_blank_values=True):
                    self._param(route, name, link)
                if not route.startswith("admin/"):
                    queue.append(link)  # a link to a page of its own (check-in for a customer)
            for hx in parser.hx:
                route = route_of(hx.url)
                if route is None:
                    continue
                if hx.target:
                    self.hx_targets.setdefault(route, set()).add(hx.target)
                if hx.param:
                    self._param(route, hx.param, hx.url)
                for name, _ in parse_qsl(urlsplit(hx.url).query, keep_blank_values=True):
                    self._param(route, name, hx.url)
        return mine

    def _param(self, route: str, name: str, url: str):
        self.params.setdefault(route, set()).add(name)
        self.param_urls.setdefault((route, name), url)

    # --- attacks --------------------------------------------------------------------------
    def fuzz_params(self, role: str, client: Client, only: str | None = None):
        """Each query parameter of each page, each hostile value, as a page and as htmx."""
        for (route, name), url in sorted(self.param_urls.items()):
            if only is not None and not route.startswith(only):
                continue
            parts = urlsplit(url)
            base = [(n, v) for n, v in parse_qsl(parts.query, keep_blank_values=True)]
            targets = sorted(self.hx_targets.get(route, ())) or [""]
            for label, hostile in values_for(name):
                query = encode(base, hostile, name)
                headers = {}
                if label in ("nul", "far-future", "huge"):  # the htmx fragments as well
                    headers = {"HX-Request": "true", "HX-Target": targets[0]}
                self.send(
                    client,
                    "get",
                    f"{parts.path}?{query}",
                    headers=headers,
                    what=f"as {role}: {name}={label}",
                )

    def fuzz_form(self, role: str, client: Client, key, form: Form):
        """Each field of a POST form, each hostile value, with a fresh CSRF token."""
        token = self._csrf(client, form)
        pairs = [(n, token if n == "csrfmiddlewaretoken" else v) for n, v in filled(form)]
        for name in dict(pairs):
            if name == "csrfmiddlewaretoken":
                continue
            for label, hostile in values_for(name):
                body = encode(pairs, hostile, name)
                self.send(
                    client,
                    "post",
                    urlsplit(form.action).path,
                    body=body,
                    what=f"as {role}: {key[0]} {name}={label}",
                )

    def forged_posts(self, role: str, client: Client, forms: dict):
        """Every POST form another role sees, sent by this role with every field hostile at
        once: the refused writes (they go to the activity log) and the sign-in."""
        token = self._csrf(client, None)
        for key, form in sorted(forms.items()):
            if form.method != "post" or key[0].endswith("logout/"):
                continue
            names = [n for n, _ in form.fields if n != "csrfmiddlewaretoken"]
            for label in ("nul", "lone-surrogate", "over-long", "huge", "control"):
                hostile = HOSTILE[label]
                body = "&".join(
                    [f"csrfmiddlewaretoken={token}"] + [f"{quote_plus(n)}={hostile}" for n in names]
                )
                self.send(
                    client,
                    "post",
                    urlsplit(form.action).path,
                    body=body,
                    what=f"forged as {role}: {key[0]} all={label}",
                )

    def fuzz_headers(self, role: str, client: Client, urls: list[str], forms: dict):
        """Every page with every hostile header value in all the headers at once (as htmx,
        so HX-Current-URL is read); then each header alone on a failing sign-in and on a
        refused write, the two requests that write a security entry."""
        for url in urls:
            for label, value in HOSTILE_HEADERS.items():
                headers = {name: value for name in HEADERS} | {"HX-Request": "true"}
                self.send(client, "get", url, headers=headers, what=f"as {role}: headers={label}")
        token = self._csrf(client, None)
        posts = [
            f
            for k, f in sorted(forms.items())
            if f.method == "post" and not k[0].endswith("logout/")
        ]
        for form in posts[:2]:
            pairs = [(n, token if n == "csrfmiddlewaretoken" else v) for n, v in filled(form)]
            for header in HEADERS:
                for label, value in HOSTILE_HEADERS.items():
                    self.send(
                        client,
                        "post",
                        urlsplit(form.action).path,
                        body=encode(pairs),
                        headers={header: value},
                        what=f"as {role}: {form.action} {header}={label}",
                    )

    def _csrf(self, client: Client, form: Form | None) -> str:
        if form is not None:
            value = dict(form.fields).get("csrfmiddlewaretoken")
            if value and client.cookies.get("csrftoken"):
                return value
        # A page with a form sets the cookie; its token is good for the session.
        response = client.get("/accounts/login/" if form is None else form.page)
        self.requests += 1
        parser = PageParser(form.page if form else "/accounts/login/")
        parser.feed(response.content.decode(errors="replace"))
        for found in parser.forms:
            value = dict(found.fields).get("csrfmiddlewaretoken")
            if value:
                return value
        return client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""


# What the crawl must find, so that it cannot silently find nothing.
EXPECTED_FORMS = {
    ("accounts/login/", "post"): {"username", "password"},
    ("accounts/password/", "post"): {"old_password", "new_password1", "new_password2"},
    ("tickets/new/", "post"): {"title", "description", "customer_id", "customer-email"},
    ("tickets/", "get"): {
        "search",
        "dateFrom",
        "dateTo",
        "priority",
        "completed",
        "status",
        "statusGroup",
        "overdue",
    },
    ("tickets/<int:ticket_id>/", "post"): {"title", "description", "updated_at"},
    ("tickets/<int:ticket_id>/status/", "post"): {"status", "comment"},
    ("customers/", "get"): {"search", "active"},
    ("customers/new/", "post"): {"first_name", "email", "phone", "country"},
    ("customers/<int:customer_id>/edit/", "post"): {"first_name", "email", "updated_at"},
}
EXPECTED_PARAMS = {
    "tickets/": {"page", "sortBy", "sortOrder", "dateTo", "customerId"},
    "customers/": {"page", "sortBy", "sortOrder", "search"},
    "tickets/new/": {"customer_search"},
}


@pytest.fixture
def crowded_site(site_data, frontdesk, viewer):
    """site_data with enough rows for a second page of each list (the pagination links)."""
    from tests.factories import make_customer, make_ticket

    customer = site_data["customer"]
    for _ in range(26):
        make_customer()
        make_ticket(customer=customer, tech=site_data["user"])
    return site_data | {"frontdesk": frontdesk, "viewer": viewer, "technician": site_data["user"]}


def test_no_hostile_input_gets_a_5xx(crowded_site, settings):
    # The login limits would answer 429 after a few tries and hide the form behind them
    # (tests/security/test_login_limits.py covers them); the proxy header is trusted so
    # X-Forwarded-For is read; UTC+14 puts 0001-01-01 before year 1 in UTC (Etc/GMT-14, a
    # fixed offset: Pacific/Kiritimati in year 1 is on its local mean time, west of UTC).
    settings.RATELIMIT_ENABLE = False
    settings.TRUST_X_FORWARDED_FOR = True
    settings.TIME_ZONE = "Etc/GMT-14"
    settings.RENDERED_VERIFY = False  # a cache check, not ours here: it renders twice
    quiet = [
        logging.getLogger(name)
        for name in ("django.request", "django.security", "repairshop.security")
    ]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    started = time.monotonic()
    fuzzer = Fuzzer(crowded_site)
    site = crowded_site
    urls = [
        route.url
        for route in all_routes(customer=site["customer"], ticket=site["ticket"], user=site["user"])
        if not route.url.startswith(("/static/", "/api/"))
    ]
    by_role = {}
    clients = {role: fuzzer.client(role) for role in ROLES}
    for role in ROLES:
        by_role[role] = fuzzer.discover(role, clients[role], urls)

    found = {key: set(form.names) for key, form in fuzzer.forms.items()}
    for key, names in EXPECTED_FORMS.items():
        assert key in found, f"crawl found no form {key}; found {sorted(found)}"
        assert names <= found[key], (key, names - found[key])
    for route, names in EXPECTED_PARAMS.items():
        assert names <= fuzzer.params.get(route, set()), (route, names, fuzzer.params.get(route))
    assert len(fuzzer.forms) >= 10, sorted(fuzzer.forms)

    fuzzed = set()
    for role in ROLES:
        client = clients[role]
        if role in ("manager", "technician"):  # everyone's tickets, and only one's own
            fuzzer.fuzz_params(role, client, only=None if role == "manager" else "tickets/")
        for key, form in sorted(by_role[role].items()):
            # Each form's fields once, by the first role that is shown it (the most
            # privileged: the hostile value gets furthest); logout would end the crawl.
            if form.method != "post" or key in fuzzed or key[0].endswith("logout/"):
                continue
            fuzzed.add(key)
            fuzzer.fuzz_form(role, client, key, form)
        fuzzer.forged_posts(role, client, fuzzer.forms)
        pages = [url for url in urls if not url.startswith("/admin/")]
        fuzzer.fuzz_headers(
            role, client, pages, by_role[role] if role in ("anonymous", "viewer") else {}
        )

    fuzzer.close()
    for logger, level in zip(quiet, levels, strict=True):
        logger.setLevel(level)
    elapsed = time.monotonic() - started
    print(f"\nfuzz_html: {fuzzer.requests} requests in {elapsed:.1f}s, {len(fuzzer.forms)} forms")
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:40]) + f"\n({len(fuzzer.failures)})"
    assert fuzzer.requests > 2000  # the crawl really attacked

    # Nothing hostile reached a stored row (SQLite stores NUL; PostgreSQL would have 500ed).
    for model, columns in (
        (Customer, ("first_name", "last_name", "email", "notes", "address1")),
        (Ticket, ("title", "description", "notes", "serial_number")),
    ):
        # Read back and checked here: SQLite's LIKE stops at a NUL and would match every row.
        for row in model.objects.values_list(*columns):
            assert not any("\x00" in value for value in row), row
    for entry in ActivityLog.objects.all():
        assert "\x00" not in str(entry.metadata), entry.metadata
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in str(entry.metadata)), entry.metadata
    # The failed sign-ins were all recorded, the bad usernames escaped.
    failed = ActivityLog.objects.filter(action="auth:login_failed")
    assert any("\\x00" in entry.metadata.get("username", "") for entry in failed)
