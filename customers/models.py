"""Customers of the shop."""

from django.db import models
from django.db.models.functions import Lower


class Customer(models.Model):
    first_name = models.CharField("first name", max_length=100)
    last_name = models.CharField("last name", max_length=100)
    email = models.EmailField("email", max_length=254)
    phone = models.CharField("phone", max_length=32)
    address1 = models.CharField("address", max_length=200)
    address2 = models.CharField("address line 2", max_length=200, blank=True, default="")
    city = models.CharField("city", max_length=100)
    state = models.CharField("state", max_length=100)
    zip = models.CharField("ZIP code", max_length=20)
    country = models.CharField("country", max_length=2)
    notes = models.TextField("notes", max_length=5000, blank=True, default="")
    active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Case-insensitive and across active and inactive customers (docs/api.md §4).
            models.UniqueConstraint(Lower("email"), name="customer_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="customer_country_iso2"
            ),
        ]
        indexes = [
            # Every sort of the list, with the id tie-break (docs/api.md §1).
            models.Index(fields=["last_name", "id"], name="customer_last_name_idx"),
            models.Index(fields=["first_name", "id"], name="customer_first_name_idx"),
            models.Index(fields=["email", "id"], name="customer_email_idx"),
            models.Index(fields=["created_at", "id"], name="customer_created_idx"),
            models.Index(fields=["active", "last_name", "id"], name="customer_active_idx"),
            models.Index(fields=["updated_at"], name="customer_updated_idx"),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"
