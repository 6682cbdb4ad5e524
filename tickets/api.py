"""The tickets part of the JSON API (docs/api.md §5): thin operations that parse the request,
call tickets.queries / tickets.services and shape the answer. No rule lives here."""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import ConfigDict, Field, Strict, WithJsonSchema

from accounts import permissions
from core import rendered
from core.pagination import paginate
from core.schemas import (
    COMMON_ERRORS,
    NO_NUL_PATTERN,
    AliasReader,
    ApiIn,
    ApiOut,
    ApiQuery,
    JsonId,
    ListMetadata,
    Metadata,
    ObjectId,
    PaginationOut,
    QueryBool,
    Timestamp,
    body_rules,
    error_responses,
    iso_timestamp,
    metadata,
    optional_text,
    pagination,
    required_text,
    respond,
    respond_list,
    rule_errors,
)
from tickets import queries, services
from tickets.models import DeviceType, Priority, StatusGroup, Ticket

router = Router(by_alias=True)
statuses_router = Router(by_alias=True)

# Spelled from the models and queries.SORT_KEYS, so that the schema cannot drift from them.
PriorityName = Literal[tuple(priority.api_name for priority in Priority)]
DeviceTypeName = Literal[tuple(DeviceType.values)]
StatusGroupName = Literal[tuple(StatusGroup.values)]
StatusKey = Annotated[
    str,
    Field(
        max_length=100,
        pattern=NO_NUL_PATTERN,
        description="a status's key (GET /api/statuses); unknown or inactive: 400",
    ),
]


# ---- objects -------------------------------------------------------------------------------
class TicketCustomerOut(ApiOut):
    id: int
    first_name: str
    last_name: str
    email: str


class TicketOut(ApiOut):
    id: int
    customer_id: int
    title: str
    description: str
    tech: str | None = Field(description="email of the assigned technician")
    priority: PriorityName
    category: str
    estimated_hours: float | None
    completed: bool = Field(description="true exactly when statusGroup is ready or closed")
    status: str = Field(description="the status's key")
    status_group: StatusGroupName
    status_changed_at: Timestamp
    overdue: bool = Field(description="longer in its status than the status's time limit")
    notes: str
    device_type: DeviceTypeName
    device_brand: str
    device_model: str
    serial_number: str
    accessories: str
    condition: str
    created_at: Timestamp
    updated_at: Timestamp
    customer: TicketCustomerOut | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="only with includeCustomer=true",
    )

    @staticmethod
    def resolve_tech(ticket: Ticket) -> str | None:
        return ticket.tech.email if ticket.tech_id else None

    @staticmethod
    def resolve_priority(ticket: Ticket) -> str:
        return Priority(ticket.priority).api_name

    @staticmethod
    def resolve_status(ticket: Ticket) -> str:
        return ticket.status.key

    @staticmethod
    def resolve_status_group(ticket: Ticket) -> str:
        return ticket.status.group

    @staticmethod
    def resolve_overdue(ticket: Ticket) -> bool:
        return ticket.is_overdue()

    @staticmethod
    def resolve_customer(ticket: Ticket, context) -> Any:
        return ticket.customer if (context or {}).get("include_customer") else None


def ticket_out(ticket: Ticket, *, include_customer: bool = False) -> dict:
    """A ticket as the API shows it (also CONFLICT's details.current)."""
    return TicketOut.model_validate(
        AliasReader(ticket, TicketOut), context={"include_customer": include_customer}
    ).model_dump(mode="json", by_alias=True)


class TicketBody(ApiOut):
    ticket: TicketOut
    metadata: Metadata


class TicketFiltersOut(ApiOut):
    search: str | None = Field(None, exclude_if=lambda value: value is None)
    completed: bool | None = Field(None, exclude_if=lambda value: value is None)
    tech: str | None = Field(None, exclude_if=lambda value: value is None)
    customer_id: int | None = Field(None, exclude_if=lambda value: value is None)
    priority: PriorityName | None = Field(None, exclude_if=lambda value: value is None)
    status: str | None = Field(None, exclude_if=lambda value: value is None)
    status_group: str | None = Field(None, exclude_if=lambda value: value is None)
    overdue: bool | None = Field(None, exclude_if=lambda value: value is None)
    date_from: str | None = Field(None, exclude_if=lambda value: value is None)
    date_to: str | None = Field(None, exclude_if=lambda value: value is None)


