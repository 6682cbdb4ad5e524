"""{% ticket_row %}: one row of a ticket table, rendered in Python.

The row is the hot spot of every ticket list: 25 of them on a page, 50 in a queue, on each
poll that finds a change. As a template it cost ~290 µs of CPU per row (forty-odd variable
lookups, two {% url %}, a form), ~7 ms a page, more than everything else the list does; built
here it costs a fraction of that. The markup is exactly what
templates/tickets/_ticket_row.html used to hold (app.js relies on its data- attributes): change
both together. Context: ticket, user, csrf_token, request; optional row_next and hide_tech.
"""

import functools
import html

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import dateformat, timezone
from django.utils.safestring import mark_safe

from accounts.permissions import can_change_status

register = template.Library()

_STATUS_FORM = """
    <details class="status-action">
      <summary class="button small{summary_class}">{summary}</summary>
      <form method="post" action="{action}" class="status-form" data-status-form>
        {csrf}
        <input type="hidden" name="completed" value="{to}">
        <input type="hidden" name="updated_at" value="{updated_at}">
        <input type="hidden" name="next" value="{next}">
        {hide_tech}<label for="status-notes-{pk}">Notes (optional)</label>
        <textarea id="status-notes-{pk}" name="notes" rows="2" maxlength="10000" placeholder="What was done"></textarea>
        <button type="submit" class="{button_class}">{button}</button>
      </form>
    </details>
    """  # noqa: E501

_ROW = """<tr id="ticket-{pk}" data-ticket-row="{pk}" data-completed="{completed}" class="{row_class}">
  <td class="row-title" data-label="Ticket" data-row-message>
    <a href="{detail}">#{pk} {title}</a>
    <span class="row-sub">{first_name} {last_name}{device}</span>
  </td>
  <td data-label="Status"><span class="badge {status_class}" data-status-badge>{status}</span></td>
  <td data-label="Priority"><span class="badge priority-{priority_name}">{priority}</span></td>
  {tech_cell}
  <td class="nowrap" data-label="Opened"><time datetime="{created_iso}">{created}</time></td>
  <td class="row-actions" data-label="Action">{form}</td>
</tr>
"""  # noqa: E501


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

    form = ""
    if user is not None and can_change_status(user, ticket):
        token = context.get("csrf_token")
        csrf = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{_e(token)}">'
            if token and token != "NOTPROVIDED"
            else ""
        )
        next_url = context.get("row_next") or (request.get_full_path() if request else "")
        form = _STATUS_FORM.format(
            summary_class="" if completed else " ok",
            summary="Reopen…" if completed else "Complete…",
            action=_e(status_url.format(pk)),
            csrf=csrf,
            to="false" if completed else "true",
            updated_at=_e(ticket.updated_at.isoformat()),
            next=_e(next_url),
            hide_tech='<input type="hidden" name="hide_tech" value="1">' if hide_tech else "",
            pk=pk,
            button_class="primary" if completed else "ok",
            button="Reopen ticket" if completed else "Mark completed",
        )

    if hide_tech:
        tech_cell = ""
    elif ticket.tech_id is not None:
        tech = ticket.tech
        tech_cell = f'<td data-label="Technician">{_e(tech.get_full_name() or tech.username)}</td>'
    else:
        tech_cell = '<td data-label="Technician"><span class="row-sub">Unassigned</span></td>'

    brand, model = ticket.device_brand, ticket.device_model
    created = timezone.localtime(ticket.created_at)
    customer = ticket.customer
    return mark_safe(  # noqa: S308 - every value below is escaped by _e
        _ROW.format(
            pk=pk,
            completed="true" if completed else "false",
            row_class="is-completed" if completed else "",
            detail=_e(f"{detail_head}{pk}{detail_tail}"),
            title=_e(ticket.title),
            first_name=_e(customer.first_name),
            last_name=_e(customer.last_name),
            device=f" · {_e(brand)} {_e(model)}" if brand or model else "",
            status_class="completed" if completed else "open",
            status="Completed" if completed else "Open",
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
