"""Helpers the tests share: the JSON API client, request bodies, envelope checks and the
browser viewports. Imported from here, never from another test module or conftest."""

import json

from django.db import connection
from django.test import Client

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
    """The response is the contract's error envelope with this status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert body["statusCode"] == status
    assert body["requestId"] == response["X-Request-ID"]
    assert body["path"] == response.wsgi_request.path
    assert body["timestamp"]
    assert body["message"]
    return body
