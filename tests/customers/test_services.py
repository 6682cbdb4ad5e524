"""customers.services and customers.queries: every rule of docs/api.md §4 and §6 for customers."""

from datetime import timedelta

import pytest

from accounts.permissions import AccessDenied, NotFound
from core.errors import DomainError
from core.models import ActivityLog
from customers.models import Customer
from customers.queries import customer_get, customer_list
from customers.services import customer_create, customer_deactivate, customer_update
from tests import factories

pytestmark = pytest.mark.django_db


def valid_data(**overrides):
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0958",
        "address1": "12 Analytical Way",
        "city": "London",
        "state": "Greater London",
        "zip": "NW1 6XE",
        "country": "GB",
    }
    data.update(overrides)
    return data


def error_of(call, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(**kwargs)
    return caught.value


# --- create: normalisation and validation ---------------------------------------------------
def test_create_trims_and_normalises(frontdesk):
    customer = customer_create(
        actor=frontdesk,
        data=valid_data(
            first_name="  Ada ",
            last_name=" Lovelace  ",
            email="  Ada.King@Example.COM ",
            country=" gb",
        ),
    )
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Ada", "Lovelace")
    # The local part keeps its case, the domain is lower-cased.
    assert customer.email == "Ada.King@example.com"
    assert customer.country == "GB"
    assert customer.active is True
    assert customer.address2 == "" and customer.notes == ""


def test_create_may_set_active_false(frontdesk):
    customer = customer_create(actor=frontdesk, data=valid_data(active=False))
    assert Customer.objects.get(pk=customer.pk).active is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", ""),
        ("first_name", "   "),
        ("last_name", "x" * 101),
        ("email", "not-an-email"),
        ("email", "a@" + "b" * 250 + ".com"),
        ("phone", "12345"),  # fewer than 7 digits
        ("phone", "555-0100 ext 9"),  # letters
        ("phone", "1" * 33),
        ("address1", ""),
        ("address2", "x" * 201),
        ("city", " "),
        ("state", "x" * 101),
        ("zip", "x" * 21),
        ("country", "XX"),
        ("country", "GBR"),
        ("country", ""),
        ("notes", "x" * 5001),
        ("first_name", 42),
        ("active", "yes"),
        ("first_name", "Ada\x00"),
        ("notes", "\x00"),
        ("email", "ada\x00@example.com"),
    ],
)
def test_create_rejects_invalid_field(frontdesk, field, value):
    error = error_of(customer_create, actor=frontdesk, data=valid_data(**{field: value}))
    assert error.code == "VALIDATION_ERROR"
    assert error.status == 400
    assert list(error.details) == [field]
    assert not Customer.objects.exists()


def test_create_reports_every_missing_required_field(frontdesk):
    error = error_of(customer_create, actor=frontdesk, data={"first_name": "Ada"})
    assert error.code == "VALIDATION_ERROR"
    assert set(error.details) == {
        "last_name", "email", "phone", "address1", "city", "state", "zip", "country"
    }  # fmt: skip


def test_create_rejects_unknown_field(frontdesk):
    error = error_of(customer_create, actor=frontdesk, data=valid_data(nickname="Countess"))
    assert error.code == "VALIDATION_ERROR"
    assert "nickname" in error.details


@pytest.mark.parametrize("phone", ["+1 (555) 010-0100", "555.010.0100", "0044 20 7946 0958"])
def test_create_accepts_phone_formats(frontdesk, phone):
    assert customer_create(actor=frontdesk, data=valid_data(phone=phone)).phone == phone


def test_create_records_activity(frontdesk):
    customer = customer_create(actor=frontdesk, data=valid_data())
    entry = ActivityLog.objects.get(action="customer:create")
    assert (entry.actor, entry.object_type, entry.object_id) == (frontdesk, "customer", customer.pk)
    assert entry.metadata["changes"]["email"] == {"old": None, "new": "ada@example.com"}


# --- duplicate email ----------------------------------------------------------------------
@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", " Ada@Example.com "])
def test_duplicate_email_is_refused_case_insensitively(frontdesk, email):
    customer_create(actor=frontdesk, data=valid_data())
    error = error_of(customer_create, actor=frontdesk, data=valid_data(email=email))
    assert (error.code, error.status, error.field) == ("DUPLICATE_EMAIL", 409, "email")
    assert error.message == "Customer with this email already exists"
    assert Customer.objects.count() == 1


