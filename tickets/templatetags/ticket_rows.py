"""{% ticket_row %}: one row of a ticket table, rendered in Python.

The row is the hot spot of every ticket list: 25 of them on a page, 50 in a queue, on each
poll that finds a change. As a template it cost ~290 µs of CPU per row (forty-odd variable
lookups, two {% url %}, a form), ~7 ms a page, more than everything else the list does; built
here it costs a fraction of that. The markup is exactly what
templates/tickets/_ticket_row.html used to hold (app.js relies on its data- attributes): change
both together. Context: ticket, user, csrf_token, request; optional row_next, hide_tech and
workflow (else read once per rendering, see row_workflow).
"""

import functools
import html

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import dateformat, timezone
from django.utils.safestring import mark_safe

from accounts.permissions import can_change_status
from tickets.queries import Workflow, workflow

register = template.Library()

_MOVE_FORM = """
    <details class="status-action">
      <summary class="button small">Move…</summary>
      <form method="post" action="{action}" class="status-form" data-status-form>
        {csrf}
        <input type="hidden" name="next" value="{next}">
        {hide_tech}<label for="status-comment-{pk}">Comment (optional)</label>
        <textarea id="status-comment-{pk}" name="comment" rows="2" maxlength="2000" placeholder="For the history"></textarea>
        <div class="move-buttons">{buttons}</div>
      </form>
    </details>
    """  # noqa: E501

_MOVE_BUTTON = (
    '<button type="submit" name="status" value="{key}" class="small move-{group}"'
    ' data-status-label="{label}" data-status-group="{group}">{label}</button>'
)

_ROW = """<tr id="ticket-{pk}" data-ticket-row="{pk}" data-completed="{completed}" data-status="{status_key}" class="{row_class}">
  <td class="row-title" data-label="Ticket" data-row-message>
    <a href="{detail}">#{pk} {title}</a>
    <span class="row-sub">{first_name} {last_name}{device}</span>
  </td>
  <td data-label="Status"><span class="badge status-{group}" data-status-badge>{status}</span>{overdue}</td>
  <td data-label="Priority"><span class="badge priority-{priority_name}">{priority}</span></td>
  {tech_cell}
  <td class="nowrap" data-label="Opened"><time datetime="{created_iso}">{created}</time></td>
  <td class="row-actions" data-label="Action">{form}</td>
</tr>
"""  # noqa: E501

_OVERDUE = ' <span class="badge overdue" data-overdue>Overdue</span>'
_WORKFLOW_KEY = "ticket_rows.workflow"


def row_workflow(context) -> Workflow:
    """The statuses and their moves, read once per rendering however many rows it has: the
    view's `workflow` when it passed one, else one loaded for this rendering."""
    flow = context.get("workflow")
    if flow is None:
        flow = context.render_context.get(_WORKFLOW_KEY)
        if flow is None:
            flow = context.render_context[_WORKFLOW_KEY] = workflow()
    return flow


def _url_prefixes() -> tuple[str, str, str]:
    return _url_prefixes_for(get_script_prefix(), get_urlconf())


@functools.lru_cache(maxsize=16)
def _url_prefixes_for(script_prefix: str, urlconf) -> tuple[str, str, str]:
    """reverse() twice per row costs more than the rest of the row: reverse once with a
    placeholder id and put each id in its place (the same result for every id)."""
    detail = reverse("tickets:detail", args=[999999999])
    status = reverse("tickets:status", args=[999999999])
    return (*detail.split("999999999"), status.replace("999999999", "{}"))


@register.simple_tag(takes_context=True)
def ticket_row(context) -> str:
    ticket = context["ticket"]
    user = context.get("user")
    request = context.get("request")
    hide_tech = context.get("hide_tech")
    pk = ticket.pk
    completed = ticket.completed
    detail_head, detail_tail, status_url = _url_prefixes()

    status = ticket.status  # joined in by the list's query
    # The workflow only for a row that may offer moves: a viewer's list reads none of it.
    may_move = user is not None and can_change_status(user, ticket)
    moves = row_workflow(context).moves_for(user, ticket) if may_move else []
    form = ""
    if moves:
        token = context.get("csrf_token")
        csrf = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{_e(token)}">'
            if token and token != "NOTPROVIDED"
            else ""
        )
        next_url = context.get("row_next") or (request.get_full_path() if request else "")
        # No updated_at: a move is judged against the status the ticket has when it arrives
        # (the transition rules), so an edit of the notes in between does not refuse it.
        form = _MOVE_FORM.format(
            action=_e(status_url.format(pk)),
            csrf=csrf,
            next=_e(next_url),
            hide_tech='<input type="hidden" name="hide_tech" value="1">' if hide_tech else "",
            pk=pk,
            buttons="".join(
                _MOVE_BUTTON.format(key=_e(t.key), group=t.group, label=_e(t.label)) for t in moves
            ),
        )

    if hide_tech:
        tech_cell = ""
    elif ticket.tech_id is not None:
        tech = ticket.tech
        tech_cell = f'<td data-label="Technician">{_e(tech.get_full_name() or tech.username)}</td>'
    else:
        tech_cell = '<td data-label="Technician"><span class="row-sub">Unassigned</span></td>'

    overdue = ticket.is_overdue()
    brand, model = ticket.device_brand, ticket.device_model
    created = timezone.localtime(ticket.created_at)
    customer = ticket.customer
    return mark_safe(  # noqa: S308 - every value below is escaped by _e
        _ROW.format(
            pk=pk,
            completed="true" if completed else "false",
            status_key=_e(status.key),
            row_class=" ".join(
                name for name, on in (("is-completed", completed), ("is-overdue", overdue)) if on
            ),
            detail=_e(f"{detail_head}{pk}{detail_tail}"),
            title=_e(ticket.title),
            first_name=_e(customer.first_name),
            last_name=_e(customer.last_name),
            device=f" · {_e(brand)} {_e(model)}" if brand or model else "",
            group=status.group,
            status=_e(status.label),
            overdue=_OVERDUE if overdue else "",
            priority_name=_e(ticket.priority_name),
            priority=_e(ticket.get_priority_display()),
            tech_cell=tech_cell,
            created_iso=_e(dateformat.format(created, "c")),
            created=_e(dateformat.format(created, "j M, H:i")),
            form=form,
        )
    )


def _e(value) -> str:
    """Django's escape() without its lazy-string wrapper (a measurable share of the row):
    the same five characters replaced."""
    return html.escape(str(value), quote=True)
