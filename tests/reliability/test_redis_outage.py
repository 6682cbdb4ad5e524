"""Scenario 3: Redis (cache, session cache, rate-limit counters) goes down (issue 7).

gunicorn runs with REDIS_URL pointing at a Redis owned by the test and with the rate limits
ON (they are what uses Redis on every request). A crawl of every page (signed in as each
role and anonymously, GET and form POSTs, htmx partials) and of every API operation is made
with Redis up, again with Redis stopped, and again after it is back: no answer is a 5xx.
"""

import re
import time

import pytest
import redis
import requests

from tests import factories
from tests.reliability import workload

PAGE_ROLES = ["manager", "frontdesk", "tech1", "viewer"]


class Browser:
    """A signed-in page client: session cookie plus CSRF token, like a browser."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.results: list[tuple[str, str, int]] = []

    def _csrf(self) -> str:
        return self.session.cookies.get("csrftoken", "")

    def get(self, path, **kw):
        response = self.session.get(self.base_url + path, timeout=30, allow_redirects=False, **kw)
        self.results.append(("GET", path, response.status_code))
        return response

    def post(self, path, data=None, **kw):
        headers = {"X-CSRFToken": self._csrf(), **kw.pop("headers", {})}
        data = {"csrfmiddlewaretoken": self._csrf(), **(data or {})}
        response = self.session.post(
            self.base_url + path,
            data=data,
            headers=headers,
            timeout=30,
            allow_redirects=False,
            **kw,
        )
        self.results.append(("POST", path, response.status_code))
        return response

    def login(self, username: str):
        page = self.get("/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        token = match.group(1) if match else self._csrf()
        response = self.session.post(
            self.base_url + "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": username,
                "password": factories.PASSWORD,
            },
            timeout=30,
            allow_redirects=False,
        )
        self.results.append(("POST", "/accounts/login/", response.status_code))
        return response


def crawl_pages(stack, customer_id: int, ticket_id: int) -> list[tuple[str, str, int]]:
    results = []
    anonymous = Browser(stack.base_url)
    for path in ("/", "/accounts/login/", "/customers/", "/tickets/", "/healthz", "/admin/"):
        anonymous.get(path)
    anonymous.login("viewer-does-not-exist")  # a failed login: rate limit + security log
    results += anonymous.results

    for username in PAGE_ROLES:
        browser = Browser(stack.base_url)
        login = browser.login(username)
        # Signing in works whatever Redis does (the session is written through to the
        # database).
        assert login.status_code == 302, (username, login.status_code, login.text[:300])
        for path in (
            "/",
            "/customers/",
            "/customers/?search=ada&sortBy=email",
            "/customers/new/",
            f"/customers/{customer_id}/",
            f"/customers/{customer_id}/edit/",
            "/tickets/",
            "/tickets/?search=ThinkPad&completed=false",
            "/tickets/new/",
            f"/tickets/{ticket_id}/",
            "/tickets/queue/",
            "/admin/",
            "/admin/tickets/ticket/",
            "/admin/repairshop/activitylog/",
            "/accounts/password/",
            "/api/docs",
            "/api/openapi.json",
        ):
            browser.get(path)
        browser.get("/tickets/", headers={"HX-Request": "true"})  # the polling partial
        body = workload.customer_body()
        browser.post(
            "/customers/new/",
            {
                "first_name": body["firstName"],
                "last_name": body["lastName"],
                "email": body["email"],
                "phone": body["phone"],
                "address1": body["address1"],
                "city": body["city"],
                "state": body["state"],
                "zip": body["zip"],
                "country": body["country"],
            },
        )
        browser.post(
            "/tickets/new/",
            {"customer": customer_id, "title": "Redis-down page create", "description": "x"},
        )
        browser.post(f"/tickets/{ticket_id}/status/", {"completed": "true"})
        browser.post("/accounts/logout/")
        results += browser.results
    return results


def crawl_api(stack, customer_id: int, ticket_id: int) -> list[tuple[str, str, int]]:
    results = []
    anonymous = requests.get(stack.base_url + "/api/tickets", timeout=30)
    results.append(("GET", "/api/tickets (anonymous)", anonymous.status_code))
    for role in ("manager", "frontdesk", "technician", "viewer"):
        client = stack.client(role)
        calls = [
            client.get("/api/customers", params={"search": "ada"}),
            client.get(f"/api/customers/{customer_id}"),
            client.post("/api/customers", workload.customer_body()),
            client.patch(f"/api/customers/{customer_id}", {"notes": f"crawl {role}"}),
            client.get("/api/tickets", params={"search": "ThinkPad", "includeCustomer": "true"}),
            client.get(f"/api/tickets/{ticket_id}"),
            client.post("/api/tickets", workload.ticket_body(customer_id)),
            client.patch(f"/api/tickets/{ticket_id}", {"notes": f"crawl {role}"}),
            client.post(f"/api/tickets/{ticket_id}/status", {"completed": False}),
            client.get("/api/openapi.json"),
            client.get("/api/no-such-thing"),
        ]
        spare = client.post("/api/customers", workload.customer_body())
        if spare.status == 201:
            calls.append(client.call("DELETE", f"/api/customers/{spare.body['customer']['id']}"))
        calls.append(spare)
        results += [(r.method, f"{r.path} ({role})", r.status) for r in calls]
    return results


@pytest.mark.timeout(300)
def test_redis_down_gives_no_server_errors(make_stack, report):
    # Limits on (they hit Redis on every request), the login one raised so that the crawl's
    # 15 sign-ins a minute from one address are not refused.
    stack = make_stack(
        redis=True, extra_env={"RATELIMIT_ENABLE": "true", "RATE_LIMIT_LOGIN_IP": "1000/m"}
    )
    customer_id = stack.seed.customer_ids[0]
    created = stack.client("frontdesk").post("/api/tickets", workload.ticket_body(customer_id))
    assert created.status == 201, created.text
    ticket_id = created.body["ticket"]["id"]

    phases = {}
    for phase in ("redis up", "redis down", "redis back"):
        if phase == "redis down":
            stack.redis.stop()
        elif phase == "redis back":
            stack.redis.start()
            time.sleep(1)
        started = time.monotonic()
        results = crawl_pages(stack, customer_id, ticket_id) + crawl_api(
            stack, customer_id, ticket_id
        )
        if phase == "redis up":
            # The crawl really went through Redis (rate-limit counters, cached sessions).
            assert redis.Redis(port=stack.redis.port).dbsize() > 0
        server_errors = [r for r in results if r[2] >= 500]
        assert not server_errors, f"{phase}: {server_errors}"
        statuses = {}
        for _, _, status in results:
            statuses[status] = statuses.get(status, 0) + 1
        phases[phase] = {
            "requests": len(results),
            "statuses": dict(sorted(statuses.items())),
            "seconds": round(time.monotonic() - started, 1),
        }
    report(phases=phases)
