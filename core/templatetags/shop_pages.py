"""Template filters of the pages: activity-log entries in plain words."""

from django import template

register = template.Library()

ACTION_LABELS = {
    "customer:create": "Customer created",
    "customer:update": "Details changed",
    "customer:deactivate": "Deactivated",
    "customer:reactivate": "Reactivated",
    "ticket:create": "Ticket created",
    "ticket:update": "Ticket edited",
    "ticket:assign": "Assigned",
    "ticket:status_change": "Status changed",
    "permission:denied": "Refused (no permission)",
}

FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "address1": "Address",
    "address2": "Address line 2",
    "zip": "ZIP / postcode",
    "customer_id": "Customer",
    "tech": "Technician",
    "estimated_hours": "Estimated hours",
    "device_type": "Device type",
    "device_brand": "Brand",
    "device_model": "Model",
    "serial_number": "Serial number",
    "completed": "Completed",
}

# Long texts are summarised as "changed" rather than printed whole in the timeline.
LONG_FIELDS = {"description", "notes", "condition"}


@register.filter
def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace(":", " ").replace("_", " ").capitalize())


@register.filter
def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def _show(value) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


@register.filter
def change_lines(metadata) -> list[str]:
    """["Priority: medium → high", ...] from {"changes": {field: {"old", "new"}}}."""
    if not isinstance(metadata, dict):
        return []
    lines = []
    changes = metadata.get("changes")
    if isinstance(changes, dict):
        creating = (
            all(isinstance(c, dict) and c.get("old") is None for c in changes.values())
            and len(changes) > 2
        )
        if creating:
            return []  # a create lists every field: the entry's title says enough
        for name, change in changes.items():
            if not isinstance(change, dict):
                continue
            label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
            if name in LONG_FIELDS:
                lines.append(f"{label} changed")
            else:
                lines.append(f"{label}: {_show(change.get('old'))} → {_show(change.get('new'))}")
    if metadata.get("attempted"):
        lines.append(f"Tried: {metadata['attempted']}")
    return lines
