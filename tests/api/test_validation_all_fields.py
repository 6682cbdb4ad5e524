"""Every bad field at once: one 400 names the fields the schema refused and the fields the
services' rules refuse, whichever layer found them (and the one phone rule)."""

from core.models import ActivityLog
from core.validation import PHONE_MESSAGE
from customers.models import Customer
from customers.services import customer_create
from tests import factories
from tests.helpers import assert_error, customer_body
from tickets.models import Ticket


def test_customer_create_names_schema_and_service_fields_together(as_manager):
    body = customer_body(firstName="", email="not-an-email", country="GBR")
    error = assert_error(as_manager.post("/api/customers", body), 400, "VALIDATION_ERROR")
    assert error["details"] == {
        "firstName": ["This field is required."],
        "email": ["Enter a valid email address."],
        "country": ["Ensure this value has at most 2 characters."],
    }
    # The first bad field of the body is the one the envelope names.
    assert error["field"] == "firstName"
    assert error["message"] == "This field is required."
    assert not Customer.objects.exists()
    assert not ActivityLog.objects.filter(action__startswith="customer:").exists()


def test_a_field_the_schema_refused_gets_only_the_schema_message(as_manager):
    # The service would also call the name too long, and the phone bad: said once each.
    body = customer_body(firstName=" " * 101, phone="\t555 0100 99", zip="  ", active="yes")
    error = assert_error(as_manager.post("/api/customers", body), 400, "VALIDATION_ERROR")
    assert error["details"] == {
        "firstName": ["Ensure this value has at most 100 characters."],
        "phone": [PHONE_MESSAGE],
        "zip": ["This field is required."],
        "active": ["Must be true or false."],
    }


def test_body_with_only_schema_errors_answers_as_before(as_manager):
    body = customer_body(firstName="x" * 101, active="yes", nickname="Countess")
    del body["city"]
    error = assert_error(as_manager.post("/api/customers", body), 400, "VALIDATION_ERROR")
    assert error["details"] == {
        "firstName": ["Ensure this value has at most 100 characters."],
        "city": ["This field is required."],
        "active": ["Must be true or false."],
        "nickname": ["Unknown field."],
    }
    assert error["field"] == "firstName"


def test_customer_patch_names_schema_and_service_fields_together(as_manager, customer):
    before = Customer.objects.get(pk=customer.pk)
    response = as_manager.patch(
        f"/api/customers/{customer.pk}",
        {"lastName": "  ", "country": "zz", "active": "yes", "updatedAt": "yesterday"},
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"lastName", "country", "active", "updatedAt"}
    assert error["details"]["lastName"] == ["This field is required."]
    assert error["details"]["country"] == [
        "Enter an ISO 3166-1 alpha-2 country code, such as US or GB."
    ]
    after = Customer.objects.get(pk=customer.pk)
    assert (after.last_name, after.country, after.updated_at) == (
        before.last_name,
        before.country,
        before.updated_at,
    )


def test_put_is_not_an_update_method(as_manager, customer):
    # The API updates with PATCH only; PUT is refused whatever the body holds.
    response = as_manager.put(f"/api/customers/{customer.pk}", customer_body(firstName=""))
    assert_error(response, 405, "METHOD_NOT_ALLOWED")


def test_ticket_create_names_schema_and_service_fields_together(as_manager, customer):
    body = {
        "customerId": customer.pk,
        "title": "   ",
        "description": "Screen\x00cracked",
        "priority": "critical",  # the schema's enum
        "estimatedHours": 1.234,  # the schema's multipleOf
        "tech": "nobody@example.com",  # the service's lookup
    }
    error = assert_error(as_manager.post("/api/tickets", body), 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"title", "description", "priority", "estimatedHours", "tech"}
    assert error["details"]["title"] == ["This field is required."]
    assert error["details"]["description"] == ["Must not contain NUL characters."]
    assert error["details"]["estimatedHours"] == ["Use at most 2 decimal places."]
    assert error["details"]["tech"] == ["No active technician has this email"]
    assert error["field"] == "title"
    assert not Ticket.objects.exists()


