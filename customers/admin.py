"""Customers in the admin. Writes go through customers.services, so the admin obeys the same
rules (deactivation only without tickets, activity entries) as the pages and the API.
Nothing is hard-deleted."""

from django import forms
from django.contrib import admin, messages

from core.admin_base import ServiceWriteAdmin, error_message
from core.errors import DomainError
from customers import services
from customers.models import Customer

EDITABLE_FIELDS = (*services.CUSTOMER_FIELDS, "active")


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = EDITABLE_FIELDS

    def clean_country(self):
        # "us" is accepted as the API accepts it; the model's check wants "US".
        return self.cleaned_data["country"].strip().upper()


@admin.register(Customer)
class CustomerAdmin(ServiceWriteAdmin):
    form = CustomerAdminForm
    list_display = ("last_name", "first_name", "email", "phone", "city", "country", "active")
    list_display_links = ("last_name", "first_name")
    list_filter = ("active",)
    search_fields = ("last_name", "first_name", "email", "phone")
    ordering = ("last_name", "id")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "email", "phone", "active")}),
        ("Address", {"fields": ("address1", "address2", "city", "state", "zip", "country")}),
        (None, {"fields": ("notes", "created_at", "updated_at")}),
    )
    actions = ["deactivate_selected"]
    show_full_result_count = False  # a second COUNT(*) over the whole table on every search

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            saved = services.customer_update(actor=request.user, customer_id=obj.pk, data=data)
        else:
            data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
            saved = services.customer_create(actor=request.user, data=data)
        # The admin goes on with `obj` (its log entry, the redirect): give it what was saved.
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in obj._meta.fields})

    @admin.action(description="Deactivate selected customers", permissions=["deactivate"])
    def deactivate_selected(self, request, queryset):
        from customers import services

        done = 0
        for customer in queryset.filter(active=True).only("pk", "first_name", "last_name"):
            try:
                services.customer_deactivate(actor=request.user, customer_id=customer.pk)
            except DomainError as exc:
                self.message_user(request, f"{customer}: {error_message(exc)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"Deactivated {done} customer(s).", messages.SUCCESS)

    def has_deactivate_permission(self, request):
        return request.user.has_perm("customers.delete_customer")