def test_duplicate_email_of_inactive_customer_is_refused(frontdesk):
    factories.make_customer(email="ada@example.com", active=False)
    error = error_of(customer_create, actor=frontdesk, data=valid_data(email="Ada@example.com"))
    assert error.code == "DUPLICATE_EMAIL"


def test_update_to_another_customers_email_is_refused(frontdesk):
    factories.make_customer(email="taken@example.com")
    mine = factories.make_customer(email="mine@example.com")
    error = error_of(
        customer_update, actor=frontdesk, customer_id=mine.pk, data={"email": "TAKEN@example.com"}
    )
    assert error.code == "DUPLICATE_EMAIL"
    mine.refresh_from_db()
    assert mine.email == "mine@example.com"


def test_update_may_change_case_of_own_email(frontdesk):
    mine = factories.make_customer(email="mine@example.com")
    updated = customer_update(
        actor=frontdesk, customer_id=mine.pk, data={"email": "Mine@EXAMPLE.com"}
    )
    assert updated.email == "Mine@example.com"


def test_database_constraint_backs_the_duplicate_check(frontdesk):
    # The pre-check is only the friendly path: a row the check cannot see (inserted
    # by someone else in the meantime) is still turned into DUPLICATE_EMAIL by the
    # IntegrityError of the unique index, and the caller's transaction stays usable.
    from customers import services

    customer_create(actor=frontdesk, data=valid_data())
    original = services._email_taken
    services._email_taken = lambda *args, **kwargs: False
    try:
        error = error_of(customer_create, actor=frontdesk, data=valid_data(email="ADA@example.com"))
    finally:
        services._email_taken = original
    assert error.code == "DUPLICATE_EMAIL"
    assert Customer.objects.count() == 1  # the connection is still usable


# --- update --------------------------------------------------------------------------------
def test_partial_update_changes_only_given_fields(frontdesk, customer):
    updated = customer_update(
        actor=frontdesk, customer_id=customer.pk, data={"city": " Paris ", "country": "fr"}
    )
    updated.refresh_from_db()
    assert (updated.city, updated.country, updated.first_name) == ("Paris", "FR", "Grace")
    entry = ActivityLog.objects.get(action="customer:update")
    assert entry.metadata == {
        "changes": {
            "city": {"old": "London", "new": "Paris"},
            "country": {"old": "GB", "new": "FR"},
        }
    }


def test_update_rejects_emptying_a_required_field(frontdesk, customer):
    error = error_of(
        customer_update, actor=frontdesk, customer_id=customer.pk, data={"last_name": "  "}
    )
    assert error.code == "VALIDATION_ERROR" and "last_name" in error.details


def test_update_of_missing_customer_is_not_found(frontdesk):
    with pytest.raises(NotFound):
        customer_update(actor=frontdesk, customer_id=999999, data={"city": "Paris"})


def test_update_without_changes_writes_nothing(frontdesk, customer):
    before = customer.updated_at
    customer_update(actor=frontdesk, customer_id=customer.pk, data={"city": "London"})
    customer.refresh_from_db()
    assert customer.updated_at == before
    assert not ActivityLog.objects.filter(action="customer:update").exists()


def test_stale_updated_at_is_a_conflict_and_writes_nothing(frontdesk, customer):
    stale = customer.updated_at - timedelta(seconds=1)
    error = error_of(
        customer_update,
        actor=frontdesk,
        customer_id=customer.pk,
        data={"city": "Paris"},
        expected_updated_at=stale,
    )
    assert (error.code, error.status) == ("CONFLICT", 409)
    assert isinstance(error.details["current"], Customer)
    assert error.details["current"].pk == customer.pk
    customer.refresh_from_db()
    assert customer.city == "London"


def test_current_updated_at_lets_the_update_through(frontdesk, customer):
    updated = customer_update(
        actor=frontdesk,
        customer_id=customer.pk,
        data={"city": "Paris"},
        expected_updated_at=customer.updated_at,
    )
    assert updated.city == "Paris"
    # The second write with the now stale value loses.
    error = error_of(
        customer_update,
        actor=frontdesk,
        customer_id=customer.pk,
        data={"city": "Rome"},
        expected_updated_at=customer.updated_at,
    )
    assert error.code == "CONFLICT"


# --- deactivation and reactivation ------------------------------------------------------------
def test_manager_deactivates_customer_without_tickets(manager, customer):
    result = customer_deactivate(actor=manager, customer_id=customer.pk)
    assert result.active is False
    customer.refresh_from_db()
    assert customer.active is False  # soft: the row stays
    entry = ActivityLog.objects.get(action="customer:deactivate")
    assert entry.metadata == {"changes": {"active": {"old": True, "new": False}}}


