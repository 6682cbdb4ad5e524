"""{% card_moves ticket as moves %}: the moves a board card offers to whoever is looking.

A template tag, not a context value, because the board's cards are rendered once for every
user of an audience (core.rendered): the tag asks the `user` of the template, which there is
the audience's stand-in, so a card can only offer what the audience says (a technician's
board is their own; everyone else's is their role's)."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def card_moves(context, ticket) -> list:
    """The context's `flow` (tickets.queries.Workflow) read once for the whole board."""
    return context["flow"].moves_for(context["user"], ticket)