def test_ticket_rules_take_the_values_the_schema_parsed(as_manager, customer):
    # customerId 5.0 is a whole number to the schema; the rules must not call it a bad id.
    body = {"customerId": float(customer.pk), "title": "", "description": "d", "x": 1}
    error = assert_error(as_manager.post("/api/tickets", body), 400, "VALIDATION_ERROR")
    assert error["details"] == {"title": ["This field is required."], "x": ["Unknown field."]}


def test_technician_lookup_is_not_run_for_a_caller_who_may_not_write(as_viewer, customer):
    body = {"customerId": customer.pk, "title": " ", "description": "d", "priority": "x"}
    error = assert_error(
        as_viewer.post("/api/tickets", {**body, "tech": "nobody@example.com"}),
        400,
        "VALIDATION_ERROR",
    )
    assert set(error["details"]) == {"title", "priority"}


def test_ticket_patch_names_schema_and_service_fields_together(as_manager, customer):
    ticket = factories.make_ticket(customer=customer, title="Old title")
    response = as_manager.patch(
        f"/api/tickets/{ticket.pk}",
        {"title": "", "deviceType": "toaster", "notes": "a\x00b", "updatedAt": "nope"},
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"title", "deviceType", "notes", "updatedAt"}
    assert error["details"]["title"] == ["This field is required."]
    assert error["details"]["notes"] == ["Must not contain NUL characters."]
    ticket.refresh_from_db()
    assert ticket.title == "Old title"


def test_ticket_status_names_schema_and_service_fields_together(as_manager, customer):
    ticket = factories.make_ticket(customer=customer)
    response = as_manager.post(
        f"/api/tickets/{ticket.pk}/status", {"completed": "yes", "notes": "a\x00b"}
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"] == {
        "completed": ["Must be true or false."],
        "notes": ["Must not contain NUL characters."],
    }
    ticket.refresh_from_db()
    assert ticket.completed is False


# ---- one phone rule ---------------------------------------------------------------------------
BAD_PHONES = ["12-34", "555-0100 ext 9", "(555) 01"]


def test_api_page_and_service_give_the_same_phone_message(as_manager, client, frontdesk):
    client.force_login(frontdesk)
    for phone in BAD_PHONES:
        error = assert_error(
            as_manager.post("/api/customers", customer_body(phone=phone)), 400, "VALIDATION_ERROR"
        )
        assert error["details"] == {"phone": [PHONE_MESSAGE]}, phone

        page = client.post(
            "/customers/new/",
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "phone": phone,
                "address1": "12 Analytical Way",
                "city": "London",
                "state": "Greater London",
                "zip": "NW1 6XE",
                "country": "GB",
            },
        )
        assert page.status_code == 200
        assert page.context["form"].errors["phone"] == [PHONE_MESSAGE], phone
        error_block = page.content.decode().split('id="id_phone_error"', 1)[1][:300]
        assert PHONE_MESSAGE in error_block, phone

        data = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": phone,
            "address1": "1 Way",
            "city": "London",
            "state": "London",
            "zip": "N1",
            "country": "GB",
        }
        try:
            customer_create(actor=frontdesk, data=data)
        except Exception as exc:  # the DomainError of the service
            assert exc.details == {"phone": [PHONE_MESSAGE]}, phone
        else:
            raise AssertionError(f"{phone!r} was accepted")
    assert not Customer.objects.exists()


def test_a_custom_error_type_survives_the_merge():
    # A validator's own PydanticCustomError beside a body rule's message: rebuilding the
    # schema's errors by their type name raised KeyError for anything not built into pydantic.
    from pydantic import ValidationError, field_validator
    from pydantic_core import PydanticCustomError

    from core.schemas import ApiIn, body_rules

    @body_rules(lambda data, request: {"name": ["Taken."]} if data.get("name") else {})
    class Body(ApiIn):
        name: str
        code: str

        @field_validator("code")
        @classmethod
        def _code(cls, value):
            raise PydanticCustomError("shop_code", "Not a shop code.")

    try:
        Body.model_validate({"name": "x", "code": "y"})
    except ValidationError as exc:
        errors = {error["loc"][0]: (error["type"], error["msg"]) for error in exc.errors()}
    else:  # pragma: no cover - the validator always refuses
        raise AssertionError("the body was accepted")
    assert errors == {"name": ("body_rule", "Taken."), "code": ("shop_code", "Not a shop code.")}