class TicketListBody(ApiOut):
    tickets: list[TicketOut]
    pagination: PaginationOut
    filters: TicketFiltersOut
    metadata: ListMetadata


# ---- input ---------------------------------------------------------------------------------
TechEmail = Annotated[
    str | None,
    Field(
        max_length=254,
        description="an active technician's email; on create, absent or null = auto-assign",
    ),
]
Hours = Annotated[float | None, Field(ge=0, le=1000, multiple_of=0.01)]


# ---- the services' rules on a body the schema refused (core.schemas.body_rules) -----------
def _ticket_rules(*, creating: bool):
    may_write = permissions.can_create_tickets if creating else permissions.can_edit_tickets

    def check(data: dict[str, Any], request) -> dict[str, list[str]]:
        data = {k: v for k, v in data.items() if k != "updated_at"}
        # The technician lookup only for a caller who may write: the answer must not tell
        # anyone else who the technicians are (the services look it up after the same check).
        if request is None or not may_write(request.auth):
            data.pop("tech", None)
        return rule_errors(services.clean_ticket_data, data, creating=creating)

    return check


def _status_rules(data: dict[str, Any], request) -> dict[str, list[str]]:
    # A `completed` the schema refused is not checked again (and is left out of the answer).
    status = data.get("status")
    return rule_errors(
        services.clean_status_data,
        completed=data.get("completed", None if status is not None else False),
        status=status,
        notes=data.get("notes"),
        comment=data.get("comment"),
        notify_customer=data.get("notify_customer"),
    )


@body_rules(_ticket_rules(creating=True))
class TicketCreateIn(ApiIn):
    # Part 1's `completed` or §12's `status`, not both (the service says so too).
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["completed", "status"]}})

    customer_id: JsonId
    title: required_text(200)
    description: required_text(10000)
    tech: TechEmail = None
    priority: PriorityName = "medium"
    category: optional_text(100) = ""
    estimated_hours: Hours = None
    completed: bool = Field(False, description="true: start in the ready group's default")
    status: StatusKey = Field(
        None,
        description="any active status outside the closed group; absent: the new group's default",
    )
    notes: optional_text(10000) = ""
    device_type: DeviceTypeName = ""
    device_brand: optional_text(100) = ""
    device_model: optional_text(100) = ""
    serial_number: optional_text(100) = ""
    accessories: optional_text(500) = ""
    condition: optional_text(2000) = ""


@body_rules(_ticket_rules(creating=False))
class TicketUpdateIn(ApiIn):
    customer_id: JsonId = None
    title: required_text(200) = None
    description: required_text(10000) = None
    tech: TechEmail = Field(None, description="an active technician's email; null unassigns")
    priority: PriorityName = None
    category: optional_text(100) = None
    estimated_hours: Hours = None
    notes: optional_text(10000) = None
    device_type: DeviceTypeName = None
    device_brand: optional_text(100) = None
    device_model: optional_text(100) = None
    serial_number: optional_text(100) = None
    accessories: optional_text(500) = None
    condition: optional_text(2000) = None
    updated_at: Annotated[datetime, Strict(False)] = Field(
        None, description="the updatedAt you last read; 409 CONFLICT if the row changed since"
    )


