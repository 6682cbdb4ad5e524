"""The one domain error type. Services raise it; the API turns it into docs/api.md's error
envelope (repairshop.api) and the pages put it on their forms."""

from typing import Any

VALIDATION_ERROR = "VALIDATION_ERROR"
INVALID_CUSTOMER = "INVALID_CUSTOMER"
UNAUTHORIZED = "UNAUTHORIZED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
DUPLICATE_EMAIL = "DUPLICATE_EMAIL"
HAS_DEPENDENCIES = "HAS_DEPENDENCIES"
CONFLICT = "CONFLICT"
INVALID_TRANSITION = "INVALID_TRANSITION"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL_ERROR = "INTERNAL_ERROR"
DATABASE_ERROR = "DATABASE_ERROR"

STATUS_BY_CODE = {
    VALIDATION_ERROR: 400,
    INVALID_CUSTOMER: 400,
    UNAUTHORIZED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    DUPLICATE_EMAIL: 409,
    HAS_DEPENDENCIES: 409,
    CONFLICT: 409,
    INVALID_TRANSITION: 409,
    RATE_LIMITED: 429,
    INTERNAL_ERROR: 500,
    DATABASE_ERROR: 503,
}


class DomainError(Exception):
    """A broken business rule, carrying the contract's code (docs/api.md §3).

    `field` is the camelCase API field the error belongs to (the pages map it back to their
    form field); `details` is extra machine-readable data such as {"ticketCount": 3} or
    {"current": {...}}; for validation errors it maps fields to lists of messages.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        if field and details is None:
            self.details = {field: [message]}

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def __repr__(self):
        return f"DomainError({self.code!r}, {self.message!r}, field={self.field!r})"


def validation_error(errors: dict[str, list[str]]) -> DomainError:
    """A VALIDATION_ERROR for several fields at once ({"email": ["Enter a valid email."]})."""
    first_field = next(iter(errors), None)
    message = errors[first_field][0] if first_field else "Invalid input"
    return DomainError(VALIDATION_ERROR, message, field=first_field, details=errors)
