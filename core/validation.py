"""Field rules shared by the services (docs/api.md §1, §4, §5): trimming, lengths, NUL bytes,
email, phone and country. Services collect the messages per field and raise one
VALIDATION_ERROR, so every rule is written here once."""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

REQUIRED = "This field is required."
NUL_MESSAGE = "Must not contain NUL characters."

# ISO 3166-1 alpha-2, all 249 officially assigned codes (Debian iso-codes 3166-1). Kept in
# code so that validation needs no package and no network.
_COUNTRY_CODES_TEXT = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
ZW
"""
COUNTRY_CODES = frozenset(_COUNTRY_CODES_TEXT.split())

# The one phone rule (docs/api.md §4): only digits, spaces and + ( ) - ., at least 7 digits.
# The API schema publishes the pattern and checks it, the services and the forms check it
# with phone_is_valid; all of them answer PHONE_MESSAGE.
PHONE_PATTERN = r"^[ +().\-]*(?:[0-9][ +().\-]*){7,}$"
PHONE_MESSAGE = "Use only digits, spaces and + ( ) - . with at least 7 digits."
_PHONE = re.compile(PHONE_PATTERN)
_email_validator = EmailValidator()


class FieldErrors:
    """Collects messages per field, then raises them as one VALIDATION_ERROR."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            from core.errors import validation_error

            raise validation_error(self.errors)


MAX_ID = 2**63 - 1


def is_storable_id(value) -> bool:
    """An id that can exist: SQLite raises OverflowError on a larger integer."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def has_nul(value: str) -> bool:
    # PostgreSQL refuses NUL in text (a 500 if it got that far); SQLite would store it.
    return "\x00" in value


_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def storable_text(value: str, *, max_length: int | None = None) -> str:
    """Untrusted text made safe for a log entry or a JSON column: NUL (PostgreSQL refuses it
    in text and jsonb), lone surrogates (not encodable as UTF-8) and other control characters
    become visible escapes ("\\x00", "\\ud800"); over-long text is cut, marked with "…"."""
    escaped = _UNSTORABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)
    if max_length is not None and len(escaped) > max_length:
        escaped = escaped[: max_length - 1] + "…"
    return escaped


def clean_text(
    value: Any, *, field: str, errors: FieldErrors, max_length: int, required: bool
) -> str | None:
    """Trims a string and checks it; returns None (and records why) when it is invalid.
    `None` is "" for an optional field."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, "Must be a string.")
        return None
    if has_nul(value):
        errors.add(field, NUL_MESSAGE)
        return None
    value = value.strip()
    if required and not value:
        errors.add(field, REQUIRED)
        return None
    if len(value) > max_length:
        errors.add(field, f"Ensure this value has at most {max_length} characters.")
        return None
    return value


def normalise_email(value: str) -> str:
    """Trimmed, domain lower-cased (the local part is the mailbox owner's business)."""
    value = value.strip()
    local, sep, domain = value.rpartition("@")
    return f"{local}{sep}{domain.lower()}" if sep else value


def clean_email(value: Any, *, field: str, errors: FieldErrors) -> str | None:
    value = clean_text(value, field=field, errors=errors, max_length=254, required=True)
    if value is None:
        return None
    value = normalise_email(value)
    if len(value) > 254:  # lower-casing can lengthen some characters ("İ" becomes two)
        errors.add(field, "Ensure this value has at most 254 characters.")
        return None
    try:
        _email_validator(value)
    except ValidationError:
        errors.add(field, "Enter a valid email address.")
        return None
    return value


def phone_is_valid(value: str) -> bool:
    """The phone rule on a value as it is (callers that trim do so first). fullmatch: `$`
    alone would let a trailing newline through."""
    return _PHONE.fullmatch(value) is not None


def clean_phone(value: Any, *, field: str, errors: FieldErrors) -> str | None:
    value = clean_text(value, field=field, errors=errors, max_length=32, required=True)
    if value is None:
        return None
    if not phone_is_valid(value):
        errors.add(field, PHONE_MESSAGE)
        return None
    return value


def clean_country(value: Any, *, field: str, errors: FieldErrors) -> str | None:
    value = clean_text(value, field=field, errors=errors, max_length=2, required=True)
    if value is None:
        return None
    value = value.upper()
    if value not in COUNTRY_CODES:
        errors.add(field, "Enter an ISO 3166-1 alpha-2 country code, such as US or GB.")
        return None
    return value


def clean_bool(value: Any, *, field: str, errors: FieldErrors) -> bool | None:
    if not isinstance(value, bool):
        errors.add(field, "Must be true or false.")
        return None
    return value


def clean_decimal(
    value: Any, *, field: str, errors: FieldErrors, minimum: int, maximum: int, places: int
) -> Decimal | None:
    """A number in [minimum, maximum] with at most `places` decimals, as a Decimal.
    Records an error and returns None when invalid; the caller checks `field in errors`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        errors.add(field, "Must be a number.")
        return None
    try:
        # str() first: Decimal(0.1) would carry the binary float's 55 digits.
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.add(field, "Must be a number.")
        return None
    if not number.is_finite():
        errors.add(field, "Must be a number.")
        return None
    if not (minimum <= number <= maximum):
        errors.add(field, f"Must be between {minimum} and {maximum}.")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors.add(field, f"Use at most {places} decimal places.")
        return None
    return number.quantize(Decimal(1).scaleb(-places))


def full_clean(instance, *, exclude: tuple[str, ...] = ()) -> None:
    """Model.full_clean() as a VALIDATION_ERROR: the model's own field checks as a last net
    behind the service's rules (uniqueness is left to the database constraint)."""
    try:
        # `exclude` skips foreign keys the service has already loaded (one query each).
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        from core.errors import validation_error

        raise validation_error(
            {field: list(messages) for field, messages in exc.message_dict.items()}
        ) from None


def parse_timestamp(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp a page carried in a hidden field (the updatedAt it was rendered
    with), or None when there is none or it is not one: no conflict check then."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