@body_rules(_status_rules)
class TicketStatusIn(ApiIn):
    """Either part 1's `completed` (with `notes`) or a `status` (with `comment`); not both."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["completed"]}, {"required": ["status"]}]}
    )

    completed: bool = Field(
        None,
        description="part 1: true moves to the ready group's default, false to the"
        " in-progress group's; nothing changes when the ticket already is that",
    )
    status: StatusKey = Field(None, description="the status to move to")
    comment: optional_text(2000) = Field(None, description="goes to the history entry")
    notify_customer: bool = Field(None, description="default: the status's own setting")
    notes: optional_text(10000) = None
    updated_at: Annotated[datetime, Strict(False)] = Field(
        None, description="the updatedAt you last read; 409 CONFLICT if the row changed since"
    )


DateParam = Annotated[
    str | None,
    Field(None, max_length=40, pattern=NO_NUL_PATTERN),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
            "description": "YYYY-MM-DD or an ISO 8601 date and time",
        }
    ),
]


class TicketListQuery(ApiQuery):
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=100)
    search: str | None = Field(None, max_length=200, pattern=NO_NUL_PATTERN)
    completed: QueryBool = None
    tech: str | None = Field(None, max_length=254, pattern=NO_NUL_PATTERN)
    customer_id: int | None = Field(None, ge=1, le=2**63 - 1)
    priority: PriorityName | None = None
    status: str | None = Field(
        None, max_length=2000, pattern=NO_NUL_PATTERN, description="status keys, comma-separated"
    )
    status_group: str | None = Field(
        None, max_length=200, pattern=NO_NUL_PATTERN, description="groups, comma-separated"
    )
    overdue: QueryBool = None
    date_from: DateParam = None
    date_to: DateParam = None
    sort_by: Literal[tuple(queries.SORT_KEYS)] = "createdAt"
    sort_order: Literal["asc", "desc"] = "desc"
    include_customer: QueryBool = False


class TicketDetailQuery(ApiQuery):
    include_customer: QueryBool = False


TicketId = ObjectId


# ---- operations ----------------------------------------------------------------------------
@router.get(
    "",
    response={200: TicketListBody, **error_responses(*COMMON_ERRORS)},
    summary="List tickets",
    operation_id="listTickets",
)
def list_tickets(request: HttpRequest, params: Query[TicketListQuery]):
    """Search, filter, sort and page through the tickets the caller may see."""
    search = params.search.strip() if params.search and params.search.strip() else None
    tech = params.tech.strip() if params.tech and params.tech.strip() else None
    # A blank status filter is no filter (and not echoed), like an empty search.
    status = params.status if params.status and params.status.strip(" ,") else None
    status_group = (
        params.status_group if params.status_group and params.status_group.strip(" ,") else None
    )
    # An empty date is a bad date (400), unlike an empty search, which means "no search".
    date_from, date_to = params.date_from, params.date_to
    filters = queries.TicketFilters(
        search=search,
        completed=params.completed,
        tech_email=tech,
        customer_id=params.customer_id,
        priority=params.priority,
        statuses=status,
        groups=status_group,
        overdue=params.overdue,
        date_from=date_from,
        date_to=date_to,
        sort_by=queries.SORT_KEYS[params.sort_by],
        sort_order=params.sort_order,
    )
    version = rendered.data_version()
    given = {
        "search": search,
        "completed": params.completed,
        "tech": tech,
        "customerId": params.customer_id,
        "priority": params.priority,
        "status": status,
        "statusGroup": status_group,
        "overdue": params.overdue,
        "dateFrom": date_from,
        "dateTo": date_to,
    }
    include_customer = bool(params.include_customer)

    def build():
        tickets = queries.ticket_list(user=request.auth, filters=filters)
        page = paginate(tickets, page=params.page, page_size=params.page_size)
        return {
            "tickets": [ticket_out(t, include_customer=include_customer) for t in page.items],
            "pagination": pagination(page),
            "filters": {k: v for k, v in given.items() if v is not None},
        }

    return respond_list(request, version=version, build=build)


@router.post(
    "",
    response={201: TicketBody, **error_responses(*COMMON_ERRORS)},
    summary="Create a ticket",
    operation_id="createTicket",
)
def create_ticket(request: HttpRequest, payload: TicketCreateIn):
    """`tech` absent or null: the ticket is auto-assigned to the least-loaded technician."""
    # `tech` (an email, or null for auto-assign) and `priority` (its name) go to the service
    # as sent: it looks them up after its permission check.
    data = payload.model_dump(exclude_unset=True)
    ticket = services.ticket_create(actor=request.auth, data=data)
    return respond({"ticket": ticket_out(ticket), "metadata": metadata(request)}, status=201)


@router.get(
    "/{int:ticket_id}",
    response={200: TicketBody, **error_responses(*COMMON_ERRORS, 404)},
    summary="Get a ticket",
    operation_id="getTicket",
)
def get_ticket(request: HttpRequest, ticket_id: TicketId, params: Query[TicketDetailQuery]):
    ticket = queries.ticket_get(user=request.auth, ticket_id=ticket_id)
    return respond(
        {
            "ticket": ticket_out(ticket, include_customer=bool(params.include_customer)),
            "metadata": metadata(request),
        }
    )


@router.patch(
    "/{int:ticket_id}",
    response={200: TicketBody, **error_responses(*COMMON_ERRORS, 404, 409)},
    summary="Update a ticket",
    operation_id="updateTicket",
)
def update_ticket(request: HttpRequest, ticket_id: TicketId, payload: TicketUpdateIn):
    """Edit fields or reassign (`tech`; null unassigns)."""
    data = payload.model_dump(exclude_unset=True)
    expected = data.pop("updated_at", None)
    ticket = services.ticket_update(
        actor=request.auth, ticket_id=ticket_id, data=data, expected_updated_at=expected
    )
    return respond({"ticket": ticket_out(ticket), "metadata": metadata(request)})


@router.post(
    "/{int:ticket_id}/status",
    response={200: TicketBody, **error_responses(*COMMON_ERRORS, 404, 409)},
    summary="Change a ticket's status",
    operation_id="setTicketStatus",
)
def set_ticket_status(request: HttpRequest, ticket_id: TicketId, payload: TicketStatusIn):
    """Move to `status`, or part 1's complete / reopen with `completed`. A move outside the
    current status's `next` is 409 INVALID_TRANSITION with the allowed moves (managers may
    override); only managers and the front desk move into the closed group. `notes`, when
    given (even ""), replaces the ticket's notes."""
    ticket = services.ticket_set_status(
        actor=request.auth,
        ticket_id=ticket_id,
        completed=payload.completed,
        status=payload.status,
        notes=payload.notes,
        comment=payload.comment,
        notify_customer=payload.notify_customer,
        expected_updated_at=payload.updated_at,
    )
    return respond({"ticket": ticket_out(ticket), "metadata": metadata(request)})


