"""Forms of the ticket pages: the list's filters, check-in (new ticket), edit and status.
They carry the labels and the browser's first checks; the rules are the services'."""

from datetime import datetime

from django import forms

from core.errors import DomainError
from core.validation import parse_timestamp
from tickets.models import OPEN_GROUPS, DeviceType, Priority, StatusGroup
from tickets.queries import (
    SORT_KEYS,
    TicketFilters,
    Workflow,
    active_technicians,
    as_bound,
    workflow,
)

PAGE_SIZE = 25
# The keys of queries.SORT_KEYS (the API's sortBy names), labelled, in the menu's order.
SORT_CHOICES = [
    ("createdAt", "Opened"),
    ("updatedAt", "Last change"),
    ("priority", "Priority"),
    ("title", "Title"),
    ("id", "Number"),
    ("status", "Status"),
]
PRIORITY_CHOICES = [(p.api_name, p.label) for p in Priority]


def technician_choices(*, empty_label: str) -> list[tuple[str, str]]:
    """Active technicians by email (what the services resolve), for a select."""
    technicians = (
        active_technicians()
        .order_by("first_name", "last_name", "username")
        .only("email", "first_name", "last_name", "username")
    )
    return [("", empty_label)] + [
        (tech.email, tech.get_full_name() or tech.username) for tech in technicians
    ]


class CommaListField(forms.MultipleChoiceField):
    """Several values, as the API takes them: repeated (?status=a&status=b), comma-separated
    (?status=a,b) or both. Every unknown value is named in one error."""

    def to_python(self, value):
        items = [value] if isinstance(value, str) else super().to_python(value)
        return [part.strip() for item in items for part in item.split(",") if part.strip()]

    def validate(self, value):
        unknown = [item for item in value if item and not self.valid_value(item)]
        if unknown:
            raise forms.ValidationError(
                f"Unknown: {', '.join(unknown)}. Choose from {self.known()}."
            )

    def known(self) -> str:
        return ", ".join(str(key) for key, _ in self.choices)


# Quick filters of the ticket list, each one click: (label, query string).
QUICK_FILTERS = (
    ("Open", "statusGroup=" + ",".join(OPEN_GROUPS)),
    ("Waiting for pickup", f"statusGroup={StatusGroup.READY}"),
    ("Overdue", "overdue=true"),
    ("Everything", "completed="),
)
# The query parameters that filter the list: a query without any is the default view.
FILTER_PARAMS = (
    "search",
    "completed",
    "tech",
    "priority",
    "customerId",
    "dateFrom",
    "dateTo",
    "status",
    "statusGroup",
    "overdue",
)


