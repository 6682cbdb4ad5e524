"""Repair tickets, the statuses they move through (docs/api.md §12) and the notifications
they send."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Priority(models.IntegerChoices):
    """Stored as a number so that "sort by priority" is sort by severity, on an index."""

    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    URGENT = 4, "Urgent"

    @property
    def api_name(self) -> str:
        return self.name.lower()

    @classmethod
    def from_api_name(cls, name: str) -> "Priority":
        return cls[name.upper()]


class DeviceType(models.TextChoices):
    NONE = "", "—"
    LAPTOP = "laptop", "Laptop"
    DESKTOP = "desktop", "Desktop"
    TABLET = "tablet", "Tablet"
    PHONE = "phone", "Phone"
    PRINTER = "printer", "Printer"
    CONSOLE = "console", "Console"
    OTHER = "other", "Other"


class StatusGroup(models.TextChoices):
    """The five fixed groups, in their order (contract §12). A status's group says what the
    ticket is to part 1 (`completed`) and to auto-assignment (the technician's load)."""

    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting"
    READY = "ready", "Ready"
    CLOSED = "closed", "Closed"


# Part 1's `completed`: true exactly in these groups. The others are a technician's load.
COMPLETED_GROUPS = (StatusGroup.READY, StatusGroup.CLOSED)
OPEN_GROUPS = (StatusGroup.NEW, StatusGroup.IN_PROGRESS, StatusGroup.WAITING)
# The board's columns: every group but the final one.
BOARD_GROUPS = (*OPEN_GROUPS, StatusGroup.READY)
STATUS_KEY_PATTERN = r"^[a-z0-9_]{1,40}$"


class Status(models.Model):
    """A step of the repair, as the shop names it. Shop data: managers edit statuses in the
    admin. A status in use is never deleted (tickets and their history protect it), only
    deactivated; its group is fixed once a ticket is in it (a database trigger,
    tickets/migrations/0007_status_rules)."""

    key = models.CharField(
        "key",
        max_length=40,
        unique=True,
        help_text="A stable name for the API and integrations: a-z, 0-9 and _, 1 to 40 characters.",
    )
    label = models.CharField("label", max_length=100)
    group = models.CharField(
        "group", max_length=16, choices=StatusGroup.choices, db_column="status_group"
    )
    position = models.PositiveSmallIntegerField(
        "position", default=0, help_text="Orders statuses in lists, menus and on the board."
    )
    notify_customer = models.BooleanField(
        "notify customer",
        default=False,
        help_text="Tell the customer when their ticket enters this status.",
    )
    time_limit_hours = models.PositiveSmallIntegerField(
        "time limit (hours)",
        null=True,
        blank=True,
        help_text="How long a ticket may stay in this status before it is overdue (1 to 8760).",
    )
    active = models.BooleanField(
        "active",
        default=True,
        help_text="An inactive status cannot be entered; tickets already in it stay.",
    )
    next = models.ManyToManyField(
        "self",
        through="StatusTransition",
        symmetrical=False,
        related_name="previous",
        blank=True,
        verbose_name="allowed moves",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "statuses"
        ordering = ("position", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(key__regex=STATUS_KEY_PATTERN), name="status_key_slug"
            ),
            models.CheckConstraint(
                condition=Q(group__in=StatusGroup.values), name="status_group_valid"
            ),
            models.CheckConstraint(
                condition=Q(time_limit_hours__isnull=True)
                | Q(time_limit_hours__gte=1, time_limit_hours__lte=8760),
                name="status_time_limit_range",
            ),
        ]
        indexes = [models.Index(fields=["updated_at", "id"], name="status_updated_idx")]

    def __str__(self):
        return self.label

    @property
    def completed(self) -> bool:
        return self.group in COMPLETED_GROUPS

    @property
    def time_limit(self) -> timedelta | None:
        return None if self.time_limit_hours is None else timedelta(hours=self.time_limit_hours)


class StatusTransition(models.Model):
    """One allowed move: a ticket in `source` may move to `target`."""

    source = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="status_transition_unique"),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="status_transition_not_self"
            ),
        ]

    def __str__(self):
        return f"{self.source_id} → {self.target_id}"


class StatusGroupDefault(models.Model):
    """Each group's default status: one row per group (the primary key), pointing at an
    active status of that group (database triggers, tickets/migrations/0007_status_rules). A
    row per group, not a flag per status, so that "exactly one default per group" holds in
    the schema itself, also while the default changes: a flag would pass through "none" or
    "two" in between, which no constraint of SQLite could allow only inside a transaction."""

    group = models.CharField(
        max_length=16, choices=StatusGroup.choices, primary_key=True, db_column="status_group"
    )
    status = models.OneToOneField(Status, on_delete=models.PROTECT, related_name="default_for")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(group__in=StatusGroup.values), name="status_default_group_valid"
            ),
        ]

    def __str__(self):
        return f"{self.group}: {self.status_id}"


