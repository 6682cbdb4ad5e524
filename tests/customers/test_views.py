"""The customer pages: list (search, filter, sort, pages, fragments), create, edit,
deactivate/reactivate, the customer page, and the role matrix of docs/api.md §6 on them."""

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import ActivityLog
from customers.models import Customer
from tests import factories

HTMX = {"HTTP_HX_REQUEST": "true"}

VALID = {
    "first_name": "Linus",
    "last_name": "Torvalds",
    "email": "linus@example.org",
    "phone": "+358 40 123 4567",
    "address1": "1 Kernel Road",
    "address2": "",
    "city": "Helsinki",
    "state": "Uusimaa",
    "zip": "00100",
    "country": "fi",
    "notes": "",
}


def _text(response) -> str:
    return response.content.decode()


def _list_queries(client, url, **extra) -> int:
    """The queries of rendering `url` (nothing remembered from an earlier request)."""
    caches["rendered"].clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- list ----------------------------------------------------------------------------------------
def test_list_page_shows_customers_with_ticket_counts(client, frontdesk, customer):
    factories.make_ticket(customer=customer)
    factories.make_ticket(customer=customer)
    client.force_login(frontdesk)
    response = client.get("/customers/")
    body = _text(response)
    assert response.status_code == 200
    assert "<html" in body
    assert "Hopper, Grace" in body
    assert f'href="/tickets/?customerId={customer.pk}">2</a>' in body
    assert "HX-Request" in response["Vary"]


