"""Ticket pages: the start page, the list, a technician's queue, check-in (new ticket), a
ticket with its edit form, and the status change.

Each view reads top to bottom: load -> permission -> form -> service -> render or redirect.
The rules live in tickets.services / tickets.queries (and customers.*); this module only
speaks HTTP. The lists poll: a request carrying the version the page shows (`v`) is answered
204 when nothing changed, before anything else is read or rendered.
"""

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import trigger_client_event

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
    same_site_path,
    vary_on_htmx,
    wants_fragment,
)
from core.pagination import paginate
from customers import queries as customer_queries
from customers import services as customer_services
from customers.forms import CustomerForm
from tickets import queries, services
from tickets.forms import (
    FILTER_PARAMS,
    PAGE_SIZE,
    QUICK_FILTERS,
    CustomerPickerForm,
    StatusForm,
    TicketCreateForm,
    TicketEditForm,
    TicketFilterForm,
)
from tickets.models import OPEN_GROUPS

QUEUE_PAGE_SIZE = 50
TICKETS_CHANGED = "tickets-changed"


def _refuse(user, *, allowed: bool, action: str, request, object_id=None):
    """403 unless allowed. A refused POST is a refused write and goes to the activity log;
    a GET of a form the role may not use is just answered 403."""
    if allowed:
        return
    if request.method == "POST":
        permissions.deny(user, action=action, object_type="ticket", object_id=object_id)
    raise AccessDenied()


def _unchanged_poll(request):
    """204 for a poll whose version is still current: nothing read, nothing rendered.

    Costs the session and user the middleware loads anyway, plus the data version; a timed
    poll (X-Poll: timer, sent by app.js) may be compared with the version this process read
    less than POLL_VERSION_MAX_AGE seconds ago instead (rendered.polled_version)."""
    seen = request.GET.get("v")
    if not (seen and request.htmx):
        return None
    if request.headers.get("X-Poll") == "timer":
        current = rendered.polled_version(max_age=settings.POLL_VERSION_MAX_AGE)
    else:
        current = rendered.data_version()
    if seen == current:
        return vary_on_htmx(HttpResponse(status=204))
    return None


def _list_url(request) -> str:
    """Where a plain (no-JavaScript) status form returns to: this list, without the version."""
    params = list_params(request)
    return request.path + (f"?{params.urlencode()}" if params else "")


def _safe_next(request, fallback: str) -> str:
    return same_site_path(request, request.POST.get("next")) or fallback


@page_login_required
@require_safe
def home(request):
    """Technicians land on their queue, everyone else on the ticket list (docs/api.md §11)."""
    if permissions.is_technician(request.user):
        return redirect("tickets:queue")
    return redirect("tickets:list")


@page_login_required
@require_safe
def ticket_list(request):
    """Every filter of the API, sortable, paged, URL-reflecting, and live."""
    unchanged = _unchanged_poll(request)
    if unchanged:
        return unchanged
    # The version is read before the rows: a change in between costs one extra refresh,
    # never a missed one.
    version = rendered.data_version()

    def context():
        flow = queries.workflow()
        filter_form = TicketFilterForm(
            _filter_data(request),
            flow=flow,
            technicians=permissions.can_view_all_tickets(request.user),
        )
        filters = filter_form.values()
        tickets = queries.ticket_list(user=request.user, filters=filter_form.query(), flow=flow)
        # A search over all history is shown without a total: counting its matches costs
        # many times the page (see paginate).
        page = paginate(
            tickets, page=_page_number(request), page_size=PAGE_SIZE, count=not filters["search"]
        )
        return _list_context(request, page, filter_form, filters, version) | {"workflow": flow}

    return render_list(
        request,
        template="tickets/ticket_list.html",
        fragment="ticket-results",
        version=version,
        context=context,
        audience=queries.list_audience(request.user, status_forms=True),
    )


def _filter_data(request):
    """The list's filters: the query's, or for the front desk without any filter in it, the
    open tickets (their working view; "Everything" is one click away)."""
    if permissions.is_front_desk(request.user) and not any(
        name in request.GET for name in FILTER_PARAMS
    ):
        data = request.GET.copy()
        data["statusGroup"] = ",".join(OPEN_GROUPS)
        return data
    return request.GET


def _page_number(request) -> int:
    return int_param(request.GET.get("page"), 1)


