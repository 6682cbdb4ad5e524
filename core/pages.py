"""Helpers shared by the HTML views: sign-in for htmx requests, fragments, form errors from
domain errors, list parameters and the activity timeline."""

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.context_processors import PermWrapper
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django_htmx.http import HttpResponseClientRedirect

from core import errors, rendered
from core.errors import DomainError
from core.models import ActivityLog

TIMELINE_LENGTH = 50


def page_login_required(view):
    """login_required that never swaps a login form into a table: an htmx request from a
    signed-out browser gets HX-Redirect to the login page (back to the page it was on)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            current = request.htmx.current_url or request.get_full_path()
            parts = urlsplit(current)
            next_url = parts.path + (f"?{parts.query}" if parts.query else "")
            login_url = resolve_url(settings.LOGIN_URL)
            return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': next_url})}")
        return redirect_to_login(request.get_full_path())

    return wrapper


def wants_fragment(request) -> bool:
    """An htmx request for part of a page. A history restore wants the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def vary_on_htmx(response):
    """The same URL answers a page or a fragment, so caches must key on HX-Request."""
    patch_vary_headers(response, ["HX-Request"])
    return response


def render_list(
    request, *, template: str, fragment: str, version: str, context, audience: rendered.Audience
):
    """A list page, or for an htmx request its results (the partial named `fragment`), each
    remembered per data version (core.rendered).

    The results are shared by every user of `audience` and rendered from it alone: the
    template sees `user` and `request` only as core.rendered's stand-ins, and no context
    processor runs. The page around them (name, navigation, filters) is remembered per user.
    `context` is a function returning the view's template context: it runs only when
    something has to be rendered."""
    built = {}

    def view_context():
        if not built:
            built.update(context(), **rendered.SLOT_CONTEXT)
        return built

    def shared_results(viewer, shared_request):
        stand_ins = {"user": viewer, "perms": PermWrapper(viewer), "request": shared_request}
        return render_to_string(f"{template}#{fragment}", {**view_context(), **stand_ins})

    results = rendered.remember_shared(
        request,
        name=f"{template}#{fragment}",
        version=version,
        audience=audience,
        render=shared_results,
    )
    if wants_fragment(request):
        body = results
    else:

        def page():
            # The results were rendered (and escaped) by the template engine just above.
            safe_results = mark_safe(results.decode())  # noqa: S308
            return render_to_string(template, {**view_context(), "results": safe_results}, request)

        body = rendered.remember_page(request, name=template, version=version, render=page)
    return vary_on_htmx(HttpResponse(rendered.fill_slots(request, body)))


def add_domain_error(form, error: DomainError, *, field_map: dict[str, str] | None = None):
    """Puts a service's DomainError on a bound form: each field in `details` on the form
    field of that name (snake_case, or mapped by field_map), the rest on the form."""
    field_map = field_map or {}
    details = error.details if isinstance(error.details, dict) else {}
    placed = False
    for key, messages in details.items():
        if not isinstance(messages, list | tuple):
            continue
        name = field_map.get(key, key)
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, str(message))
            placed = True
    if not placed:
        name = field_map.get(error.field, error.field) if error.field else None
        form.add_error(name if name in form.fields else None, error.message)


def form_after_refusal(form, error: DomainError, request):
    """Puts a refused write on the edit form and returns (form, conflict).

    A stale edit (CONFLICT) keeps what was typed and shows what is stored now: the new form
    carries the current updatedAt, so saving again is a deliberate overwrite. A permission
    error is not a form error: it goes on to the 403 page."""
    if error.status == 403:
        raise error
    if error.code != errors.CONFLICT:
        add_domain_error(form, error)
        return form, None
    current = error.details["current"]
    data = request.POST.copy()
    data["updated_at"] = current.updated_at.isoformat()
    fresh = type(form)(data)
    fresh.is_valid()
    fresh.add_error(None, error.message)
    return fresh, current


def list_params(request, *, drop=("v",)):
    """The request's query, without the poll version: the base of every link on a list."""
    params = request.GET.copy()
    for key in drop:
        params.pop(key, None)
    return params


def int_param(value, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A forgiving page number or size: a bad value in a bookmark shows the default."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    if number < minimum or (maximum is not None and number > maximum):
        return default
    return number


def activity_timeline(*, object_type: str, object_id: int, limit: int = TIMELINE_LENGTH):
    """The newest entries of the activity log about one object, with their actors (one
    query, on activity_object_idx)."""
    return list(
        ActivityLog.objects.filter(object_type=object_type, object_id=object_id)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )


def drop_body(response: HttpResponse) -> None:
    """A HEAD answer: the GET's headers, Content-Length included, and no body. Not every
    server drops it by itself (gunicorn does; a test's WSGI call does not)."""
    if response.streaming:  # pragma: no cover - nothing of ours streams
        return
    if not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    response.content = b""


def same_site_path(request, target: str | None) -> str:
    """`target` (a posted or ?next= value) when it is a path on this site, else "". A path
    only: redirect() would take anything else for a URL name and fail to reverse it."""
    target = target or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""
