"""Writes on customers (docs/api.md §4): every rule of a create, update or deactivation, once.

Each function checks the permission (docs/api.md §6) first, validates and normalises the input,
then writes the row and its activity entry in one transaction.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from accounts import permissions
from accounts.permissions import NotFound
from core import errors
from core.activity import record_activity
from core.errors import DomainError
from core.validation import (
    FieldErrors,
    clean_bool,
    clean_country,
    clean_email,
    clean_phone,
    clean_text,
    full_clean,
    is_storable_id,
)
from customers.models import Customer

DUPLICATE_EMAIL_MESSAGE = "Customer with this email already exists"
CONFLICT_MESSAGE = "This customer was changed by someone else. Reload and try again."
EMAIL_CONSTRAINT = "customer_email_ci_unique"

# field -> (max length, required). email, phone and country have their own rules below.
TEXT_FIELDS: dict[str, tuple[int, bool]] = {
    "first_name": (100, True),
    "last_name": (100, True),
    "address1": (200, True),
    "address2": (200, False),
    "city": (100, True),
    "state": (100, True),
    "zip": (20, True),
    "notes": (5000, False),
}
REQUIRED_FIELDS = [f for f, (_, required) in TEXT_FIELDS.items() if required] + [
    "email",
    "phone",
    "country",
]
# What a customer is written with, in the order the page form and the admin show it.
CUSTOMER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "notes",
)
WRITABLE_FIELDS = frozenset([*CUSTOMER_FIELDS, "active"])


class _Denied(Exception):
    """Raised inside a transaction to roll it back; the denial is logged outside it."""

    def __init__(self, action: str):
        self.action = action


def clean_customer_data(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validates and normalises customer fields (docs/api.md §4); raises one VALIDATION_ERROR
    listing every bad field (snake_case names)."""
    field_errors = FieldErrors()
    for key in data:
        if key not in WRITABLE_FIELDS:
            field_errors.add(key, "Unknown field.")
    if not partial:
        for key in REQUIRED_FIELDS:
            if key not in data:
                field_errors.add(key, "This field is required.")
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if key in TEXT_FIELDS:
            max_length, required = TEXT_FIELDS[key]
            cleaned[key] = clean_text(
                value, field=key, errors=field_errors, max_length=max_length, required=required
            )
        elif key == "email":
            cleaned[key] = clean_email(value, field=key, errors=field_errors)
        elif key == "phone":
            cleaned[key] = clean_phone(value, field=key, errors=field_errors)
        elif key == "country":
            cleaned[key] = clean_country(value, field=key, errors=field_errors)
        elif key == "active":
            cleaned[key] = clean_bool(value, field=key, errors=field_errors)
    field_errors.raise_if_any()
    return cleaned


def _duplicate_email() -> DomainError:
    return DomainError(errors.DUPLICATE_EMAIL, DUPLICATE_EMAIL_MESSAGE, field="email")


def _email_taken(email: str, *, exclude_pk: int | None = None) -> bool:
    # Lower(email) = lower(value) is what the unique index is built on, so this uses it.
    qs = Customer.objects.annotate(email_lower=Lower("email")).filter(email_lower=email.lower())
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _is_email_violation(exc: IntegrityError) -> bool:
    # PostgreSQL: 'violates unique constraint "customer_email_ci_unique"'; SQLite: 'UNIQUE
    # constraint failed: index 'customer_email_ci_unique''.
    return EMAIL_CONSTRAINT in str(exc)


def _lock_customer(customer_id: int) -> Customer:
    # FOR NO KEY UPDATE, like the ticket services' locks: it still serialises with a ticket
    # created for this customer (which takes the same lock), but leaves the row free for the
    # FOR KEY SHARE of other transactions' deferred foreign-key checks (no deadlock at COMMIT).
    if not is_storable_id(customer_id):
        raise NotFound("Customer not found")
    try:
        return Customer.objects.select_for_update(no_key=True).get(pk=customer_id)
    except Customer.DoesNotExist:
        raise NotFound("Customer not found") from None


def _check_version(customer: Customer, expected_updated_at: datetime | None) -> None:
    # Compared after the row lock, so of two writers holding the same updatedAt exactly one
    # gets through.
    if expected_updated_at is not None and expected_updated_at != customer.updated_at:
        raise DomainError(errors.CONFLICT, CONFLICT_MESSAGE, details={"current": customer})


def _refuse_if_has_tickets(customer: Customer) -> None:
    ticket_count = customer.tickets.count()
    if ticket_count:
        raise DomainError(
            errors.HAS_DEPENDENCIES,
            f"Customer has {ticket_count} ticket(s) and cannot be deactivated",
            details={"ticketCount": ticket_count},
        )