def test_htmx_request_gets_only_the_results_fragment(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.get("/customers/?search=grace", **HTMX)
    body = _text(response)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="customer-results"')
    assert "Hopper, Grace" in body
    assert "HX-Request" in response["Vary"]


def test_history_restore_gets_the_whole_page(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.get(
        "/customers/?search=grace", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )
    assert "<html" in _text(response)


def test_search_matches_name_email_and_phone(client, frontdesk):
    factories.make_customer(first_name="Ada", last_name="Byron", email="ada@math.test")
    factories.make_customer(first_name="Alan", last_name="Turing", phone="+44 20 7946 0999")
    client.force_login(frontdesk)
    assert "Byron, Ada" in _text(client.get("/customers/?search=math.test"))
    assert "Turing" not in _text(client.get("/customers/?search=math.test"))
    assert "Turing, Alan" in _text(client.get("/customers/?search=7946"))
    assert "Byron, Ada" in _text(client.get("/customers/?search=ada+byr"))


def test_active_filter(client, frontdesk):
    factories.make_customer(last_name="Stillhere")
    factories.make_customer(last_name="Gone", active=False)
    client.force_login(frontdesk)
    active_only = _text(client.get("/customers/?active=true"))
    inactive_only = _text(client.get("/customers/?active=false"))
    everyone = _text(client.get("/customers/"))
    assert "Stillhere" in active_only and "Gone" not in active_only
    assert "Gone" in inactive_only and "Stillhere" not in inactive_only
    assert "Gone" in everyone and "Stillhere" in everyone


def test_sort_by_email_descending_and_header_links_flip_the_order(client, frontdesk):
    factories.make_customer(last_name="Aaa", email="a@sort.test")
    factories.make_customer(last_name="Zzz", email="z@sort.test")
    client.force_login(frontdesk)
    body = _text(client.get("/customers/?sortBy=email&sortOrder=desc"))
    assert body.index("z@sort.test") < body.index("a@sort.test")
    assert 'aria-sort="descending"' in body
    assert 'href="?sortBy=email&amp;sortOrder=asc"' in body
    body = _text(client.get("/customers/?sortBy=email&sortOrder=asc"))
    assert body.index("a@sort.test") < body.index("z@sort.test")


def test_bad_parameters_in_a_bookmark_fall_back_to_defaults(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.get("/customers/?sortBy=password&sortOrder=sideways&page=zero&active=x")
    assert response.status_code == 200
    assert "Hopper, Grace" in _text(response)


def test_pagination_links_keep_the_filters(client, frontdesk):
    for n in range(25):
        factories.make_customer(last_name=f"Pager{n:02d}", email=f"p{n}@page.test")
    client.force_login(frontdesk)
    first = _text(client.get("/customers/?search=page.test"))
    assert "25 customers · page 1 of 2" in first
    assert 'href="?search=page.test&amp;page=2"' in first
    second = _text(client.get("/customers/?search=page.test&page=2"))
    assert "Pager24" in second and "Pager00" not in second


def test_list_queries_do_not_grow_with_the_page_size(client, frontdesk):
    client.force_login(frontdesk)
    customer = factories.make_customer()
    factories.make_ticket(customer=customer)
    client.get("/customers/")  # warm-up: the session's idle clock is written once
    few = _list_queries(client, "/customers/")
    for _ in range(19):
        factories.make_ticket(customer=factories.make_customer())
    many = _list_queries(client, "/customers/")
    assert few == many
    # session, user, version, "is a technician" for the navigation, COUNT, the page of
    # customers (ticket counts are a subquery). The permissions are remembered from the
    # first request (accounts.backends).
    assert many <= 6


# --- create --------------------------------------------------------------------------------------
def test_new_customer_form_has_plain_word_labels(client, frontdesk):
    client.force_login(frontdesk)
    body = _text(client.get("/customers/new/"))
    for label in ("First name", "Last name", "Email", "Phone", "Address", "City", "Country"):
        assert f">{label}" in body


def test_create_customer(client, frontdesk):
    client.force_login(frontdesk)
    response = client.post("/customers/new/", VALID)
    customer = Customer.objects.get(email="linus@example.org")
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.pk}/"
    assert customer.country == "FI"  # normalised by the service
    assert ActivityLog.objects.filter(action="customer:create", object_id=customer.pk).exists()


def test_duplicate_email_is_shown_on_the_email_field(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.post("/customers/new/", {**VALID, "email": "GRACE@navy.test"})
    body = _text(response)
    assert response.status_code == 200
    assert 'id="id_email_error"' in body
    error_block = body[body.index('id="id_email_error"') :][:200]
    assert "already exists" in error_block
    assert Customer.objects.count() == 1


def test_service_validation_errors_go_on_their_fields(client, frontdesk):
    client.force_login(frontdesk)
    response = client.post("/customers/new/", {**VALID, "phone": "call me", "country": "XX"})
    body = _text(response)
    assert 'id="id_phone_error"' in body
    assert 'id="id_country_error"' in body
    assert not Customer.objects.exists()


def test_required_fields_are_checked(client, frontdesk):
    client.force_login(frontdesk)
    response = client.post("/customers/new/", {**VALID, "first_name": "   "})
    assert 'id="id_first_name_error"' in _text(response)
    assert not Customer.objects.exists()


# --- edit ----------------------------------------------------------------------------------------
def _edit_data(customer, **changes):
    data = {name: getattr(customer, name) for name in VALID}
    data["updated_at"] = customer.updated_at.isoformat()
    data.update(changes)
    return data


def test_edit_customer(client, frontdesk, customer):
    client.force_login(frontdesk)
    response = client.post(
        f"/customers/{customer.pk}/edit/", _edit_data(customer, city="Arlington")
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Arlington"


def test_stale_edit_shows_a_conflict_and_the_current_values(client, frontdesk, customer):
    client.force_login(frontdesk)
    stale = _edit_data(customer, city="Stale City")
    Customer.objects.filter(pk=customer.pk).update(phone="+1 555 0199")
    customer.refresh_from_db()
    customer.city = "Changed Elsewhere"
    customer.save()
    response = client.post(f"/customers/{customer.pk}/edit/", stale)
    body = _text(response)
    assert response.status_code == 200
    assert "changed by someone else" in body
    assert "Changed Elsewhere" in body  # what is stored now
    assert 'value="Stale City"' in body  # what was typed is kept
    customer.refresh_from_db()
    assert customer.city == "Changed Elsewhere"
    # Saving again (the form now carries the current version) is a deliberate overwrite.
    again = client.post(
        f"/customers/{customer.pk}/edit/",
        {**stale, "updated_at": customer.updated_at.isoformat()},
    )
    assert again.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Stale City"


def test_duplicate_email_on_edit(client, frontdesk, customer):
    other = factories.make_customer(email="other@example.com")
    client.force_login(frontdesk)
    response = client.post(
        f"/customers/{other.pk}/edit/", _edit_data(other, email="grace@navy.test")
    )
    assert 'id="id_email_error"' in _text(response)


# --- customer page, deactivation -----------------------------------------------------------------
def test_customer_page_shows_contact_tickets_and_timeline(client, frontdesk, customer):
    ticket = factories.make_ticket(customer=customer, title="Cracked screen")
    client.force_login(frontdesk)
    client.post(f"/customers/{customer.pk}/edit/", _edit_data(customer, city="Arlington"))
    body = _text(client.get(f"/customers/{customer.pk}/"))
    assert "grace@navy.test" in body
    assert f"/tickets/{ticket.pk}/" in body and "Cracked screen" in body
    assert "Details changed" in body and "City: London → Arlington" in body


def test_customer_page_budget_does_not_grow_with_tickets(client, manager, customer):
    client.force_login(manager)
    factories.make_ticket(customer=customer)
    client.get(f"/customers/{customer.pk}/")
    few = _list_queries(client, f"/customers/{customer.pk}/")
    for _ in range(10):
        factories.make_ticket(customer=customer, tech=factories.make_user())
    assert _list_queries(client, f"/customers/{customer.pk}/") == few


def test_missing_customer_is_a_friendly_404(client, frontdesk):
    client.force_login(frontdesk)
    response = client.get("/customers/999999/")
    assert response.status_code == 404
    assert "Page not found" in _text(response)


def test_manager_deactivates_a_customer_without_tickets(client, manager, customer):
    client.force_login(manager)
    response = client.post(f"/customers/{customer.pk}/deactivate/", follow=True)
    customer.refresh_from_db()
    assert not customer.active
    assert "is now inactive" in _text(response)


def test_deactivation_is_refused_with_the_ticket_count(client, manager, customer):
    factories.make_ticket(customer=customer)
    factories.make_ticket(customer=customer, completed=True)
    client.force_login(manager)
    response = client.post(f"/customers/{customer.pk}/deactivate/", follow=True)
    customer.refresh_from_db()
    assert customer.active
    assert "they have 2 tickets" in _text(response)


def test_manager_reactivates(client, manager):
    gone = factories.make_customer(active=False)
    client.force_login(manager)
    client.post(f"/customers/{gone.pk}/reactivate/")
    gone.refresh_from_db()
    assert gone.active


# --- roles (docs/api.md §6) ------------------------------------------------------------
def test_buttons_follow_the_role(client, manager, frontdesk, technician, viewer, customer):
    def page(user, url):
        client.force_login(user)
        return _text(client.get(url))

    detail = f"/customers/{customer.pk}/"
    assert "Deactivate" in page(manager, detail)
    assert "Deactivate" not in page(frontdesk, detail)
    assert f"/customers/{customer.pk}/edit/" in page(frontdesk, detail)
    for user in (technician, viewer):
        body = page(user, detail)
        assert f"/customers/{customer.pk}/edit/" not in body
        assert "Deactivate" not in body
        assert 'href="/customers/new/"' not in page(user, "/customers/")
    assert 'href="/customers/new/"' in page(frontdesk, "/customers/")


@pytest.mark.parametrize("role", ["technician", "viewer"])
def test_roles_without_write_get_403(client, request, role, customer):
    user = request.getfixturevalue(role)
    client.force_login(user)
    assert client.get("/customers/new/").status_code == 403
    assert client.post("/customers/new/", VALID).status_code == 403
    assert client.get(f"/customers/{customer.pk}/edit/").status_code == 403
    response = client.post(f"/customers/{customer.pk}/edit/", _edit_data(customer, city="X"))
    assert response.status_code == 403
    assert "Not allowed" in _text(response)
    assert not Customer.objects.filter(email=VALID["email"]).exists()
    customer.refresh_from_db()
    assert customer.city == "London"
    assert ActivityLog.objects.filter(action="permission:denied", actor=user).count() == 2


def test_frontdesk_cannot_deactivate_or_reactivate(client, frontdesk, customer):
    client.force_login(frontdesk)
    assert client.post(f"/customers/{customer.pk}/deactivate/").status_code == 403
    customer.refresh_from_db()
    assert customer.active
    gone = factories.make_customer(active=False)
    assert client.post(f"/customers/{gone.pk}/reactivate/").status_code == 403


def test_deactivate_needs_post(client, manager, customer):
    client.force_login(manager)
    assert client.get(f"/customers/{customer.pk}/deactivate/").status_code == 405


def test_signed_out_page_goes_to_login(client, customer):
    response = client.get("/customers/?search=x")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_signed_out_htmx_request_is_redirected_by_the_client(client, customer):
    response = client.get(
        "/customers/?search=x",
        HTTP_HX_CURRENT_URL="http://testserver/customers/?search=gr",
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fcustomers%2F%3Fsearch%3Dgr"
    assert response.content == b""
