"""Filters of the ticket page's status panel and history."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def time_spent(duration: timedelta) -> str:
    """A stay in a status as a person reads it: the two largest units ("3 d 4 h",
    "2 h 5 min"), "under a minute" below one."""
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts[:2])
