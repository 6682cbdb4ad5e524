"""The API's wire format: camelCase schemas, the metadata block, pagination and the error
envelope of docs/api.md §2-§3, shared by every app's router."""

import functools
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, JsonResponse
from ninja import Path, Schema
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

from core import rendered
from core.validation import PHONE_MESSAGE, PHONE_PATTERN, phone_is_valid

_SNAKE_PART = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """first_name -> firstName; names without an underscore inside are kept as they are
    ("ticketCount", "address1", "__all__")."""
    if name.startswith("_"):
        return name
    return _SNAKE_PART.sub(lambda m: m.group(1).upper(), name)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class ApiOut(Schema):
    """Response objects: Python attribute names inside, camelCase on the wire (routers
    serialize by alias)."""

    model_config = ConfigDict(alias_generator=camel, validate_by_name=True, validate_by_alias=True)


class AliasReader:
    """A model instance seen through a schema's camelCase aliases, for model_validate.

    Validating a model instance, pydantic asks for each field by its alias first
    ("customerId"); the instance has no such attribute, and ninja's getter then tries a
    Django template Variable lookup before the plain name: 0.2 ms per ticket, 5 ms of CPU for
    a page of 25 (the largest cost of GET /api/tickets, by cProfile). This answers the alias
    with the attribute straight away; every other name is the instance's own, so resolvers
    written for the instance work unchanged."""

    __slots__ = ("_names", "_obj")

    def __init__(self, obj: Any, schema: type[Schema]):
        self._obj = obj
        self._names = _alias_names(schema)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, self._names.get(name, name))


def _alias_names(schema: type[Schema]) -> dict[str, str]:
    names = schema.__dict__.get("_alias_names_cache")
    if names is None:
        names = {
            field.alias: name
            for name, field in schema.model_fields.items()
            if field.alias and field.alias != name
        }
        schema._alias_names_cache = names
    return names