# ---- history and statuses --------------------------------------------------------------------
class ActorOut(ApiOut):
    id: int
    name: str


class HistoryEntryOut(ApiOut):
    from_: str | None = Field(alias="from")
    to: str
    at: Timestamp
    by: ActorOut | None = Field(description="null: the customer")
    comment: str
    override: bool
    notified: bool


class HistoryBody(ApiOut):
    history: list[HistoryEntryOut]
    metadata: ListMetadata


def history_entry_out(entry: queries.HistoryEntry) -> dict:
    change = entry.change
    by = change.by
    return {
        "from": change.from_status.key if change.from_status_id else None,
        "to": change.to_status.key,
        "at": iso_timestamp(change.at),
        "by": None if by is None else {"id": by.pk, "name": by.get_full_name() or by.username},
        "comment": change.comment,
        "override": change.override,
        "notified": change.notified,
    }


@router.get(
    "/{int:ticket_id}/history",
    response={200: HistoryBody, **error_responses(*COMMON_ERRORS, 404)},
    summary="A ticket's status history",
    operation_id="getTicketHistory",
)
def get_ticket_history(request: HttpRequest, ticket_id: TicketId):
    """Every status change, oldest first; the creation is the first entry (`from` null)."""

    # Remembered per data version and caller like the lists: every move writes the ticket
    # (its updatedAt), and names and labels are in the version too. A refusal (403, 404) is
    # raised by the read and never remembered.
    def build():
        _, entries = queries.ticket_history(user=request.auth, ticket_id=ticket_id)
        return {"history": [history_entry_out(e) for e in entries]}

    return respond_list(request, version=rendered.data_version(), build=build)


class StatusOut(ApiOut):
    key: str
    label: str
    group: StatusGroupName
    position: int
    is_default: bool
    notify_customer: bool
    time_limit_hours: int | None
    active: bool
    next: list[str]


class StatusListBody(ApiOut):
    statuses: list[StatusOut]
    metadata: ListMetadata


@statuses_router.get(
    "",
    response={200: StatusListBody, **error_responses(*COMMON_ERRORS)},
    summary="List statuses",
    operation_id="listStatuses",
)
def list_statuses(request: HttpRequest):
    """Every status, active and inactive, by position, with the moves each allows."""

    def build():
        flow = queries.status_list(user=request.auth)
        return {
            "statuses": [
                {
                    "key": status.key,
                    "label": status.label,
                    "group": status.group,
                    "position": status.position,
                    "isDefault": status.pk in flow.default_ids,
                    "notifyCustomer": status.notify_customer,
                    "timeLimitHours": status.time_limit_hours,
                    "active": status.active,
                    "next": flow.next_keys(status),
                }
                for status in flow.statuses
            ]
        }

    # Remembered like the lists: status edits move the data version (tickets.Status).
    return respond_list(request, version=rendered.data_version(), build=build)
