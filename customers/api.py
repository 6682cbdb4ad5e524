"""The customers part of the JSON API (docs/api.md §4): thin operations that parse the request,
call customers.queries / customers.services and shape the answer. No rule lives here."""

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field, Strict

from core import rendered
from core.pagination import paginate
from core.schemas import (
    COMMON_ERRORS,
    AliasReader,
    ApiIn,
    ApiOut,
    ApiQuery,
    ListMetadata,
    Metadata,
    ObjectId,
    PaginationOut,
    Phone,
    QueryBool,
    Timestamp,
    body_rules,
    error_responses,
    metadata,
    optional_text,
    pagination,
    required_text,
    respond,
    respond_list,
    rule_errors,
)
from core.validation import COUNTRY_CODES
from customers import queries, services
from customers.models import Customer

router = Router(by_alias=True)

# Described for clients and schema-driven tests; the service is what enforces them.
COUNTRY_PATTERN = (
    "^(?:"
    + "|".join(sorted(f"[{c[0]}{c[0].lower()}][{c[1]}{c[1].lower()}]" for c in COUNTRY_CODES))
    + ")$"
)


# ---- objects -------------------------------------------------------------------------------
class CustomerOut(ApiOut):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    address1: str
    address2: str
    city: str
    state: str
    zip: str
    country: str
    notes: str
    active: bool
    created_at: Timestamp
    updated_at: Timestamp
    ticket_count: int | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="all the customer's tickets; only with includeTickets=true",
    )


def customer_out(customer: Customer) -> dict:
    """A customer as the API shows it (also CONFLICT's details.current)."""
    return CustomerOut.model_validate(AliasReader(customer, CustomerOut)).model_dump(
        mode="json", by_alias=True
    )


class CustomerBody(ApiOut):
    customer: CustomerOut
    metadata: Metadata


class CustomerCreatedBody(CustomerBody):
    message: str


class CustomerDeletedBody(ApiOut):
    id: int
    metadata: Metadata


class CustomerFiltersOut(ApiOut):
    search: str | None = Field(None, exclude_if=lambda value: value is None)
    active: bool | None = Field(None, exclude_if=lambda value: value is None)


class CustomerListBody(ApiOut):
    customers: list[CustomerOut]
    pagination: PaginationOut
    filters: CustomerFiltersOut
    metadata: ListMetadata


# ---- input ---------------------------------------------------------------------------------
Email = Annotated[str, Field(max_length=254, json_schema_extra={"format": "email"})]
Country = Annotated[str, Field(max_length=2, json_schema_extra={"pattern": COUNTRY_PATTERN})]


def _customer_rules(data: dict, request) -> dict[str, list[str]]:
    """The service's field rules, for a body the schema refused (core.schemas.body_rules).
    Missing fields are the schema's to report, so the fields are checked as a partial
    update would be."""
    data = {k: v for k, v in data.items() if k != "updated_at"}
    return rule_errors(services.clean_customer_data, data, partial=True)


@body_rules(_customer_rules)
class CustomerCreateIn(ApiIn):
    first_name: required_text(100)
    last_name: required_text(100)
    email: Email
    phone: Phone
    address1: required_text(200)
    address2: optional_text(200) = ""
    city: required_text(100)
    state: required_text(100)
    zip: required_text(20)
    country: Country
    notes: optional_text(5000) = ""
    active: bool = True


@body_rules(_customer_rules)
class CustomerUpdateIn(ApiIn):
    first_name: required_text(100) = None
    last_name: required_text(100) = None
    email: Email = None
    phone: Phone = None
    address1: required_text(200) = None
    address2: optional_text(200) = None
    city: required_text(100) = None
    state: required_text(100) = None
    zip: required_text(20) = None
    country: Country = None
    notes: optional_text(5000) = None
    active: bool = None
    updated_at: Annotated[datetime, Strict(False)] = Field(
        None, description="the updatedAt you last read; 409 CONFLICT if the row changed since"
    )


class CustomerListQuery(ApiQuery):
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=100)
    search: str | None = Field(None, max_length=200, pattern=r"^[^\x00]*$")
    active: QueryBool = None
    sort_by: Literal[tuple(queries.SORT_KEYS)] = "lastName"
    sort_order: Literal["asc", "desc"] = "asc"
    include_tickets: QueryBool = False


CustomerId = ObjectId


# ---- operations ----------------------------------------------------------------------------
@router.get(
    "",
    response={200: CustomerListBody, **error_responses(*COMMON_ERRORS)},
    summary="List customers",
    operation_id="listCustomers",
)
def list_customers(request: HttpRequest, params: Query[CustomerListQuery]):
    """Search, filter, sort and page through the customers."""
    search = params.search.strip() if params.search and params.search.strip() else None
    # With includeTickets the rows carry ticket counts: the tickets' data version covers
    # customers, tickets and staff.
    version = rendered.data_version()

    def build():
        customers = queries.customer_list(
            user=request.auth,
            search=search,
            active=params.active,
            sort_by=queries.SORT_KEYS[params.sort_by],
            sort_order=params.sort_order,
            include_ticket_count=bool(params.include_tickets),
        )
        page = paginate(customers, page=params.page, page_size=params.page_size)
        filters = {"search": search, "active": params.active}
        return {
            "customers": [customer_out(c) for c in page.items],
            "pagination": pagination(page),
            "filters": {k: v for k, v in filters.items() if v is not None},
        }

    return respond_list(request, version=version, build=build)


@router.post(
    "",
    response={201: CustomerCreatedBody, **error_responses(*COMMON_ERRORS, 409)},
    summary="Create a customer",
    operation_id="createCustomer",
)
def create_customer(request: HttpRequest, payload: CustomerCreateIn):
    customer = services.customer_create(
        actor=request.auth, data=payload.model_dump(exclude_unset=True)
    )
    return respond(
        {
            "customer": customer_out(customer),
            "message": "Customer created successfully",
            "metadata": metadata(request),
        },
        status=201,
    )


@router.get(
    "/{int:customer_id}",
    response={200: CustomerBody, **error_responses(*COMMON_ERRORS, 404)},
    summary="Get a customer",
    operation_id="getCustomer",
)
def get_customer(request: HttpRequest, customer_id: CustomerId):
    customer = queries.customer_get(user=request.auth, customer_id=customer_id)
    return respond({"customer": customer_out(customer), "metadata": metadata(request)})


@router.patch(
    "/{int:customer_id}",
    response={200: CustomerBody, **error_responses(*COMMON_ERRORS, 404, 409)},
    summary="Update a customer",
    operation_id="updateCustomer",
)
def update_customer(request: HttpRequest, customer_id: CustomerId, payload: CustomerUpdateIn):
    """Partial update. `active: false` deactivates (as DELETE), `active: true` reactivates."""
    data = payload.model_dump(exclude_unset=True)
    expected = data.pop("updated_at", None)
    customer = services.customer_update(
        actor=request.auth, customer_id=customer_id, data=data, expected_updated_at=expected
    )
    return respond({"customer": customer_out(customer), "metadata": metadata(request)})


@router.delete(
    "/{int:customer_id}",
    response={200: CustomerDeletedBody, **error_responses(*COMMON_ERRORS, 404, 409)},
    summary="Deactivate a customer",
    operation_id="deleteCustomer",
)
def delete_customer(request: HttpRequest, customer_id: CustomerId):
    """Soft delete: the customer becomes inactive; refused while it has any ticket."""
    customer = services.customer_deactivate(actor=request.auth, customer_id=customer_id)
    return respond({"id": customer.pk, "metadata": metadata(request)})