def _json_safe(value):
    return value.isoformat() if isinstance(value, datetime) else value


def customer_create(*, actor, data: dict[str, Any]) -> Customer:
    """Creates a customer; DUPLICATE_EMAIL when any customer has that email in any case."""
    permissions.require(
        permissions.can_create_customers(actor),
        actor,
        action="customer:create",
        object_type="customer",
    )
    cleaned = clean_customer_data(data, partial=False)
    # The friendly answer; the unique index below is what makes it true under concurrency.
    if _email_taken(cleaned["email"]):
        raise _duplicate_email()
    customer = Customer(**cleaned)
    full_clean(customer)
    try:
        with transaction.atomic():
            customer.save()
            record_activity(
                actor=actor,
                action="customer:create",
                object_type="customer",
                object_id=customer.pk,
                metadata={
                    "changes": {k: {"old": None, "new": _json_safe(v)} for k, v in cleaned.items()}
                },
            )
    except IntegrityError as exc:
        if _is_email_violation(exc):
            raise _duplicate_email() from None
        raise
    return customer


def customer_update(
    *,
    actor,
    customer_id: int,
    data: dict[str, Any],
    expected_updated_at: datetime | None = None,
) -> Customer:
    """Partial update. `active: False` is a deactivation: it goes through customer_deactivate
    (the DELETE's function: its permission, its HAS_DEPENDENCIES rule, its activity entry),
    in the same transaction as the other fields. `active: True` is a reactivation (the same
    permission), when the customer is inactive."""
    permissions.require(
        permissions.can_edit_customers(actor),
        actor,
        action="customer:update",
        object_type="customer",
        object_id=customer_id,
    )
    cleaned = clean_customer_data(data, partial=True)
    deactivating = cleaned.get("active") is False
    if deactivating:
        cleaned.pop("active")
        # Here, outside the transaction, so that a denial's log entry is kept.
        _require_deactivation(actor, customer_id)
    if "email" in cleaned and _email_taken(cleaned["email"], exclude_pk=customer_id):
        raise _duplicate_email()
    try:
        with transaction.atomic():
            customer = _lock_customer(customer_id)
            _check_version(customer, expected_updated_at)
            changes = {
                key: {"old": _json_safe(getattr(customer, key)), "new": _json_safe(value)}
                for key, value in cleaned.items()
                if getattr(customer, key) != value
            }
            reactivation = changes.pop("active", None)
            if reactivation is not None and not permissions.can_deactivate_customers(actor):
                raise _Denied("customer:reactivate")
            if changes or reactivation is not None:
                for key, value in cleaned.items():
                    setattr(customer, key, value)
                full_clean(customer)
                customer.save()
            if changes:
                record_activity(
                    actor=actor,
                    action="customer:update",
                    object_type="customer",
                    object_id=customer.pk,
                    metadata={"changes": changes},
                )
            if reactivation is not None:
                record_activity(
                    actor=actor,
                    action="customer:reactivate",
                    object_type="customer",
                    object_id=customer.pk,
                    metadata={"changes": {"active": reactivation}},
                )
            if deactivating:
                customer = customer_deactivate(actor=actor, customer_id=customer.pk)
    except IntegrityError as exc:
        if _is_email_violation(exc):
            raise _duplicate_email() from None
        raise
    except _Denied as denied:
        # Outside the rolled-back transaction, so the denial's log entry is kept.
        permissions.deny(actor, action=denied.action, object_type="customer", object_id=customer_id)
    return customer


def _require_deactivation(actor, customer_id: int) -> None:
    permissions.require(
        permissions.can_deactivate_customers(actor),
        actor,
        action="customer:deactivate",
        object_type="customer",
        object_id=customer_id,
    )


def customer_deactivate(
    *, actor, customer_id: int, expected_updated_at: datetime | None = None
) -> Customer:
    """Soft delete: `active` becomes False. Refused (HAS_DEPENDENCIES) while the customer
    has any ticket, open or completed. Deactivating an inactive customer changes nothing.
    The one deactivation: DELETE, PATCH `active: false`, the pages and the admin."""
    _require_deactivation(actor, customer_id)
    with transaction.atomic():
        # The lock also makes a concurrent ticket_create for this customer wait, so a
        # ticket cannot slip in between the count and the deactivation.
        customer = _lock_customer(customer_id)
        _check_version(customer, expected_updated_at)
        _refuse_if_has_tickets(customer)
        if not customer.active:
            return customer
        customer.active = False
        customer.save(update_fields=["active", "updated_at"])
        record_activity(
            actor=actor,
            action="customer:deactivate",
            object_type="customer",
            object_id=customer.pk,
            metadata={"changes": {"active": {"old": True, "new": False}}},
        )
    return customer