@pytest.mark.parametrize("completed", [False, True])
def test_deactivation_refused_while_customer_has_tickets(manager, customer, completed):
    factories.make_ticket(customer=customer, completed=completed)
    factories.make_ticket(customer=customer)
    error = error_of(customer_deactivate, actor=manager, customer_id=customer.pk)
    assert (error.code, error.status) == ("HAS_DEPENDENCIES", 409)
    assert error.details == {"ticketCount": 2}
    customer.refresh_from_db()
    assert customer.active is True


def test_patch_active_false_follows_deactivation_rules(manager, customer):
    factories.make_ticket(customer=customer)
    error = error_of(
        customer_update, actor=manager, customer_id=customer.pk, data={"active": False}
    )
    assert error.code == "HAS_DEPENDENCIES"
    assert error.details == {"ticketCount": 1}


def test_patch_active_false_deactivates(manager, customer):
    customer_update(actor=manager, customer_id=customer.pk, data={"active": False})
    customer.refresh_from_db()
    assert customer.active is False
    assert ActivityLog.objects.filter(action="customer:deactivate").count() == 1


def test_frontdesk_cannot_deactivate(frontdesk, customer):
    with pytest.raises(AccessDenied):
        customer_deactivate(actor=frontdesk, customer_id=customer.pk)
    with pytest.raises(AccessDenied):
        customer_update(actor=frontdesk, customer_id=customer.pk, data={"active": False})
    customer.refresh_from_db()
    assert customer.active is True
    # Both denials are in the activity log (written outside the rolled-back transaction).
    assert (
        ActivityLog.objects.filter(action="permission:denied", object_id=customer.pk).count() == 2
    )


def test_only_managers_reactivate(manager, frontdesk):
    inactive = factories.make_customer(active=False)
    with pytest.raises(AccessDenied):
        customer_update(actor=frontdesk, customer_id=inactive.pk, data={"active": True})
    inactive.refresh_from_db()
    assert inactive.active is False
    customer_update(actor=manager, customer_id=inactive.pk, data={"active": True})
    inactive.refresh_from_db()
    assert inactive.active is True
    assert ActivityLog.objects.filter(action="customer:reactivate").count() == 1


def test_frontdesk_may_send_unchanged_active_flag(frontdesk, customer):
    # A form posting the whole object repeats active=true: not a reactivation.
    customer_update(actor=frontdesk, customer_id=customer.pk, data={"active": True, "zip": "1"})
    customer.refresh_from_db()
    assert customer.zip == "1"


def test_deactivate_with_stale_updated_at_is_a_conflict(manager, customer):
    error = error_of(
        customer_deactivate,
        actor=manager,
        customer_id=customer.pk,
        expected_updated_at=customer.updated_at - timedelta(seconds=5),
    )
    assert error.code == "CONFLICT"


def test_deactivate_missing_customer_is_not_found(manager):
    with pytest.raises(NotFound):
        customer_deactivate(actor=manager, customer_id=424242)


# --- permission matrix (docs/api.md §6) ------------------------------------------------------
@pytest.mark.parametrize("role", ["technician", "viewer"])
def test_technician_and_viewer_cannot_create_or_update(request, role, customer):
    user = request.getfixturevalue(role)
    with pytest.raises(AccessDenied):
        customer_create(actor=user, data=valid_data())
    with pytest.raises(AccessDenied):
        customer_update(actor=user, customer_id=customer.pk, data={"city": "Paris"})
    with pytest.raises(AccessDenied):
        customer_deactivate(actor=user, customer_id=customer.pk)
    assert Customer.objects.count() == 1
    assert ActivityLog.objects.filter(action="permission:denied", actor=user).count() == 3


def test_anonymous_cannot_create():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(AccessDenied):
        customer_create(actor=AnonymousUser(), data=valid_data())


def test_permission_is_checked_before_validation(viewer):
    # A viewer learns nothing about the rules: 403, not 400.
    with pytest.raises(AccessDenied):
        customer_create(actor=viewer, data={})


# --- queries -----------------------------------------------------------------------------
@pytest.fixture
def people(db):
    return {
        "ada": factories.make_customer(
            first_name="Ada", last_name="Lovelace", email="ada@engine.test", phone="+44 111 2222"
        ),
        "grace": factories.make_customer(
            first_name="Grace", last_name="Hopper", email="grace@navy.test", phone="555 0101 999"
        ),
        "alan": factories.make_customer(
            first_name="Alan", last_name="Turing", email="alan@bletchley.test", active=False
        ),
        "mary": factories.make_customer(
            first_name="Mary Ann", last_name="Evans", email="eliot@novel.test"
        ),
    }


