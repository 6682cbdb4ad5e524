"""Sentry: a failing view sends one event to a local HTTP sink standing in for Sentry, with
the request id and without the customer's data, the password or the query string."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import sentry_sdk
from django.test import Client

from accounts import roles
from ops.sentry import init_sentry
from tests.factories import make_user

SECRETS = {
    "first_name": "Zebulon",
    "email": "zebulon.q@private-mail.test",
    "phone": "+1 555 0199 777",
    "password": "hunter2-very-secret",
}
QUERY = "search=secretquery&page=2"


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append(body.decode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_sink():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    init_sentry(
        dsn=f"http://publickey@127.0.0.1:{server.server_port}/1",
        environment="test",
        release="repairshop@test",
    )
    yield server
    sentry_sdk.init()  # no DSN: off again for the other tests
    server.shutdown()


def events(envelopes):
    """The event items ({"type": "event"}) of the envelopes the sink received."""
    found = []
    for envelope in envelopes:
        lines = envelope.split("\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.mark.urls("tests.security.extra_urls")
@pytest.mark.django_db(transaction=True)
def test_failing_view_sends_one_scrubbed_event(sentry_sink, live_server):
    # Over real HTTP: the WSGI handler is where the SDK picks up the URL, query string,
    # headers and environment, so this is the event production would send.
    assert not sentry_sdk.get_client().should_send_default_pii()
    manager = make_user(username="mona", email="mona.manager@shop.test", roles=[roles.MANAGER])
    session = requests.Session()
    session.cookies.set("sessionid", session_cookie(manager))
    session.get(f"{live_server.url}/accounts/login/", timeout=10)  # the CSRF cookie
    csrf = session.cookies.get("csrftoken")
    response = session.post(
        f"{live_server.url}/test-only/boom/?{QUERY}",
        data={**SECRETS, "csrfmiddlewaretoken": csrf},
        headers={
            "X-Request-ID": "req-sentry-test-1",
            "Referer": f"{live_server.url}/customers/?{QUERY}",
            "Authorization": "Bearer rs_not-a-real-token-but-secret",
        },
        timeout=10,
    )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)

    sent = events(sentry_sink.envelopes)
    assert len(sent) == 1
    event = sent[0]
    raw = json.dumps(event)
    assert event["tags"]["request_id"] == "req-sentry-test-1"
    assert event["environment"] == "test"
    assert event["release"] == "repairshop@test"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["request"]["url"] == f"{live_server.url}/test-only/boom/"
    assert event["request"]["method"] == "POST"
    assert event.get("user", {}) in ({}, {"id": str(manager.pk)}, {"id": manager.pk})
    forbidden = [*SECRETS.values(), "secretquery", manager.email, "mona", "rs_not-a-real-token"]
    forbidden += [cookie.value for cookie in session.cookies]
    for secret in forbidden:
        assert secret not in raw, secret
    for key in ("data", "query_string", "cookies", "env"):
        assert key not in event["request"]
    assert "vars" not in raw
    assert "breadcrumbs" not in event
    assert "[email]" in event["exception"]["values"][-1]["value"]


@pytest.mark.urls("tests.security.extra_urls")
def test_unreachable_sentry_does_not_break_a_request(manager):
    # Nothing listens on the discard port: the event is dropped on the background thread.
    init_sentry(dsn="http://publickey@127.0.0.1:9/1", environment="test")
    try:
        client = Client(raise_request_exception=False)
        client.force_login(manager)
        response = client.post("/test-only/boom/", SECRETS)
        assert response.status_code == 500
        assert client.get("/accounts/password/").status_code == 200
    finally:
        sentry_sdk.init()
