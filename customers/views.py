"""Customer pages: the list, a customer, create, edit, deactivate and reactivate.

Each view reads top to bottom: load -> permission -> form -> service -> render or redirect.
The rules live in customers.services / customers.queries; this module only speaks HTTP.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import permissions
from accounts.permissions import AccessDenied
from core import errors, rendered
from core.errors import DomainError
from core.pages import (
    activity_timeline,
    add_domain_error,
    form_after_refusal,
    int_param,
    list_params,
    page_login_required,
    render_list,
)
from core.pagination import paginate
from customers import queries, services
from customers.forms import PAGE_SIZE, CustomerFilterForm, CustomerForm
from tickets.queries import TicketFilters, ticket_list

CUSTOMER_TICKETS_SHOWN = 20


def _refuse(user, *, allowed: bool, action: str, request, object_id=None):
    """403 unless allowed. A refused POST is a refused write and goes to the activity log;
    a GET of a form the role may not use is just answered 403."""
    if allowed:
        return
    if request.method == "POST":
        permissions.deny(user, action=action, object_type="customer", object_id=object_id)
    raise AccessDenied()


@page_login_required
@require_safe
def customer_list(request):
    """Search as you type, active filter, sortable columns, pages; htmx gets the results."""
    # Rows show ticket counts: the data version covers customers, tickets and staff.
    version = rendered.data_version()

    def context():
        filter_form = CustomerFilterForm(request.GET)
        filters = filter_form.values()
        customers = queries.customer_list(user=request.user, **filter_form.query())
        page = paginate(customers, page=int_param(request.GET.get("page"), 1), page_size=PAGE_SIZE)
        return {
            "nav": "customers",
            "page": page,
            "filters": filters,
            "filter_form": filter_form,
            "params": list_params(request),
        }

    return render_list(
        request,
        template="customers/customer_list.html",
        fragment="customer-results",
        version=version,
        context=context,
        audience=permissions.audience(request.user, per_user=False),
    )


@page_login_required
@require_http_methods(["GET", "HEAD", "POST"])
def customer_create(request):
    _refuse(
        request.user,
        allowed=permissions.can_create_customers(request.user),
        action="customer:create",
        request=request,
    )
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(actor=request.user, data=form.service_data())
        except DomainError as error:
            if error.status == 403:
                raise
            add_domain_error(form, error)
        else:
            messages.success(request, f"Customer {customer.full_name} created.")
            return redirect("customers:detail", customer_id=customer.pk)
    return render(request, "customers/customer_form.html", {"nav": "customers", "form": form})


@page_login_required
@require_safe
def customer_detail(request, customer_id: int):
    """Contact details, their tickets and the activity timeline."""
    customer = queries.customer_get(user=request.user, customer_id=customer_id)
    tickets = paginate(
        ticket_list(user=request.user, filters=TicketFilters(customer_id=customer.pk)),
        page=1,
        page_size=CUSTOMER_TICKETS_SHOWN,
    )
    context = {
        "nav": "customers",
        "customer": customer,
        "tickets": tickets,
        "timeline": activity_timeline(object_type="customer", object_id=customer.pk),
    }
    return render(request, "customers/customer_detail.html", context)


@page_login_required
@require_http_methods(["GET", "HEAD", "POST"])
def customer_edit(request, customer_id: int):
    customer = queries.customer_get(user=request.user, customer_id=customer_id)
    _refuse(
        request.user,
        allowed=permissions.can_edit_customers(request.user),
        action="customer:update",
        request=request,
        object_id=customer.pk,
    )
    form = CustomerForm(request.POST or None, initial=CustomerForm.initial_from(customer))
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_update(
                actor=request.user,
                customer_id=customer.pk,
                data=form.service_data(),
                expected_updated_at=form.expected_updated_at(),
            )
        except DomainError as error:
            form, conflict = form_after_refusal(form, error, request)
        else:
            messages.success(request, "Changes saved.")
            return redirect("customers:detail", customer_id=customer.pk)
    context = {"nav": "customers", "form": form, "customer": customer, "conflict": conflict}
    return render(request, "customers/customer_form.html", context)


@page_login_required
@require_POST
def customer_deactivate(request, customer_id: int):
    """Refused, with the ticket count, while the customer has tickets."""
    customer = queries.customer_get(user=request.user, customer_id=customer_id)
    try:
        services.customer_deactivate(actor=request.user, customer_id=customer.pk)
    except DomainError as error:
        if error.status == 403:
            raise
        if error.code == errors.HAS_DEPENDENCIES:
            count = error.details["ticketCount"]
            messages.error(
                request,
                f"{customer.full_name} was not deactivated: they have {count} "
                f"ticket{'s' if count != 1 else ''}. Customers with tickets stay active.",
            )
        else:
            messages.error(request, error.message)
    else:
        messages.success(request, f"{customer.full_name} is now inactive.")
    return redirect("customers:detail", customer_id=customer.pk)


@page_login_required
@require_POST
def customer_reactivate(request, customer_id: int):
    customer = queries.customer_get(user=request.user, customer_id=customer_id)
    try:
        services.customer_update(actor=request.user, customer_id=customer.pk, data={"active": True})
    except DomainError as error:
        if error.status == 403:
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, f"{customer.full_name} is active again.")
    return redirect("customers:detail", customer_id=customer.pk)