def _list_context(request, page, filter_form, filters, version) -> dict:
    return {
        "nav": "tickets",
        "page": page,
        "filters": filters,
        "filter_form": filter_form,
        "filter_customer": _customer_or_none(request.user, filters["customer_id"]),
        "params": list_params(request),
        "version": version,
        "row_next": _list_url(request),
        "quick_filters": _quick_filters(filter_form.data),
    }


def _quick_filters(data) -> list[dict]:
    """The one-click filters, each marked when the list shows exactly it."""
    shown = {name: data.getlist(name) for name in FILTER_PARAMS if name in data}
    links = []
    for label, query in QUICK_FILTERS:
        name, value = query.split("=")
        links.append({"label": label, "query": query, "current": shown == {name: [value]}})
    return links


def _customer_or_none(user, customer_id):
    """The customer a page names (the list's customer filter, the check-in's chosen
    customer): None when there is none to show, as for a mangled id in a bookmark."""
    if not customer_id or not str(customer_id).isdigit():
        return None
    try:
        return customer_queries.customer_get(user=user, customer_id=int(customer_id))
    except DomainError:
        return None


@page_login_required
@require_safe
def technician_queue(request):
    """My queue: the signed-in technician's open tickets by status (a heading per status, in
    the statuses' order), in each the most urgent and oldest first."""
    unchanged = _unchanged_poll(request)
    if unchanged:
        return unchanged
    version = rendered.data_version()

    def context():
        tickets = queries.technician_queue(user=request.user)
        page = paginate(
            tickets, page=int_param(request.GET.get("page"), 1), page_size=QUEUE_PAGE_SIZE
        )
        return {
            "nav": "queue",
            "page": page,
            "params": list_params(request),
            "version": version,
            "row_next": _list_url(request),
        }

    return render_list(
        request,
        template="tickets/queue.html",
        fragment="ticket-results",
        version=version,
        context=context,
        # A queue is its technician's own.
        audience=permissions.audience(request.user, per_user=True),
    )


@page_login_required
@require_safe
def board(request):
    """One column per status from new to ready, a card per ticket with the moves this user
    may make from its status; live like the lists."""
    unchanged = _unchanged_poll(request)
    if unchanged:
        return unchanged
    version = rendered.data_version()

    def context():
        board = queries.board(user=request.user)
        return {
            "nav": "board",
            "board": board,
            "flow": board.flow,
            "params": list_params(request),
            "version": version,
        }

    return render_list(
        request,
        template="tickets/board.html",
        fragment="board-results",
        version=version,
        context=context,
        # The cards carry the moves, which for a technician depend on whose ticket it is.
        audience=queries.list_audience(request.user, status_forms=True),
    )


@page_login_required
@require_http_methods(["GET", "HEAD", "POST"])
def ticket_create(request):
    """Check-in: pick a customer (or add a walk-in), describe the device and the fault.
    One submit; a new customer and the ticket are written in one transaction. The same URL
    answers the customer picker's fragment to htmx."""
    user = request.user
    _refuse(
        user, allowed=permissions.can_create_tickets(user), action="ticket:create", request=request
    )
    if _wants_picker(request):
        return _picker_fragment(request)
    form, customer_form = _check_in_forms(request)
    walk_in = customer_form if customer_form.is_bound else None
    if walk_in is not None:
        _refuse(
            user,
            allowed=permissions.can_create_customers(user),
            action="customer:create",
            request=request,
        )
    if form.is_bound and _all_valid(form, walk_in):
        ticket = _create_ticket(request, form, walk_in)
        if ticket is not None:
            messages.success(request, _created_message(ticket))
            return redirect("tickets:detail", ticket_id=ticket.pk)
    return vary_on_htmx(
        render(request, "tickets/ticket_form.html", _check_in_context(request, form, customer_form))
    )


def _all_valid(*forms) -> bool:
    """Every form checked (so each shows its errors at once), None ones skipped."""
    return all([form.is_valid() for form in forms if form is not None])


def _picker_search(request) -> str:
    return CustomerPickerForm(request.GET).search()


def _wants_picker(request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and wants_fragment(request)
        and request.htmx.target == "customer-results"
    )


def _picker_fragment(request):
    """The customer picker's results, for the search box on the check-in page."""
    search = _picker_search(request)
    customers = customer_queries.customer_picker(user=request.user, search=search)
    context = {"customers": customers, "customer_search": search}
    return vary_on_htmx(render(request, "tickets/ticket_form.html#customer-results", context))