def names(qs):
    return [c.first_name for c in qs]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("LOVE", ["Ada"]),
        ("gra", ["Grace"]),
        ("NAVY.test", ["Grace"]),
        ("0101", ["Grace"]),
        ("ada love", ["Ada"]),
        ("Ada   Lovelace", ["Ada"]),
        ("mary ann evans", ["Mary Ann"]),
        ("ada hopper", []),
        ("  ", ["Ada", "Alan", "Grace", "Mary Ann"]),
    ],
)
def test_customer_search(viewer, people, term, expected):
    assert sorted(names(customer_list(user=viewer, search=term))) == expected


def test_customer_active_filter(viewer, people):
    assert "Alan" not in names(customer_list(user=viewer, active=True))
    assert names(customer_list(user=viewer, active=False)) == ["Alan"]


def test_customer_sort_is_stable_with_id_tiebreak(viewer):
    first = factories.make_customer(last_name="Same")
    second = factories.make_customer(last_name="Same")
    asc = [c.pk for c in customer_list(user=viewer, sort_by="last_name")]
    desc = [c.pk for c in customer_list(user=viewer, sort_by="last_name", sort_order="desc")]
    assert asc == [first.pk, second.pk]
    assert desc == [second.pk, first.pk]


@pytest.mark.parametrize("sort_by", ["first_name", "last_name", "email", "created_at"])
def test_customer_sorts(viewer, people, sort_by):
    rows = list(customer_list(user=viewer, sort_by=sort_by))
    assert [getattr(c, sort_by) for c in rows] == sorted(getattr(c, sort_by) for c in rows)
    rows = list(customer_list(user=viewer, sort_by=sort_by, sort_order="desc"))
    assert [getattr(c, sort_by) for c in rows] == sorted(
        (getattr(c, sort_by) for c in rows), reverse=True
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort_by": "phone"}, "sort_by"),
        ({"sort_order": "up"}, "sort_order"),
        ({"search": "a\x00"}, "search"),
    ],
)
def test_customer_list_rejects_bad_parameters(viewer, kwargs, field):
    error = error_of(customer_list, user=viewer, **kwargs)
    assert error.code == "VALIDATION_ERROR" and field in error.details


def test_ticket_count_counts_all_tickets_without_multiplying_rows(viewer, people):
    factories.make_ticket(customer=people["ada"])
    factories.make_ticket(customer=people["ada"], completed=True)
    factories.make_ticket(customer=people["grace"])
    rows = {
        c.first_name: c.ticket_count for c in customer_list(user=viewer, include_ticket_count=True)
    }
    assert rows == {"Ada": 2, "Grace": 1, "Alan": 0, "Mary Ann": 0}


def test_customer_list_query_budget(viewer, people, django_assert_num_queries):
    from core.pagination import paginate

    for customer in people.values():
        for _ in range(3):
            factories.make_ticket(customer=customer)
    viewer.get_all_permissions()  # loaded once per request (2 queries), not per list
    # 1: COUNT(*) (the ticket_count subquery is dropped); 2: the page with the subquery.
    with django_assert_num_queries(2):
        page = paginate(
            customer_list(user=viewer, search="a", include_ticket_count=True),
            page=1,
            page_size=100,
        )
        assert [c.ticket_count for c in page.items]


def test_customer_list_needs_view_permission():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(AccessDenied):
        customer_list(user=AnonymousUser())


def test_customer_get(viewer, customer):
    assert customer_get(user=viewer, customer_id=customer.pk) == customer
    with pytest.raises(NotFound):
        customer_get(user=viewer, customer_id=customer.pk + 1000)


def test_email_that_grows_when_lower_cased_is_length_checked(frontdesk):
    # "İ".lower() is two characters: 253 before normalising, 255 after.
    email = "a" * 200 + "@" + "İ" * 2 + "b" * 46 + ".com"
    assert len(email) == 253
    error = error_of(customer_create, actor=frontdesk, data=valid_data(email=email))
    assert error.code == "VALIDATION_ERROR" and "email" in error.details


def test_out_of_range_customer_id_is_not_found(frontdesk, manager):
    with pytest.raises(NotFound):
        customer_update(actor=frontdesk, customer_id=2**70, data={"city": "Paris"})
    with pytest.raises(NotFound):
        customer_deactivate(actor=manager, customer_id=2**70)
