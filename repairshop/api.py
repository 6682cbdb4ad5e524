"""The JSON API under /api/ (docs/api.md §1-§6): builds the NinjaAPI from the app routers, with
authentication, the per-request hook and the ONE exception handler that turns whatever went
wrong into the error envelope of docs/api.md §3."""

import logging
import time
from functools import wraps
from typing import Any

import sentry_sdk
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import InterfaceError, OperationalError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from accounts.auth import Anonymous, BearerTokenAuth, SessionCsrfAuth, authenticate_request
from core import errors
from core.errors import DomainError
from core.pages import drop_body
from core.schemas import camel, now_iso
from customers.api import customer_out
from customers.api import router as customers_router
from tickets.api import router as tickets_router
from tickets.api import statuses_router, ticket_out

logger = logging.getLogger("repairshop.api")

try:  # the pool's "no connection available" is psycopg's own OperationalError
    import psycopg

    _DATABASE_DOWN: tuple[type[Exception], ...] = (
        OperationalError,
        InterfaceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
except ImportError:  # pragma: no cover - SQLite-only installs
    _DATABASE_DOWN = (OperationalError, InterfaceError)


# ---- the per-request hook ---------------------------------------------------------------------
def check_request(request: HttpRequest, user) -> None:
    """Runs once for every API operation request, right after authentication was decided
    (`user` is None for an anonymous request or a bad token, which is refused with 401 just
    after). This is THE place for per-request checks that need to know the caller, such as
    the API rate limits of docs/api.md §8: raise django_ratelimit's `Ratelimited` (optionally
    with a `retry_after` attribute, in seconds) and the caller gets 429 RATE_LIMITED with
    Retry-After."""
    from ops import ratelimits  # the limits and their Redis-down policy live there

    ratelimits.api_request(request, user=user)
    if user is None and request.headers.get("Authorization", "").lower().startswith("bearer"):
        # Logger only: an activity row per bad token would let anyone write to the database.
        logging.getLogger("repairshop.security").warning(
            "auth:token_rejected ip=%s path=%s", ratelimits.client_ip(request), request.path
        )


def _check_request(request: HttpRequest, user) -> None:
    # Looked up at call time, so that the check can be replaced (or wrapped) in one place.
    check_request(request, user)


# ---- the error envelope ------------------------------------------------------------------------
def error_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """An error in the shape of docs/api.md §3. Never carries a traceback or SQL."""
    body: dict[str, Any] = {"message": message, "code": code, "statusCode": status}
    if field is not None:
        body["field"] = field
    if details is not None:
        body["details"] = details
    body.update(
        timestamp=now_iso(),
        requestId=getattr(request, "request_id", ""),
        path=request.path,
    )
    if retry_after is not None:
        body["retryAfter"] = retry_after
    response = JsonResponse(body, status=status, encoder=DjangoJSONEncoder)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def api_object(value: Any) -> Any:
    """A model instance inside error details (CONFLICT's `current`) as the API shows it."""
    from customers.models import Customer
    from tickets.models import Ticket

    if isinstance(value, Customer):
        return customer_out(value)
    if isinstance(value, Ticket):
        return ticket_out(value)
    if isinstance(value, Model):  # pragma: no cover - no service puts other models there
        return {"id": value.pk}
    return value


def _wire_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """Services key details by Python name (customer_id); the API speaks camelCase."""
    if details is None:
        return None
    return {camel(str(key)): api_object(value) for key, value in details.items()}


_MESSAGES_BY_TYPE = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field.",
    "bool_parsing": "Must be true or false.",
    "bool_type": "Must be true or false.",
    "int_parsing": "Must be a whole number.",
    "int_type": "Must be a whole number.",
    "int_from_float": "Must be a whole number.",
    "float_type": "Must be a number.",
    "float_parsing": "Must be a number.",
    "string_type": "Must be a string.",
    "string_pattern_mismatch": "Must not contain NUL characters.",
    "multiple_of": "Use at most 2 decimal places.",
    "model_type": "The request body must be a JSON object.",
    "model_attributes_type": "The request body must be a JSON object.",
    "datetime_type": "Use an ISO 8601 date and time.",
    "datetime_parsing": "Use an ISO 8601 date and time.",
    "datetime_from_date_parsing": "Use an ISO 8601 date and time.",
}


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"Ensure this value has at most {ctx.get('max_length')} characters."
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        return f"Must be {'at least' if kind == 'greater_than_equal' else 'at most'} {bound}."
    message = _MESSAGES_BY_TYPE.get(kind) or error.get("msg") or "Invalid value."
    return message.removeprefix("Value error, ")


def _validation_details(
    exc: NinjaValidationError | DjangoValidationError,
) -> dict[str, list[str]]:
    """ninja's pydantic errors, or a model's full_clean() errors ->
    {"firstName": ["This field is required."]}."""
    if isinstance(exc, DjangoValidationError):
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"body": exc.messages}
        return {camel(k): list(v) for k, v in messages.items()}
    details: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [part for part in error.get("loc", ()) if not isinstance(part, int)]
        source = loc[0] if loc else "body"
        rest = loc[1:]
        if source == "body":
            rest = rest[1:]  # drop the name of the view's body argument ("payload")
        name = str(rest[0]) if rest else source
        if name == "body" and error.get("type") == "missing":
            message = "A JSON object is required as the request body."
        else:
            message = _message(error)
        details.setdefault(name, []).append(message)
    return details


