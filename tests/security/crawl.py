"""Every route of the URL conf as a concrete URL, for the tests that must hold everywhere
(headers, CSRF, no 5xx with Redis down). A route this module cannot fill in fails the test
that asked for it, so a new route is never silently left out."""

import re
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str | None
    url: str


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


_ADMIN_OBJECT = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/")
_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def _admin_object_id(route: str) -> str:
    match = _ADMIN_OBJECT.match(route)
    model = apps.get_model(match["app"], match["model"])
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"crawl: no {model.__name__} row to fill {route}"
    return str(obj.pk)


def concrete_url(route: str, *, customer, ticket, user) -> str:
    if route.startswith("^api"):
        return "/api/no-such-endpoint"

    # The admin's app index is a regex route: any one of its apps will do.
    route = re.sub(r"\(\?P<app_label>[^)]*\)", "customers", route)
    # The admin's catch-all (final_catch_all_view): a URL it does not know.
    route = route.replace("(?P<url>.*)", "no-such-page/").replace("^", "").replace("$", "")

    def fill(match):
        name = match["name"]
        if name == "customer_id":
            return str(customer.pk)
        if name == "ticket_id":
            return str(ticket.pk)
        if name == "id":  # admin user password change
            return str(user.pk)
        if name == "content_type_id":
            return str(ContentType.objects.get_for_model(type(customer)).pk)
        if name == "object_id" and route.startswith("admin/r/"):
            return str(customer.pk)
        if name == "object_id":
            return _admin_object_id(route)
        raise AssertionError(f"crawl: do not know how to fill <{name}> in {route!r}")

    path = _PARAM.sub(fill, route)
    assert "<" not in path and "^" not in path, f"crawl: unfilled route {route!r}"
    return "/" + path


def all_routes(*, customer, ticket, user) -> list[Route]:
    seen = set()
    routes = []
    for pattern, name in _walk(get_resolver().url_patterns):
        url = concrete_url(pattern, customer=customer, ticket=ticket, user=user)
        if url in seen:
            continue
        seen.add(url)
        routes.append(Route(pattern, name, url))
    return routes
