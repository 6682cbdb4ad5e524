"""The statuses a new installation starts with (contract §12), installed by a data migration
(tickets/migrations/0006_default_statuses) and, after a test flush, by the test suite."""

# key, label, group, default, notify customer, time limit (hours), next
DEFAULT_STATUSES = (
    ("received", "Received", "new", True, False, 24,
     ("diagnosing", "in_repair", "awaiting_approval", "waiting_parts", "ready",
      "ready_unrepaired", "cancelled")),
    ("diagnosing", "Diagnosing", "in_progress", False, False, 48,
     ("in_repair", "awaiting_approval", "waiting_parts", "ready", "ready_unrepaired",
      "cancelled")),
    ("in_repair", "In repair", "in_progress", True, False, 72,
     ("diagnosing", "awaiting_approval", "waiting_parts", "ready", "ready_unrepaired")),
    ("awaiting_approval", "Awaiting your approval", "waiting", False, True, 72,
     ("in_repair", "diagnosing", "ready_unrepaired", "cancelled")),
    ("waiting_parts", "Waiting for parts", "waiting", True, True, 72,
     ("in_repair", "diagnosing", "ready_unrepaired", "cancelled")),
    ("ready", "Ready for pickup", "ready", True, True, None,
     ("collected", "in_repair", "abandoned")),
    ("ready_unrepaired", "Ready for pickup (not repaired)", "ready", False, True, None,
     ("collected", "in_repair", "abandoned")),
    ("collected", "Collected", "closed", True, False, None, ()),
    ("cancelled", "Cancelled", "closed", False, False, None, ()),
    ("abandoned", "Abandoned", "closed", False, False, None, ()),
)  # fmt: skip


def install_default_statuses(status_model, transition_model, default_model) -> None:
    """Creates the default statuses, their moves and each group's default where no status
    with that key exists yet (an installation's own edits are kept). Takes the models so
    that a migration can pass its historical ones."""
    statuses = {}
    for position, (key, label, group, _, notify, hours, _next) in enumerate(DEFAULT_STATUSES):
        statuses[key], _ = status_model.objects.get_or_create(
            key=key,
            defaults={
                "label": label,
                "group": group,
                "position": position,
                "notify_customer": notify,
                "time_limit_hours": hours,
            },
        )
    for key, *_, moves in DEFAULT_STATUSES:
        for target in moves:
            transition_model.objects.get_or_create(source=statuses[key], target=statuses[target])
    for key, _, group, is_default, *_ in DEFAULT_STATUSES:
        if is_default:
            default_model.objects.get_or_create(group=group, defaults={"status": statuses[key]})