def handle_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The ONE exception handler of the API: every error leaves as the envelope."""
    if isinstance(exc, DomainError):
        # AccessDenied and NotFound are DomainErrors too.
        return error_response(
            request,
            status=exc.status,
            code=exc.code,
            message=exc.message,
            field=camel(exc.field) if exc.field else None,
            details=_wire_details(exc.details),
        )
    if isinstance(exc, NinjaValidationError | DjangoValidationError):
        domain = errors.validation_error(_validation_details(exc))
        return error_response(
            request,
            status=400,
            code=errors.VALIDATION_ERROR,
            message=domain.message,
            field=domain.field,
            details=domain.details,
        )
    if isinstance(exc, AuthenticationError):
        return error_response(
            request,
            status=401,
            code=errors.UNAUTHORIZED,
            message=exc.message or "Unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="repairshop"'},  # RFC 9110 §15.5.2
        )
    if isinstance(exc, HttpError):
        if exc.status_code == 400:  # ninja: the body is not JSON
            return error_response(
                request,
                status=400,
                code=errors.VALIDATION_ERROR,
                message="The request body is not valid JSON",
                field="body",
                details={"body": ["The request body is not valid JSON"]},
            )
        code = {401: errors.UNAUTHORIZED, 403: errors.FORBIDDEN, 404: errors.NOT_FOUND}.get(
            exc.status_code, errors.VALIDATION_ERROR
        )
        return error_response(request, status=exc.status_code, code=code, message=exc.message)
    if isinstance(exc, RequestDataTooBig):
        return error_response(
            request,
            status=400,
            code=errors.VALIDATION_ERROR,
            message="The request body is too large",
            field="body",
            details={"body": ["The request body is too large"]},
        )
    if isinstance(exc, Ratelimited):  # before PermissionDenied, which it subclasses
        retry_after = getattr(exc, "retry_after", None)
        return error_response(
            request,
            status=429,
            code=errors.RATE_LIMITED,
            message="Too many requests; try again later",
            retry_after=int(retry_after) if retry_after is not None else None,
        )
    if isinstance(exc, PermissionDenied):
        return error_response(
            request,
            status=403,
            code=errors.FORBIDDEN,
            message=str(exc) or "You do not have permission to do this",
        )
    if isinstance(exc, Http404):
        return error_response(request, status=404, code=errors.NOT_FOUND, message="Not found")
    if isinstance(exc, _DATABASE_DOWN):
        logger.error("database unavailable", exc_info=exc)
        sentry_sdk.capture_exception(exc)
        return error_response(
            request,
            status=503,
            code=errors.DATABASE_ERROR,
            message="The database is unavailable; nothing was saved. Try again shortly.",
        )
    # Anything else is a bug: log it with its traceback (Sentry gets it), answer without one.
    logger.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    sentry_sdk.capture_exception(exc)
    return error_response(
        request, status=500, code=errors.INTERNAL_ERROR, message="An unexpected error occurred"
    )


# ---- URL-level answers: unknown URL, wrong method, the docs -------------------------------------
def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Any /api/ URL that names no operation, authenticated or not (docs/api.md §1)."""
    response = error_response(
        request, status=404, code=errors.NOT_FOUND, message="No such API endpoint"
    )
    if request.method == "HEAD":
        drop_body(response)
    return response


api_not_found.csrf_exempt = True  # type: ignore[attr-defined]


def _api_view(view):
    """Wraps every API URL: starts the clock for `responseTime`, answers HEAD wherever GET
    works and puts ninja's plain-text 405 into the envelope (keeping its Allow header)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.api_started_at = time.perf_counter()
        head = request.method == "HEAD"
        if head:
            # Served as the GET it stands for (same checks, status and headers), then the
            # body is dropped. Load balancers probe with HEAD.
            request.method = "GET"
            try:
                response = view(request, *args, **kwargs)
            finally:
                request.method = "HEAD"
        else:
            response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = [method.strip() for method in response["Allow"].split(",")]
            if "GET" in allowed and "HEAD" not in allowed:
                allowed.insert(allowed.index("GET") + 1, "HEAD")
            response = error_response(
                request,
                status=405,
                code=errors.METHOD_NOT_ALLOWED,
                message=f"Method {request.method} is not allowed here",
                headers={"Allow": ", ".join(allowed)},
            )
        if head:
            drop_body(response)
        return response

    return wrapper


def _docs_guard(view):
    """The schema and the docs need a token or a session when DEBUG is off (docs/api.md §1)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.DEBUG:
            try:
                user = authenticate_request(request)
            except Exception as exc:  # a bad token, or the database down: still the envelope
                return handle_exception(request, exc)
            if user is None:
                return handle_exception(
                    request, AuthenticationError(message="Authentication required")
                )
        return view(request, *args, **kwargs)

    return wrapper


class RepairshopAPI(NinjaAPI):
    def set_default_exception_handlers(self) -> None:
        # One handler for everything (docs/api.md §3), instead of ninja's per-type defaults.
        self.add_exception_handler(Exception, handle_exception)

    def _get_urls(self):
        urls = super()._get_urls()
        for pattern in urls:
            if pattern.name == "api-root":
                pattern.callback = api_not_found
            else:
                pattern.callback = _api_view(pattern.callback)
        return urls


api = RepairshopAPI(
    title="Repairshop API",
    version=settings.API_VERSION,
    description="Customers and repair tickets (reference: docs/api.md in the repository).",
    urls_namespace="api",
    auth=[
        BearerTokenAuth(on_request=_check_request),
        SessionCsrfAuth(on_request=_check_request),
        Anonymous(on_request=_check_request),
    ],
    docs_decorator=_docs_guard,
)
api.add_router("/customers", customers_router, tags=["customers"])
api.add_router("/tickets", tickets_router, tags=["tickets"])
api.add_router("/statuses", statuses_router, tags=["statuses"])