def new_group_default() -> int | None:
    """The status a ticket starts in when none is given (contract §12): the new group's
    default."""
    return (
        StatusGroupDefault.objects.filter(group=StatusGroup.NEW)
        .values_list("status_id", flat=True)
        .first()
    )


class Ticket(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="tickets"
    )
    title = models.CharField("title", max_length=200)
    description = models.TextField("description", max_length=10000)
    tech = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name="technician",
    )
    priority = models.PositiveSmallIntegerField(
        "priority", choices=Priority.choices, default=Priority.MEDIUM
    )
    category = models.CharField("category", max_length=100, blank=True, default="")
    estimated_hours = models.DecimalField(
        "estimated hours", max_digits=6, decimal_places=2, null=True, blank=True
    )
    status = models.ForeignKey(
        Status,
        on_delete=models.PROTECT,
        related_name="tickets",
        verbose_name="status",
        default=new_group_default,
    )
    status_changed_at = models.DateTimeField("in this status since", default=timezone.now)
    # status_changed_at + the status's time limit (None without one), kept by the services:
    # "overdue" is then one indexed comparison, for the filter and the data version.
    overdue_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Derived from the status's group (part 1's field; a trigger checks it matches,
    # tickets/migrations/0007_status_rules): stored for the indexes and the counts.
    completed = models.BooleanField("completed", default=False, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField("notes", max_length=10000, blank=True, default="")
    device_type = models.CharField(
        "device type", max_length=16, choices=DeviceType.choices, blank=True, default=""
    )
    device_brand = models.CharField("brand", max_length=100, blank=True, default="")
    device_model = models.CharField("model", max_length=100, blank=True, default="")
    serial_number = models.CharField("serial number", max_length=100, blank=True, default="")
    accessories = models.CharField("accessories", max_length=500, blank=True, default="")
    condition = models.TextField("condition", max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("view_all_tickets", "Can see all tickets, not only their own"),
            ("update_all_tickets", "Can change the status of any ticket"),
            ("change_ticket_status", "Can change the status of their own tickets"),
            ("override_status_rules", "Can move a ticket to any active status"),
            ("hand_over_devices", "Can move tickets into the closed group (hand devices over)"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__in=[p.value for p in Priority]), name="ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(estimated_hours__isnull=True)
                | Q(estimated_hours__gte=0, estimated_hours__lte=1000),
                name="ticket_estimated_hours_range",
            ),
            models.CheckConstraint(
                condition=Q(device_type__in=[d.value for d in DeviceType]),
                name="ticket_device_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(overdue_at__isnull=True)
                | Q(overdue_at__gte=models.F("status_changed_at")),
                name="ticket_overdue_after_status_change",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at", "id"], name="ticket_created_idx"),
            # The front desk's default view: open tickets, newest first.
            models.Index(
                fields=["created_at", "id"],
                name="ticket_open_created_idx",
                condition=Q(completed=False),
            ),
            models.Index(fields=["completed", "created_at", "id"], name="ticket_completed_idx"),
            # "My queue": a technician's open tickets, most urgent and oldest first.
            models.Index(
                fields=["tech", "-priority", "created_at", "id"],
                name="ticket_queue_idx",
                condition=Q(completed=False),
            ),
            models.Index(fields=["tech", "created_at", "id"], name="ticket_tech_created_idx"),
            models.Index(fields=["customer", "created_at", "id"], name="ticket_customer_idx"),
            models.Index(fields=["priority", "id"], name="ticket_priority_idx"),
            models.Index(fields=["title", "id"], name="ticket_title_idx"),
            models.Index(fields=["updated_at", "id"], name="ticket_updated_idx"),
            # The status filters and the board's columns.
            models.Index(fields=["status", "created_at", "id"], name="ticket_status_created_idx"),
            models.Index(
                fields=["status", "-priority", "created_at", "id"], name="ticket_board_idx"
            ),
            models.Index(
                fields=["overdue_at"],
                name="ticket_overdue_idx",
                condition=Q(overdue_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    @property
    def priority_name(self) -> str:
        return Priority(self.priority).api_name

    def is_overdue(self, now=None) -> bool:
        return self.overdue_at is not None and self.overdue_at <= (now or timezone.now())


class StatusChange(models.Model):
    """One entry of a ticket's history: a move from one status to another (the creation is
    the first, from None). Written in the transaction of the move; never edited."""

    # A ticket is never deleted through the application; its history goes with it.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.ForeignKey(
        Status, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="None: the customer (an approval on the status page).",
    )
    comment = models.TextField(max_length=2000, blank=True, default="")
    override = models.BooleanField(default=False)
    notified = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["ticket", "id"], name="status_change_ticket_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_status=models.F("to_status")), name="status_change_moves"
            ),
        ]

    def __str__(self):
        return f"#{self.ticket_id}: {self.from_status_id} → {self.to_status_id}"


class Notification(models.Model):
    """One email to a technician. Written in the same transaction as the change that causes
    it, sent by the task worker; `key` makes a second delivery attempt a no-op."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="notifications")
    recipient = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="notification_status_idx")]

    def __str__(self):
        return f"{self.subject} → {self.recipient} ({self.status})"
