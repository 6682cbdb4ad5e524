"""Forms of the customer pages. They give the labels and the browser's first checks; the
rules themselves (trimming, email, phone, country, duplicates) are the services'."""

from datetime import datetime

from django import forms

from core.validation import PHONE_MESSAGE, parse_timestamp
from customers.queries import SORT_KEYS
from customers.services import CUSTOMER_FIELDS

ACTIVE_CHOICES = [("", "All"), ("true", "Active"), ("false", "Inactive")]
# The pages speak the API's query parameters (docs/api.md §11): the keys of queries.SORT_KEYS.
SORT_CHOICES = [
    ("lastName", "Last name"),
    ("firstName", "First name"),
    ("email", "Email"),
    ("createdAt", "Created"),
]
PAGE_SIZE = 20


class CustomerFilterForm(forms.Form):
    """The customer list's query string: search, active, sortBy, sortOrder, page."""

    search = forms.CharField(label="Search", required=False, max_length=200)
    active = forms.ChoiceField(label="Show", choices=ACTIVE_CHOICES, required=False)
    sortBy = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    sortOrder = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)

    def values(self) -> dict:
        """Cleaned values, each bad one replaced by its default (a mangled bookmark still
        shows the list)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        active = data.get("active") or ""
        sort_by = data.get("sortBy") or "lastName"
        return {
            "search": (data.get("search") or "").strip() or None,
            "active": {"true": True, "false": False}.get(active),
            "active_param": active,
            "sort_by": sort_by,
            "sort_field": SORT_KEYS[sort_by],
            "sort_order": data.get("sortOrder") or "asc",
        }

    def query(self) -> dict:
        """The arguments of queries.customer_list for these filters (rows with ticket counts)."""
        values = self.values()
        return {
            "search": values["search"],
            "active": values["active"],
            "sort_by": values["sort_field"],
            "sort_order": values["sort_order"],
            "include_ticket_count": True,
        }


class CustomerForm(forms.Form):
    """Create and edit. Field names are the services' snake_case names."""

    first_name = forms.CharField(label="First name", max_length=100)
    last_name = forms.CharField(label="Last name", max_length=100)
    email = forms.CharField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    phone = forms.CharField(
        label="Phone",
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        # The service checks the rule (so that its error comes with every other field's);
        # the form states it, in the words the error and the API use.
        help_text=PHONE_MESSAGE,
    )
    address1 = forms.CharField(label="Address", max_length=200)
    address2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    city = forms.CharField(label="City", max_length=100)
    state = forms.CharField(label="State / region", max_length=100)
    zip = forms.CharField(label="ZIP / postcode", max_length=20)
    country = forms.CharField(
        label="Country",
        max_length=2,
        min_length=2,
        initial="US",
        help_text="Two-letter code, such as US, GB or DE.",
        widget=forms.TextInput(attrs={"size": 3, "autocapitalize": "characters"}),
    )
    notes = forms.CharField(
        label="Notes", max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # The updatedAt the page was rendered with: a stale edit gets a conflict, not a silent
    # overwrite (docs/api.md §5).
    updated_at = forms.CharField(required=False, widget=forms.HiddenInput)

    SERVICE_FIELDS = CUSTOMER_FIELDS

    def service_data(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in self.SERVICE_FIELDS}

    def expected_updated_at(self) -> datetime | None:
        return parse_timestamp(self.cleaned_data.get("updated_at"))

    @classmethod
    def initial_from(cls, customer) -> dict:
        initial = {name: getattr(customer, name) for name in cls.SERVICE_FIELDS}
        initial["updated_at"] = customer.updated_at.isoformat()
        return initial