class TicketFilterForm(forms.Form):
    """The ticket list's query string, with the API's parameter names (docs/api.md §11)."""

    search = forms.CharField(label="Search", required=False, max_length=200)
    completed = forms.ChoiceField(
        label="Open or completed",
        required=False,
        choices=[("", "Open and completed"), ("false", "Open"), ("true", "Completed")],
    )
    tech = forms.ChoiceField(label="Technician", required=False)
    priority = forms.ChoiceField(
        label="Priority", required=False, choices=[("", "Any priority"), *PRIORITY_CHOICES]
    )
    status = CommaListField(label="Status", required=False)
    statusGroup = CommaListField(label="Group", required=False, choices=StatusGroup.choices)
    overdue = forms.ChoiceField(
        label="Overdue",
        required=False,
        choices=[("", "Overdue or not"), ("true", "Overdue"), ("false", "Not overdue")],
    )
    customerId = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    dateFrom = forms.DateField(
        label="Opened from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    dateTo = forms.DateField(
        label="Opened until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sortBy = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    sortOrder = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)

    def __init__(self, *args, flow: Workflow | None = None, technicians: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.flow = flow or workflow()
        self.fields["status"].choices = [(s.key, s.label) for s in self.flow.statuses]
        if technicians:
            self.fields["tech"].choices = technician_choices(empty_label="Any technician")
        else:
            del self.fields["tech"]

    def _date_in_range(self, name: str, *, end: bool):
        """The API's rule (tickets.queries.as_bound): 9999-12-31 has no next day to end at,
        0001-01-01 in a zone east of UTC starts before year 1."""
        value = self.cleaned_data.get(name)
        if value is not None:
            try:
                as_bound(value, field=name, end=end)
            except DomainError as error:
                raise forms.ValidationError(error.message) from None
        return value

    def clean_dateFrom(self):
        return self._date_in_range("dateFrom", end=False)

    def clean_dateTo(self):
        return self._date_in_range("dateTo", end=True)

    def values(self) -> dict:
        """Cleaned values, each bad one dropped (a mangled bookmark still shows the list)."""
        self.is_valid()
        data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        sort_by = data.get("sortBy") or "createdAt"
        return {
            "search": (data.get("search") or "").strip() or None,
            "completed": {"true": True, "false": False}.get(data.get("completed") or ""),
            "completed_param": data.get("completed") or "",
            "tech": data.get("tech") or None,
            "priority": data.get("priority") or None,
            "statuses": data.get("status") or [],
            "groups": data.get("statusGroup") or [],
            "overdue": {"true": True, "false": False}.get(data.get("overdue") or ""),
            "overdue_param": data.get("overdue") or "",
            "customer_id": data.get("customerId"),
            "date_from": data.get("dateFrom"),
            "date_to": data.get("dateTo"),
            "sort_by": sort_by,
            "sort_order": data.get("sortOrder") or "desc",
        }

    def query(self) -> TicketFilters:
        """The filters for queries.ticket_list."""
        values = self.values()
        return TicketFilters(
            search=values["search"],
            completed=values["completed"],
            tech_email=values["tech"],
            customer_id=values["customer_id"],
            priority=values["priority"],
            statuses=values["statuses"] or None,
            groups=values["groups"] or None,
            overdue=values["overdue"],
            date_from=values["date_from"],
            date_to=values["date_to"],
            sort_by=SORT_KEYS[values["sort_by"]],
            sort_order=values["sort_order"],
        )


class CustomerPickerForm(forms.Form):
    """The check-in page's customer search (?customer_search=)."""

    customer_search = forms.CharField(required=False, max_length=200)

    def search(self) -> str:
        """The search, or "" when it is not one (NUL, over-long): no customers listed."""
        if not self.is_valid():
            return ""
        return self.cleaned_data["customer_search"].strip()


class TicketFieldsMixin(forms.Form):
    """The fields a ticket is checked in and edited with, in the order the clerk asks."""

    device_type = forms.ChoiceField(
        label="Device type", required=False, choices=[("", "Choose…"), *DeviceType.choices[1:]]
    )
    device_brand = forms.CharField(label="Brand", max_length=100, required=False)
    device_model = forms.CharField(label="Model", max_length=100, required=False)
    serial_number = forms.CharField(label="Serial number", max_length=100, required=False)
    title = forms.CharField(
        label="Problem (short summary)",
        max_length=200,
        help_text="For example: “Does not power on after a coffee spill”.",
    )
    description = forms.CharField(
        label="What the customer reports",
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    accessories = forms.CharField(
        label="Accessories left with the device",
        max_length=500,
        required=False,
        help_text="Charger, bag, case…",
    )
    condition = forms.CharField(
        label="Condition at check-in",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Visible damage, scratches, missing keys…",
    )
    priority = forms.ChoiceField(label="Priority", choices=PRIORITY_CHOICES, initial="medium")
    tech = forms.ChoiceField(label="Technician", required=False)
    category = forms.CharField(label="Category", max_length=100, required=False)
    estimated_hours = forms.DecimalField(
        label="Estimated hours",
        required=False,
        min_value=0,
        max_value=1000,
        decimal_places=2,
        max_digits=6,
        widget=forms.NumberInput(attrs={"step": "0.25", "inputmode": "decimal"}),
    )
    notes = forms.CharField(
        label="Notes", max_length=10000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    SERVICE_FIELDS = (
        "title",
        "description",
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

    def service_data(self) -> dict:
        """The services' data dict: the priority by name and the technician by email, as the
        API sends them (the services look them up). No technician chosen: `tech` is None."""
        data = {name: self.cleaned_data.get(name) for name in self.SERVICE_FIELDS}
        return data | {"tech": self.cleaned_data.get("tech") or None}


class TicketCreateForm(TicketFieldsMixin):
    customer_mode = forms.ChoiceField(
        label="Customer",
        choices=[("existing", "Existing customer"), ("new", "New customer (walk-in)")],
        initial="existing",
        widget=forms.RadioSelect,
    )
    customer_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tech"].choices = technician_choices(
            empty_label="Assign automatically (least busy technician)"
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("customer_mode") == "existing" and not cleaned.get("customer_id"):
            self.add_error("customer_id", "Choose the customer, or add a new one.")
        return cleaned

    def walk_in(self) -> bool:
        """The ticket is for a new customer entered on the page (a walk-in)."""
        return self.data.get("customer_mode") == "new"


class TicketEditForm(TicketFieldsMixin):
    updated_at = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tech"].choices = technician_choices(empty_label="Unassigned")

    @classmethod
    def initial_from(cls, ticket) -> dict:
        initial = {name: getattr(ticket, name) for name in cls.SERVICE_FIELDS}
        initial["priority"] = ticket.priority_name
        initial["tech"] = ticket.tech.email if ticket.tech else ""
        initial["updated_at"] = ticket.updated_at.isoformat()
        return initial

    def expected_updated_at(self) -> datetime | None:
        return parse_timestamp(self.cleaned_data.get("updated_at"))


class StatusForm(forms.Form):
    """A move to `status` (a status key) with an optional comment for the history, or part
    1's complete / reopen (`completed`) with optional notes (left empty: the notes stay as
    they are). The service checks which of the two was given and every rule of the move."""

    status = forms.CharField(max_length=100, required=False)
    comment = forms.CharField(label="Comment (optional)", max_length=2000, required=False)
    completed = forms.ChoiceField(
        choices=[("true", "Completed"), ("false", "Open")], required=False
    )
    notes = forms.CharField(label="Notes (optional)", max_length=10000, required=False)
    updated_at = forms.CharField(required=False)

    def values(self) -> dict:
        notes = self.cleaned_data.get("notes") or ""
        completed = self.cleaned_data.get("completed")
        return {
            "status": self.cleaned_data.get("status") or None,
            "comment": self.cleaned_data.get("comment") or None,
            "completed": None if not completed else completed == "true",
            "notes": notes if notes.strip() else None,
            "expected_updated_at": parse_timestamp(self.cleaned_data.get("updated_at")),
        }