def _check_in_forms(request):
    """The ticket form and the walk-in customer's form. The customer form is bound only for
    a walk-in: for an existing customer it is not checked (no errors about a customer nobody
    entered), and shows what was typed into it, if anything."""
    if request.method != "POST":
        picked_id = request.GET.get("customerId")
        form = TicketCreateForm(initial={"customer_id": picked_id} if picked_id else None)
        return form, CustomerForm(prefix="customer")
    form = TicketCreateForm(request.POST)
    if form.walk_in():
        return form, CustomerForm(request.POST, prefix="customer")
    typed = {name: request.POST.get(f"customer-{name}") for name in CustomerForm.base_fields}
    typed = {name: value for name, value in typed.items() if value}
    return form, CustomerForm(prefix="customer", initial=typed)


def _check_in_context(request, form, customer_form) -> dict:
    search = _picker_search(request)
    picked_id = request.POST.get("customer_id") if form.is_bound else request.GET.get("customerId")
    return {
        "nav": "tickets",
        "form": form,
        "customer_form": customer_form,
        "picked": _customer_or_none(request.user, picked_id),
        "customers": customer_queries.customer_picker(user=request.user, search=search),
        "customer_search": search,
    }


def _created_message(ticket) -> str:
    if ticket.tech is None:
        return f"Ticket #{ticket.pk} created, not assigned yet (no technician)."
    who = ticket.tech.get_full_name() or ticket.tech.username
    return f"Ticket #{ticket.pk} created and assigned to {who}."


def _create_ticket(request, form, customer_form):
    """Both writes through the services, in one transaction: a ticket that fails leaves no
    half check-in behind. Returns the ticket, or None with the errors put on the forms."""
    data = form.service_data()  # `tech`: the technician's email; None: assigned automatically
    try:
        with transaction.atomic():
            if customer_form is not None:
                data["customer_id"] = _create_walk_in(request, customer_form)
                if data["customer_id"] is None:
                    return None
            else:
                data["customer_id"] = form.cleaned_data["customer_id"]
            return services.ticket_create(actor=request.user, data=data)
    except DomainError as error:
        if error.status == 403:
            raise
        add_domain_error(form, error)
        return None


def _create_walk_in(request, customer_form) -> int | None:
    """The walk-in customer's id, or None with the refusal put on the customer form."""
    try:
        customer = customer_services.customer_create(
            actor=request.user, data=customer_form.service_data()
        )
    except DomainError as error:
        if error.status == 403:
            raise
        add_domain_error(customer_form, error)
        return None
    return customer.pk


@page_login_required
@require_http_methods(["GET", "HEAD", "POST"])
def ticket_detail(request, ticket_id: int):
    """Customer, device and fault, assignment, priority, estimate, notes, the activity
    timeline, the edit form (for those who may) and the status change."""
    user = request.user
    ticket = _ticket_for(request, ticket_id)
    may_edit = permissions.can_edit_tickets(user)
    if request.method == "POST":
        _refuse(
            user, allowed=may_edit, action="ticket:update", request=request, object_id=ticket.pk
        )
    form = _edit_form(request, ticket) if may_edit else None
    conflict = None
    if form is not None and form.is_bound and form.is_valid():
        try:
            ticket = services.ticket_update(
                actor=user,
                ticket_id=ticket.pk,
                data=form.service_data(),
                expected_updated_at=form.expected_updated_at(),
            )
        except DomainError as error:
            form, conflict = form_after_refusal(form, error, request)
        else:
            messages.success(request, "Ticket saved.")
            return redirect("tickets:detail", ticket_id=ticket.pk)
    return render(
        request, "tickets/ticket_detail.html", _detail_context(user, ticket, form, conflict)
    )


def _ticket_for(request, ticket_id: int):
    """The ticket as this user may see it. Someone else's ticket: posting its edit form is a
    refused write all the same, recorded like the API's (docs/api.md §7); a GET is just 403."""
    try:
        return queries.ticket_get(user=request.user, ticket_id=ticket_id)
    except AccessDenied as refused:
        if request.method == "POST":
            permissions.deny(
                request.user,
                action="ticket:update",
                object_type="ticket",
                object_id=ticket_id,
                message=refused.message,
            )
        raise


def _edit_form(request, ticket) -> TicketEditForm:
    data = request.POST if request.method == "POST" else None
    return TicketEditForm(data, initial=TicketEditForm.initial_from(ticket))


