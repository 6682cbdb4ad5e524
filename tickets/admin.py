"""Tickets and their notifications in the admin. Ticket writes go through tickets.services
(auto-assignment, the technician's email, activity entries); nothing is hard-deleted.
Notifications are read-only: the worker owns them."""

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.core.paginator import Paginator

from core.admin_base import ReadOnlyAdmin, ServiceWriteAdmin
from tickets.models import Notification, Status, StatusGroup, StatusGroupDefault, Ticket
from tickets.queries import counted_tickets

# Form field -> the key the services take.
SERVICE_KEYS = {"customer": "customer_id"}
EDIT_FIELDS = (
    "customer",
    "title",
    "description",
    "tech",
    "priority",
    "category",
    "estimated_hours",
    "notes",
    "device_type",
    "device_brand",
    "device_model",
    "serial_number",
    "accessories",
    "condition",
)


def _service_data(form, names) -> dict:
    data = {}
    for name in names:
        value = form.cleaned_data[name]
        if name == "customer":
            value = value.pk if value is not None else None
        data[SERVICE_KEYS.get(name, name)] = value
    return data


class _CountedPaginator(Paginator):
    def __init__(self, *args, total: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.__dict__["count"] = total  # Paginator.count is a cached_property


@admin.register(Ticket)
class TicketAdmin(ServiceWriteAdmin):
    # "#number title" in one cell, as on the ticket pages: each cell of each row costs the
    # admin's generic lookup and formatting, and the changelist is rendered 25 rows at a time
    # on every view (benchmark, docs/benchmarks.md).
    list_display = ("ticket", "customer", "tech", "priority", "status_label", "created_at")
    # One link a row: each is a reverse() per row, a tenth of the changelist's rendering.
    list_display_links = ("ticket",)
    list_filter = ("status", "completed", "priority", "device_type")
    list_select_related = ("customer", "tech", "status")
    search_fields = (
        "id__exact",
        "title",
        "serial_number",
        "customer__last_name",
        "customer__email",
    )
    ordering = ("-created_at", "-id")
    autocomplete_fields = ("customer", "tech")
    readonly_fields = ("status_changed_at", "completed_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("customer", "title", "description", "tech", "priority", "category")}),
        (
            "Device",
            {
                "fields": (
                    "device_type",
                    "device_brand",
                    "device_model",
                    "serial_number",
                    "accessories",
                    "condition",
                )
            },
        ),
        (
            "Progress",
            {
                "fields": (
                    "estimated_hours",
                    "status",
                    "status_changed_at",
                    "notes",
                    "completed_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    show_full_result_count = False  # a second COUNT(*) over the whole table on every search
    # The default 100 rows made the changelist cost ~40 ms of CPU a view; 20 rows, ~13 ms.
    list_per_page = 20

    @admin.display(description="Ticket", ordering="-id")
    def ticket(self, ticket):
        return f"#{ticket.pk} {ticket.title}"

    @admin.display(description="Status", ordering="status__position")
    def status_label(self, ticket):
        return ticket.status.label

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "status":
            # A move goes through the service's rules (a manager's is an override); only
            # an active status can be entered.
            kwargs["queryset"] = Status.objects.filter(active=True).order_by("position", "id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and "status" in form.base_fields:
            form.base_fields["status"].required = False  # blank: the new group's default
        return form

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        default = StatusGroupDefault.objects.filter(group=StatusGroup.NEW).first()
        if default is not None:
            initial.setdefault("status", default.status_id)
        return initial

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        """The unfiltered changelist (only sorting and paging in the URL) takes its total from
        the trigger-kept counts (tickets.queries.counted_tickets) instead of a COUNT(*) of
        every ticket on each view: ~15 ms at 200k tickets, ten times that at 2M."""
        total = None
        if set(request.GET) <= {ORDER_VAR, PAGE_VAR}:
            total = counted_tickets()
        if total is None:
            return super().get_paginator(
                request, queryset, per_page, orphans, allow_empty_first_page
            )
        return _CountedPaginator(queryset, per_page, orphans, allow_empty_first_page, total=total)

    def has_delete_permission(self, request, obj=None):
        return False  # this also takes "delete selected" off the actions

    def save_model(self, request, obj, form, change):
        from tickets import services

        if not change:
            data = _service_data(form, EDIT_FIELDS)
            if form.cleaned_data.get("status") is not None:
                data["status"] = form.cleaned_data["status"].key
            if data.get("tech") is None:
                del data["tech"]  # absent means auto-assign (docs/api.md §5)
            saved = services.ticket_create(actor=request.user, data=data)
        else:
            changed = set(form.changed_data)
            saved = obj
            fields = [name for name in EDIT_FIELDS if name in changed]
            if fields:
                saved = services.ticket_update(
                    actor=request.user, ticket_id=obj.pk, data=_service_data(form, fields)
                )
            if "status" in changed:
                saved = services.ticket_set_status(
                    actor=request.user, ticket_id=obj.pk, status=form.cleaned_data["status"]
                )
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in obj._meta.fields})


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "subject", "ticket", "status", "attempts", "sent_at")
    list_filter = ("status",)
    list_select_related = ("ticket",)
    search_fields = ("recipient", "subject", "ticket__id__exact")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