class ApiIn(Schema):
    """Request bodies: camelCase names only, unknown fields refused (docs/api.md §1), and JSON
    types taken as they are ("5" is not a number, 1 is not true).

    Types, enums and raw lengths are checked here; the rules (trimming, required after
    trimming, NUL bytes, email, phone digits, country codes...) are the services' and come
    back as their VALIDATION_ERROR. The patterns below only describe those rules in the
    OpenAPI schema.

    Every bad field at once: when this validation fails, the body's rules (registered with
    @body_rules) run on the fields it did not reject, and their messages join the same
    400, so a client never fixes one layer's fields only to meet the next layer's."""

    model_config = ConfigDict(
        alias_generator=camel,
        validate_by_name=False,
        validate_by_alias=True,
        extra="forbid",
        strict=True,
        regex_engine="python-re",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _every_bad_field(cls, value: Any, handler, info: ValidationInfo):
        try:
            return handler(value)
        except ValidationError as exc:
            check = _BODY_RULES.get(cls)
            if check is None or not isinstance(value, dict):
                raise
            found = _rule_errors(cls, check, value, exc, info.context)
            if not found:
                raise
            raise _merged(cls, exc, found) from None


class ApiQuery(Schema):
    """Query strings: camelCase names, values parsed from text."""

    model_config = ConfigDict(
        alias_generator=camel,
        validate_by_name=True,
        validate_by_alias=True,
        regex_engine="python-re",
    )


# ---- the services' rules on a body the schema refused ----------------------------------------
# check(data, request) -> {snake_case field: [messages]}. `data` holds the body's fields the
# schema accepted, by Python name and as the schema parsed them; `request` is the request
# (None outside one), for rules that depend on the caller.
BodyCheck = Callable[[dict[str, Any], Any], dict[str, list[str]]]
_BODY_RULES: dict[type, BodyCheck] = {}


def body_rules(check: BodyCheck):
    """Class decorator on an ApiIn body: when the schema refuses the body, `check` runs the
    services' own rule functions on the fields the schema did not reject, and the 400 names
    those fields too (the rules stay in the services and core.validation; `check` only
    calls them, typically through rule_errors)."""

    def register(schema: type[ApiIn]) -> type[ApiIn]:
        _BODY_RULES[schema] = check
        return schema

    return register


def rule_errors(rule: Callable[..., Any], *args, **kwargs) -> dict[str, list[str]]:
    """Runs a service rule function; the per-field messages of the DomainError it raises,
    or {} when it passes."""
    from core.errors import DomainError

    try:
        rule(*args, **kwargs)
    except DomainError as error:
        if error.details:
            return {str(k): list(v) for k, v in error.details.items() if isinstance(v, list)}
        return {error.field or "body": [error.message]}
    return {}


@functools.cache
def _field_adapter(schema: type[ApiIn], name: str) -> TypeAdapter:
    field = schema.model_fields[name]
    annotation = (
        Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    )
    return TypeAdapter(
        annotation,
        config=ConfigDict(strict=True, regex_engine="python-re"),
    )


def _rule_errors(
    schema: type[ApiIn], check: BodyCheck, value: dict, exc: ValidationError, context
) -> dict[str, list[str]]:
    """The check's messages (by alias) for the fields the schema did not reject."""
    rejected = {error["loc"][0] for error in exc.errors() if error["loc"]}
    data: dict[str, Any] = {}
    for name, field in schema.model_fields.items():
        alias = field.alias or name
        if alias in value and alias not in rejected:
            try:
                data[name] = _field_adapter(schema, name).validate_python(value[alias])
            except ValidationError:  # pragma: no cover - the schema accepted it just now
                continue
    request = context.get("request") if isinstance(context, dict) else None
    found: dict[str, list[str]] = {}
    for key, messages in check(data, request).items():
        alias = camel(key)
        if alias not in rejected and messages:
            found.setdefault(alias, []).extend(messages)
    return found


_BUILT_IN_ERROR_TYPES = frozenset(get_args(ErrorType))


def _line_error(error: dict[str, Any]) -> dict[str, Any]:
    """An error of `exc.errors()` as `from_exception_data` takes it back. Only pydantic's own
    types can be named by their string; a custom one (a validator's PydanticCustomError, a
    nested body's rules) is rebuilt with its message, or rebuilding would raise KeyError."""
    line = {key: error[key] for key in ("type", "loc", "input", "ctx") if key in error}
    if error["type"] not in _BUILT_IN_ERROR_TYPES:
        line["type"] = PydanticCustomError(error["type"], "{message}", {"message": error["msg"]})
        line.pop("ctx", None)
    return line


def _merged(
    schema: type[ApiIn], exc: ValidationError, found: dict[str, list[str]]
) -> ValidationError:
    """One ValidationError with the schema's errors and the rules', in field order."""
    line_errors: list[dict[str, Any]] = [_line_error(error) for error in exc.errors()]
    for alias, messages in found.items():
        for message in messages:
            line_errors.append(
                {
                    "type": PydanticCustomError(BODY_RULE_ERROR, "{message}", {"message": message}),
                    "loc": (alias,),
                    "input": None,
                }
            )
    order = {field.alias or name: i for i, (name, field) in enumerate(schema.model_fields.items())}
    line_errors.sort(
        key=lambda error: order.get(error["loc"][0], len(order)) if error["loc"] else -1
    )
    return ValidationError.from_exception_data(exc.title, line_errors)


BODY_RULE_ERROR = "body_rule"


# A required string must hold something besides whitespace; no string may hold NUL, which
# PostgreSQL cannot store. (Python's \s is str.isspace(), i.e. what str.strip() removes.)
REQUIRED_TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"


def required_text(max_length: int):
    return Annotated[
        str, Field(max_length=max_length, json_schema_extra={"pattern": REQUIRED_TEXT_PATTERN})
    ]


def optional_text(max_length: int):
    return Annotated[
        str, Field(max_length=max_length, json_schema_extra={"pattern": NO_NUL_PATTERN})
    ]


def _phone_check(value: str) -> str:
    # On the raw value too: the service trims first, and a tab the schema forbids must not
    # become acceptable by being trimmed away.
    if not phone_is_valid(value):
        raise ValueError(PHONE_MESSAGE)
    return value


# The phone rule of core.validation, published as the schema's pattern and checked here.
Phone = Annotated[
    str,
    Field(max_length=32, json_schema_extra={"pattern": PHONE_PATTERN}),
    AfterValidator(_phone_check),
]


def _whole_float_to_int(value: Any) -> Any:
    # JSON Schema counts 5.0 as an integer; strict pydantic would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A database id in a JSON body. The constraints come before the validator so that they stay
# in the JSON schema as minimum/maximum.
JsonId = Annotated[int, Field(ge=1, le=2**63 - 1), BeforeValidator(_whole_float_to_int)]


def _query_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("Must be true or false.")
    return value


# `true` or `false` (any case) and nothing else: "1" or "yes" are refused, not guessed.
QueryBool = Annotated[
    bool | None,
    BeforeValidator(_query_bool),
    WithJsonSchema({"type": "boolean"}),
]


def iso_timestamp(value: datetime) -> str:
    # Full microseconds: a client sends updatedAt back for optimistic concurrency, so the
    # value must round-trip exactly (Django's JSON encoder would cut it to milliseconds).
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(iso_timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def respond(body: dict[str, Any], *, status: int = 200) -> JsonResponse:
    """A success body that the router's schemas describe, already in wire form."""
    return JsonResponse(body, status=status)


def respond_list(request, *, version: str, build) -> HttpResponse:
    """A list body whose data (everything but `metadata`) is remembered per data version and
    caller (core.rendered), keyed by the query. `build` returns that data as a dict, in wire
    form; it runs only when nothing is remembered. The metadata (timestamp, request id,
    response time) is the request's own."""
    # The JSON object without its closing brace: the metadata member goes after it.
    data = rendered.remember_data(
        request,
        version=version,
        user=request.auth,
        render=lambda: json.dumps(build(), cls=DjangoJSONEncoder)[:-1],
    )
    metadata = json.dumps(list_metadata(request), cls=DjangoJSONEncoder).encode()
    return HttpResponse(
        b"".join((data, b', "metadata": ', metadata, b"}")), content_type="application/json"
    )


# ---- success bodies (docs/api.md §2) ---------------------------------------------------------
class Metadata(ApiOut):
    timestamp: str
    version: str
    request_id: str


class ListMetadata(Metadata):
    response_time: float = Field(description="milliseconds spent on the server")


class PaginationOut(ApiOut):
    page: int
    page_size: int
    total: int
    total_pages: int
    has_next_page: bool
    has_prev_page: bool


def metadata(request) -> dict[str, Any]:
    """The metadata block of every success body."""
    return {
        "timestamp": now_iso(),
        "version": settings.API_VERSION,
        "requestId": getattr(request, "request_id", ""),
    }


def list_metadata(request) -> dict[str, Any]:
    """metadata plus responseTime: milliseconds since the API started on this request."""
    started = getattr(request, "api_started_at", None)
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    return {**metadata(request), "responseTime": round(elapsed, 2)}


def pagination(page) -> dict[str, Any]:
    """The pagination block from a core.pagination.Page."""
    return {
        "page": page.page,
        "pageSize": page.page_size,
        "total": page.total,
        "totalPages": page.total_pages,
        "hasNextPage": page.has_next_page,
        "hasPrevPage": page.has_prev_page,
    }


# ---- error bodies (docs/api.md §3) -------------------------------------------------------------
class ErrorOut(ApiOut):
    """The one error envelope. `field`, `details` and `retryAfter` appear when they apply."""

    message: str
    code: str
    status_code: int
    field: str | None = Field(None, description="the camelCase field the error is about")
    details: dict[str, Any] | None = Field(
        None, description="per-field messages, or extra data such as ticketCount or current"
    )
    timestamp: str
    request_id: str
    path: str
    retry_after: int | None = Field(None, description="seconds; only with 429")


def error_responses(*statuses: int) -> dict[int, type[Schema]]:
    """`response=` entries declaring the error envelope for each status an operation can
    answer with, so the OpenAPI schema lists them (docs/api.md §1)."""
    return dict.fromkeys(statuses, ErrorOut)


# Every authenticated operation can answer these.
COMMON_ERRORS = (400, 401, 403, 429, 500, 503)


# A path id: any positive number the database can hold. Another number is simply no such
# object (404), as an unknown URL is.
ObjectId = Annotated[
    int,
    Path(),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 2**63 - 1}),
]
