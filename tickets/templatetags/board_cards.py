"""{% board_card %}: one card of the board, rendered in Python.

A board holds up to 25 cards in each of its seven columns. As a template the card cost ~1.4 ms
of CPU (forty-odd lookups, three {% url %}, a button per move): 0.5 s for 350 cards, paid by
every board on screen after any change to any ticket; built here, 0.13 s (the whole request).
board.js relies on its data- attributes; the tests read its text.

The moves are asked of the context's `user`, which in a shared rendering is the audience's
stand-in (core.rendered): a card can only offer what the audience says (a technician's board
is their own; everyone else's is their role's). Context: ticket, flow (the Workflow, read
once per board), user, csrf_token.
"""

import functools
import html

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import dateformat, timezone
from django.utils.safestring import mark_safe

register = template.Library()

_PLACEHOLDER = "999999999"

_CARD = """<li class="board-card priority-{priority_name}{overdue_class}" id="card-{pk}" data-board-card="{pk}" data-status="{status_key}">
<h3 class="card-title" data-card-message><a href="{detail}">#{pk} {title}</a></h3>{device}
<dl class="card-facts">
<div><dt>Customer</dt><dd>{customer}</dd></div>
<div><dt>Technician</dt><dd>{tech}</dd></div>
<div><dt>Opened</dt><dd><time datetime="{created_iso}" data-age="ago">{created}</time></dd></div>
<div><dt>In {status_label}</dt><dd><time datetime="{since_iso}" data-age="for">since {since}</time></dd></div>
</dl>
<p class="card-flags"><span class="badge priority-{priority_name}">{priority}</span>{overdue}</p>{moves}
</li>
"""  # noqa: E501

_MOVES = """
<form method="post" action="{action}" class="card-moves" data-board-move>{csrf}
<input type="hidden" name="fragment" value="card">
<input type="hidden" name="next" value="{board}#column-{status_key}">
<p class="card-moves-label" id="moves-{pk}">Move #{pk} to</p>
<div class="card-move-buttons" role="group" aria-labelledby="moves-{pk}">{buttons}</div>
</form>"""

_BUTTON = '<button name="status" value="{key}">{label}</button>'


@functools.lru_cache(maxsize=16)
def _urls_for(script_prefix: str, urlconf) -> tuple[str, str, str]:
    """reverse() per card costs more than the rest of it: reverse once with a placeholder id
    and put each id in its place (the same result for every id)."""
    detail = reverse("tickets:detail", args=[_PLACEHOLDER]).replace(_PLACEHOLDER, "{}")
    status = reverse("tickets:status", args=[_PLACEHOLDER]).replace(_PLACEHOLDER, "{}")
    return detail, status, reverse("tickets:board")


def _moment(value) -> tuple[str, str]:
    """(ISO 8601, "7 Dec, 17:22") in the shop's time zone, as the date filter writes them."""
    local = timezone.localtime(value)
    return local.isoformat(), dateformat.format(local, "j M, H:i")


@register.simple_tag(takes_context=True)
def board_card(context) -> str:
    ticket = context["ticket"]
    pk = ticket.pk
    status = ticket.status
    detail_url, status_url, board_url = _urls_for(get_script_prefix(), get_urlconf())

    moves = context["flow"].moves_for(context["user"], ticket)
    moves_html = ""
    if moves:
        token = context.get("csrf_token")
        csrf = (
            f'\n<input type="hidden" name="csrfmiddlewaretoken" value="{_e(token)}">'
            if token and token != "NOTPROVIDED"
            else ""
        )
        moves_html = _MOVES.format(
            action=_e(status_url.format(pk)),
            csrf=csrf,
            board=_e(board_url),
            status_key=_e(status.key),
            pk=pk,
            buttons="".join(
                _BUTTON.format(key=_e(move.key), label=_e(move.label)) for move in moves
            ),
        )

    device = " ".join(
        part
        for part in (
            ticket.get_device_type_display() if ticket.device_type else "",
            ticket.device_brand,
            ticket.device_model,
        )
        if part
    )
    if ticket.tech_id is not None:
        tech = _e(ticket.tech.get_full_name() or ticket.tech.username)
    else:
        tech = "Unassigned"
    overdue = ticket.is_overdue()
    created_iso, created = _moment(ticket.created_at)
    since_iso, since = _moment(ticket.status_changed_at)
    customer = ticket.customer
    return mark_safe(  # noqa: S308 - every value below is escaped by _e
        _CARD.format(
            pk=pk,
            priority_name=_e(ticket.priority_name),
            priority=_e(ticket.get_priority_display()),
            overdue_class=" is-overdue" if overdue else "",
            overdue=(
                f' <span class="badge overdue">Overdue since {_e(_moment(ticket.overdue_at)[1])}'
                "</span>"
                if overdue
                else ""
            ),
            status_key=_e(status.key),
            status_label=_e(status.label),
            detail=_e(detail_url.format(pk)),
            title=_e(ticket.title),
            device=f'\n<p class="card-device">{_e(device)}</p>' if device else "",
            customer=f"{_e(customer.first_name)} {_e(customer.last_name)}",
            tech=tech,
            created_iso=_e(created_iso),
            created=_e(created),
            since_iso=_e(since_iso),
            since=_e(since),
            moves=moves_html,
        )
    )


def _e(value) -> str:
    """Django's escape() without its lazy-string wrapper: the same five characters."""
    return html.escape(str(value), quote=True)