def _detail_context(user, ticket, form, conflict) -> dict:
    flow = queries.workflow()
    moves = flow.moves_for(user, ticket)
    _, history = queries.ticket_history(user=user, ticket_id=ticket.pk)
    return {
        "nav": "tickets",
        "ticket": ticket,
        "form": form,
        "conflict": conflict,
        "may_change_status": permissions.can_change_status(user, ticket),
        "moves": moves,
        "override_moves": _override_moves(user, ticket, flow, moves),
        "history": history,
        "timeline": activity_timeline(object_type="ticket", object_id=ticket.pk),
    }


def _override_moves(user, ticket, flow, moves) -> list:
    """For a user who may override the rules (managers): every other active status, which
    the service logs as an override."""
    if not permissions.can_override_status_rules(user):
        return []
    offered = {status.pk for status in moves} | {ticket.status_id}
    return [status for status in flow.statuses if status.active and status.pk not in offered]


def _row_context(request, ticket) -> dict:
    """One row as the posting list shows it (My queue has no technician column)."""
    return {
        "ticket": ticket,
        "row_next": _safe_next(request, reverse("tickets:list")),
        "hide_tech": request.POST.get("hide_tech") == "1",
    }


def _refusal(request, status: int, text: str, ticket=None):
    """A refused status change for app.js: the message in HX-Trigger, and for a conflict
    the row as it is now so the page shows the fresh values."""
    if ticket is not None:
        response = render(
            request, "tickets/_ticket_row.html", _row_context(request, ticket), status=status
        )
    else:
        response = HttpResponse(status=status)
    trigger_client_event(response, "showMessage", {"text": text, "level": "error"})
    return response


NOT_UNDERSTOOD = "The status change was not understood."
STALE_STATUS = (
    "Someone else changed this ticket just now; here is how it stands. Nothing was saved."
)


@page_login_required
@require_POST
def ticket_status(request, ticket_id: int):
    """A move to another status (or part 1's complete / reopen). From app.js (HX-Request)
    the answer is the fresh row, or the refusal with its reason (for a move the status does
    not allow, the moves it does); from a plain form post, a message and a redirect."""
    if request.htmx and request.POST.get("fragment") == "card":
        return _board_card_move(request, ticket_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _status_refused(
            request, ticket_id, DomainError(errors.VALIDATION_ERROR, NOT_UNDERSTOOD)
        )
    try:
        ticket = services.ticket_set_status(
            actor=request.user, ticket_id=ticket_id, **form.values()
        )
    except DomainError as error:
        return _status_refused(request, ticket_id, error)
    text = f"Ticket #{ticket.pk}: {ticket.status.label}."
    if not request.htmx:
        messages.success(request, text)
        return redirect(_safe_next(request, reverse("tickets:detail", args=[ticket.pk])))
    response = vary_on_htmx(
        render(request, "tickets/_ticket_row.html", _row_context(request, ticket))
    )
    # Every live list on the page refreshes at once (app.js passes the event on).
    trigger_client_event(response, TICKETS_CHANGED, {})
    trigger_client_event(response, "showMessage", {"text": text, "level": "success"})
    return response


def _status_refused(request, ticket_id: int, error: DomainError):
    """A refused status change. A plain form post: the message and a redirect back (a 403
    or 404 is that page). From app.js: the refusal (for a conflict, with the row as it is
    now)."""
    if not request.htmx:
        if error.status in (403, 404):
            raise error
        messages.error(request, error.message)
        return redirect(_safe_next(request, reverse("tickets:detail", args=[ticket_id])))
    current = error.details.get("current") if isinstance(error.details, dict) else None
    if error.code == errors.CONFLICT and current is not None:
        return _refusal(request, 409, STALE_STATUS, ticket=current)
    return _refusal(request, error.status, error.message)


def _board_card_move(request, ticket_id: int):
    """A move from a board card (board.js): the fresh card, which the script puts in the
    column of its new status (or takes off the board for a closed one), or the refusal with
    its reason, which the script shows on the card it puts back."""
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _refusal(request, 400, NOT_UNDERSTOOD)
    try:
        ticket = services.ticket_set_status(
            actor=request.user, ticket_id=ticket_id, **form.values()
        )
    except DomainError as error:
        return _refusal(request, error.status, error.message)
    context = {"ticket": ticket, "flow": queries.workflow()}
    response = vary_on_htmx(render(request, "tickets/board.html#board-card", context))
    trigger_client_event(response, TICKETS_CHANGED, {})
    trigger_client_event(
        response,
        "showMessage",
        {"text": f"Ticket #{ticket.pk}: {ticket.status.label}.", "level": "success"},
    )
    return response
