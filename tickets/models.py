"""Repair tickets and the notifications they send."""

import uuid

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
    completed = models.BooleanField("completed", default=False)
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
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    @property
    def priority_name(self) -> str:
        return Priority(self.priority).api_name


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
