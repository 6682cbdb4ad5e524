"""Tickets, their statuses and their notifications in the admin. Ticket and status writes go
through tickets.services (auto-assignment, the technician's email, the status rules,
activity entries); no ticket is hard-deleted, a status only when nothing names it.
Notifications are read-only: the worker owns them."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin_base import ReadOnlyAdmin, ServiceWriteAdmin, error_message
from core.errors import DomainError
from tickets import queries
from tickets.models import (
    Notification,
    Status,
    StatusGroup,
    StatusGroupDefault,
    StatusTransition,
    Ticket,
)
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


# Form field -> the field status_save takes. The allowed moves are not named `next` on the
# form: the admin refuses a many-to-many with its own through model in its fieldsets.
STATUS_SERVICE_KEYS = {"allowed_moves": "next"}
STATUS_FORM_FIELDS = (
    "key",
    "label",
    "group",
    "position",
    "notify_customer",
    "time_limit_hours",
    "active",
    "is_default",
    "allowed_moves",
)
STATUS_FORM_KEYS = {value: key for key, value in STATUS_SERVICE_KEYS.items()}


class StatusAdminForm(forms.ModelForm):
    # Plain fields without the model's bounds: the one message for each rule is the
    # service's (tickets.services.check_status_data), not a second one of the form's.
    key = forms.CharField(
        label="key",
        strip=False,
        help_text="A stable name for the API and integrations: a-z, 0-9 and _, 1 to 40 "
        "characters. It cannot change once the status exists.",
    )
    position = forms.IntegerField(
        label="position", help_text="Orders statuses in lists, menus and on the board."
    )
    time_limit_hours = forms.IntegerField(
        label="time limit (hours)",
        required=False,
        help_text="How long a ticket may stay in this status before it is overdue (1 to "
        "8760); empty: no limit.",
    )
    is_default = forms.BooleanField(
        label="default of its group",
        required=False,
        help_text="Where part 1's complete and reopen, and new tickets, go in this group. "
        "Each group has exactly one: ticking this makes the group's current default an "
        "ordinary status.",
    )
    allowed_moves = forms.ModelMultipleChoiceField(
        label="allowed moves",
        queryset=Status.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The statuses a ticket in this one may move to (managers may make any move, "
        "logged as an override).",
    )

    class Meta:
        model = Status
        fields = STATUS_FORM_FIELDS[:7]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        statuses = list(Status.objects.order_by("position", "id"))
        moves = self.fields["allowed_moves"]
        # The queryset accepts every status, the status itself included, so that a move to
        # itself gets the service's message; the checkboxes do not offer it.
        moves.queryset = Status.objects.order_by("position", "id")
        moves.widget.choices = [
            (status.pk, f"{status.label} ({status.key}, {StatusGroup(status.group).label})")
            for status in statuses
            if status.pk != self.instance.pk
        ]
        if self.instance.pk is not None:
            self.fields["is_default"].initial = StatusGroupDefault.objects.filter(
                status=self.instance
            ).exists()
            moves.initial = list(
                StatusTransition.objects.filter(source=self.instance).values_list(
                    "target_id", flat=True
                )
            )

    def service_data(self) -> dict:
        return {
            STATUS_SERVICE_KEYS.get(name, name): self.cleaned_data[name]
            for name in STATUS_FORM_FIELDS
            if name in self.cleaned_data and name in self.fields
        }

    def clean(self):
        # Not ModelForm.clean(): its uniqueness and constraint checks would repeat, in the
        # database's words, rules the service states in the shop's.
        from tickets import services

        existing = self.instance if self.instance.pk is not None else None
        check = services.check_status_data(status=existing, data=self.service_data())
        for field, field_messages in check.errors.items():
            name = STATUS_FORM_KEYS.get(field, field)
            if name in self.errors:
                continue  # the form's own message for it (not a number, not a choice) stands
            for message in field_messages:
                self.add_error(name if name in self.fields else None, message)
        return self.cleaned_data


@admin.register(Status)
class StatusAdmin(ServiceWriteAdmin):
    form = StatusAdminForm
    list_display = (
        "label",
        "key",
        "group",
        "position",
        "is_default",
        "notify_customer",
        "time_limit_hours",
        "active",
        "allowed_moves",
    )
    list_display_links = ("label",)
    list_filter = ("group", "active")
    search_fields = ("label", "key")
    ordering = ("position", "id")
    fieldsets = (
        (None, {"fields": ("label", "key", "group", "position", "active")}),
        ("Defaults and customers", {"fields": ("is_default", "notify_customer")}),
        ("Timing and moves", {"fields": ("time_limit_hours", "allowed_moves")}),
    )
    list_per_page = 100  # a shop has tens of statuses: one page

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                is_group_default=Exists(StatusGroupDefault.objects.filter(status=OuterRef("pk")))
            )
            .prefetch_related(Prefetch("next", queryset=Status.objects.order_by("position", "id")))
        )

    def get_readonly_fields(self, request, obj=None):
        return ("key",) if obj is not None else ()

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        last = Status.objects.order_by("-position").values_list("position", flat=True).first()
        initial.setdefault("position", 0 if last is None else last + 1)
        return initial

    @admin.display(description="default", boolean=True, ordering="-is_group_default")
    def is_default(self, status):
        return status.is_group_default

    @admin.display(description="allowed moves")
    def allowed_moves(self, status):
        return ", ".join(target.label for target in status.next.all()) or "—"

    def save_model(self, request, obj, form, change):
        from tickets import services

        saved = services.status_save(
            actor=request.user, status_id=obj.pk if change else None, data=form.service_data()
        )
        # The admin goes on with `obj` (its log entry, the redirect): give it what was saved.
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in obj._meta.fields})
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # the moves were written by status_save, in its transaction

    def get_deleted_objects(self, objs, request):
        """A status in use is Django's "cannot delete" page, saying what holds it, without
        collecting every ticket ever in it (a shop's "Collected" holds most of them)."""
        from tickets import services

        protected = [
            f"{status.label}: {reason}"
            for status in objs
            for reason in services.status_dependencies(status)[0]
        ]
        if protected:
            return [], {}, set(), protected
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj):
        from tickets import services

        services.status_delete(actor=request.user, status_id=obj.pk)

    def delete_queryset(self, request, queryset):
        from tickets import services

        for status in queryset:
            services.status_delete(actor=request.user, status_id=status.pk)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            # Something came to hold the status between the confirmation and the delete.
            self.message_user(request, error_message(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:tickets_status_changelist"))

    def get_urls(self):
        return [
            path(
                "map/",
                self.admin_site.admin_view(self.transition_map_view),
                name="tickets_status_map",
            ),
            *super().get_urls(),
        ]

    def transition_map_view(self, request):
        """Every status against every status: the allowed moves at a glance."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Transition map",
            "map": queries.transition_map(user=request.user),
        }
        return TemplateResponse(request, "admin/tickets/status/transition_map.html", context)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "subject", "ticket", "status", "attempts", "sent_at")
    list_filter = ("status",)
    list_select_related = ("ticket",)
    search_fields = ("recipient", "subject", "ticket__id__exact")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
