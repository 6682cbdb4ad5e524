"""Helpers the tests share: the JSON API client, request bodies, envelope checks, the
browser viewports, and for the pages: htmx headers, the page's text and poll version, the
templates rendered and the kinds of queries run. Imported from here, never from another
test module or conftest."""

import json
import re
from contextlib import contextmanager

from django.db import connection
from django.test import Client
from django.test.signals import template_rendered

# Browser viewports of the screenshots and page tests.
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 800, "height": 1280}


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


class ApiClient:
    """django.test.Client with JSON bodies and, when given, a bearer token."""

    def __init__(self, token: str | None = None, client: Client | None = None):
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method, path, body=None, *, raw=None, headers=None, **query):
        all_headers = {**self.headers, **(headers or {})}
        kwargs = {"headers": all_headers}
        if raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        elif query:
            kwargs["data"] = query
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path, **query):
        return self._call("get", path, **query)

    def post(self, path, body=None, **kw):
        return self._call("post", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self._call("patch", path, body, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)

    def put(self, path, body=None, **kw):
        return self._call("put", path, body, **kw)


def customer_body(**overrides):
    body = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0958",
        "address1": "12 Analytical Way",
        "city": "London",
        "state": "Greater London",
        "zip": "NW1 6XE",
        "country": "gb",
    }
    body.update(overrides)
    return body


def assert_error(response, status: int, code: str):
    """The response is the error envelope of docs/api.md §3 with this status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert body["statusCode"] == status
    assert body["requestId"] == response["X-Request-ID"]
    assert body["path"] == response.wsgi_request.path
    assert body["timestamp"]
    assert body["message"]
    return body


# The header of an htmx request, for django.test.Client.
HTMX = {"HTTP_HX_REQUEST": "true"}


def page_text(response) -> str:
    """The response body as text."""
    return response.content.decode()


def poll_version(body: str) -> str:
    """The data version a list page polls with (its `v` parameter)."""
    return re.search(r'hx-get="\?(?:[^"]*&amp;)?v=([0-9a-zA-Z]+)"', body).group(1)


@contextmanager
def rendered_templates():
    """Names of the templates rendered inside the block (Django's test instrumentation)."""
    rendered = []

    def on_render(sender, template, context, **kwargs):
        rendered.append(template.name)

    template_rendered.connect(on_render)
    try:
        yield rendered
    finally:
        template_rendered.disconnect(on_render)


def query_kind(sql: str) -> str:
    """What a captured query reads, in a word, for the queries a request may cost."""
    if '"django_session"' in sql:
        return "session"
    if "accounts_user_user_permissions" in sql:
        return "user permissions"
    if "auth_group_permissions" in sql:
        return "group permissions"
    if '"data_version"' in sql:  # core.rendered.data_version's one query
        return "version"
    if 'FROM "accounts_user"' in sql:
        return "user"
    return sql
