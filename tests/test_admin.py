"""The Django admin: only managers and superusers get in, the activity log cannot be edited by
anyone, nothing is hard-deleted, tokens are shown once, and every changelist runs a fixed
number of queries whatever the number of rows."""

import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from accounts.models import ApiToken, User, hash_token
from core.activity import record_activity
from core.models import ActivityLog
from customers.models import Customer
from tests import factories
from tickets.models import Notification


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(
        username="root", email="root@shop.test", password=factories.PASSWORD
    )


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The cast of users is made anew for each test; PBKDF2 would be most of the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Tests that pick their user with request.getfixturevalue() name `db` themselves: pytest-django
# sorts tests by the fixtures they name, and one that seems to need no database runs after the
# transactional tests, whose flush removes the role groups.
# --- who gets in --------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["manager", "superuser"])
def test_managers_and_superusers_get_into_the_admin(client, db, who, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"Customers" in response.content


@pytest.mark.parametrize("who", ["frontdesk", "technician", "viewer"])
@pytest.mark.parametrize("url", ["/admin/", "/admin/customers/customer/", "/admin/accounts/user/"])
def test_other_roles_are_refused_the_admin(client, db, who, url, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url)
    assert response.status_code == 403


def test_a_user_without_roles_is_refused_even_with_is_staff(client, db):
    # is_staff means nothing here: the access_admin permission (or superuser) does.
    client.force_login(factories.make_user(username="staffonly", is_staff=True))
    assert client.get("/admin/").status_code == 403


def test_anonymous_is_sent_to_the_apps_login_page(client, db):
    response = client.get("/admin/", follow=True)
    final_url, _ = response.redirect_chain[-1]
    assert final_url.startswith(reverse("login"))
    assert response.status_code == 200


def test_inactive_manager_is_refused(client, manager):
    manager.is_active = False
    manager.save()
    client.force_login(manager)
    assert client.get("/admin/").status_code != 200


# --- the activity log is read-only for everyone ---------------------------------------------
@pytest.mark.parametrize("who", ["manager", "superuser"])
def test_nobody_can_add_change_or_delete_an_activity_entry(client, db, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    entry = record_activity(
        actor=user, action="customer:create", object_type="customer", object_id=1
    )
    base = "/admin/repairshop/activitylog/"

    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}add/", {"action": "forged"}).status_code == 403
    assert client.get(f"{base}{entry.pk}/delete/").status_code == 403
    assert client.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    # The change page is a read-only view: no form to submit, and a forged POST is refused.
    page = client.get(f"{base}{entry.pk}/change/")
    assert page.status_code == 200
    assert b'name="action"' not in page.content
    assert client.post(f"{base}{entry.pk}/change/", {"action": "forged"}).status_code == 403
    # No bulk actions (delete_selected) on the list.
    changelist = client.get(base)
    assert changelist.status_code == 200
    assert b"delete_selected" not in changelist.content
    forged = client.post(base, {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert forged.status_code in (200, 302, 403)

    entry.refresh_from_db()
    assert entry.action == "customer:create"
    assert ActivityLog.objects.filter(pk=entry.pk).exists()


def test_notifications_are_read_only(client, superuser):
    client.force_login(superuser)
    assert client.get("/admin/tickets/notification/add/").status_code == 403


# --- nothing is hard-deleted -----------------------------------------------------------------
@pytest.mark.parametrize(
    "model_url", ["customers/customer", "tickets/ticket", "accounts/user", "accounts/apitoken"]
)
def test_no_hard_delete_in_the_admin(client, superuser, model_url):
    customer = factories.make_customer()
    ticket = factories.make_ticket(customer=customer)
    token, _ = ApiToken.issue(user=superuser, name="ci")
    pk = {
        "customers/customer": customer.pk,
        "tickets/ticket": ticket.pk,
        "accounts/user": superuser.pk,
        "accounts/apitoken": token.pk,
    }[model_url]
    client.force_login(superuser)
    assert client.post(f"/admin/{model_url}/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert b"delete_selected" not in client.get(f"/admin/{model_url}/").content


def test_deactivate_action_goes_through_the_service(manager_client, manager):
    idle = factories.make_customer()
    busy = factories.make_customer()
    factories.make_ticket(customer=busy)

    response = manager_client.post(
        "/admin/customers/customer/",
        {"action": "deactivate_selected", "_selected_action": [idle.pk, busy.pk]},
        follow=True,
    )

    assert response.status_code == 200
    idle.refresh_from_db()
    busy.refresh_from_db()
    assert idle.active is False
    assert busy.active is True  # has a ticket: HAS_DEPENDENCIES
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("ticket" in t for t in texts), texts
    assert ActivityLog.objects.filter(object_type="customer", object_id=idle.pk).exists()


# --- users and roles -------------------------------------------------------------------------
def test_manager_creates_a_user_with_a_role(manager_client):
    tech_group = Group.objects.get(name=roles.TECHNICIAN)
    response = manager_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newtech",
            "email": "newtech@shop.test",
            "first_name": "New",
            "last_name": "Tech",
            "groups": [tech_group.pk],
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(username="newtech")
    assert list(user.groups.values_list("name", flat=True)) == [roles.TECHNICIAN]
    assert user.check_password("a-long-enough-passphrase")
    assert ActivityLog.objects.filter(action="user:create", object_id=user.pk).exists()


def test_manager_cannot_change_a_superuser_or_their_password(manager_client, superuser):
    change = manager_client.post(
        f"/admin/accounts/user/{superuser.pk}/change/",
        {"username": "root", "email": "evil@shop.test"},
    )
    assert change.status_code == 403
    password = manager_client.post(
        f"/admin/accounts/user/{superuser.pk}/password/",
        {"password1": "take-over-the-shop", "password2": "take-over-the-shop"},
    )
    assert password.status_code == 403
    superuser.refresh_from_db()
    assert superuser.check_password(factories.PASSWORD)


def test_manager_changes_a_users_password(manager_client, frontdesk):
    response = manager_client.post(
        f"/admin/accounts/user/{frontdesk.pk}/password/",
        {
            "usable_password": "true",
            "password1": "a-fresh-front-desk-passphrase",
            "password2": "a-fresh-front-desk-passphrase",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    frontdesk.refresh_from_db()
    assert frontdesk.check_password("a-fresh-front-desk-passphrase")


# --- API tokens ------------------------------------------------------------------------------
def test_creating_a_token_shows_it_once_and_stores_only_its_hash(manager_client, technician):
    response = manager_client.post(
        "/admin/accounts/apitoken/add/", {"user": technician.pk, "name": "bench"}, follow=True
    )
    assert response.status_code == 200
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    plain = next(
        m.group(0) for t in texts if (m := re.search(r"rs_[A-Za-z0-9_-]{20,}", t)) is not None
    )
    token = ApiToken.objects.get(user=technician)
    assert token.name == "bench"
    assert token.token_hash == hash_token(plain)
    assert plain not in token.token_hash
    # Shown once: the next page does not carry it.
    assert plain.encode() not in manager_client.get("/admin/accounts/apitoken/").content
    assert (
        plain.encode()
        not in manager_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content
    )


def test_manager_cannot_issue_a_token_in_a_superusers_name(manager_client, superuser):
    response = manager_client.post(
        "/admin/accounts/apitoken/add/", {"user": superuser.pk, "name": "escalate"}
    )
    assert response.status_code == 200  # the form again, with an error
    assert not ApiToken.objects.filter(user=superuser).exists()


def test_revoke_action(manager_client, technician):
    token, _ = ApiToken.issue(user=technician, name="old")
    response = manager_client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not ApiToken.objects.usable().filter(pk=token.pk).exists()
    assert ActivityLog.objects.filter(action="api_token:revoke", object_id=token.pk).exists()


def test_token_list_shows_name_user_and_dates(manager_client, technician):
    ApiToken.issue(user=technician, name="workshop-scanner")
    page = manager_client.get("/admin/accounts/apitoken/").content.decode()
    for column in ("Name", "User", "Created at", "Last used at", "Revoked at"):
        assert column.lower() in page.lower()
    assert "workshop-scanner" in page


# --- query budgets ----------------------------------------------------------------------------
def _quick_user(*user_roles) -> User:
    # No password hashing: fifty PBKDF2 rounds per test would be most of its time.
    user = User.objects.create(username=f"u{User.objects.count() + 1}")
    if user_roles:
        user.groups.set(Group.objects.filter(name__in=user_roles))
    return user


def _make_rows(kind: str, count: int):
    for _ in range(count):
        if kind == "customer":
            factories.make_customer()
        elif kind == "ticket":
            factories.make_ticket(tech=_quick_user(roles.TECHNICIAN))
        elif kind == "user":
            _quick_user(roles.TECHNICIAN, roles.VIEWER)
        elif kind == "apitoken":
            ApiToken.issue(user=_quick_user(), name="t")
        elif kind == "activitylog":
            record_activity(actor=_quick_user(), action="ticket:create", object_type="ticket")
        elif kind == "notification":
            ticket = factories.make_ticket()
            Notification.objects.create(
                ticket=ticket, recipient="t@shop.test", subject="s", body="b"
            )


CHANGELISTS = {
    "customer": "/admin/customers/customer/",
    "ticket": "/admin/tickets/ticket/",
    "user": "/admin/accounts/user/",
    "apitoken": "/admin/accounts/apitoken/",
    "activitylog": "/admin/repairshop/activitylog/",
    "notification": "/admin/tickets/notification/",
}
# Session, user, the user's permissions (groups + own), the page's COUNT and rows, the
# filters' choices, plus one prefetch of roles on the user list: well under this.
CHANGELIST_QUERY_BUDGET = 14


@pytest.mark.parametrize("kind", list(CHANGELISTS))
def test_changelist_query_count_does_not_grow_with_rows(
    client, superuser, kind, django_assert_max_num_queries
):
    client.force_login(superuser)
    url = CHANGELISTS[kind]

    _make_rows(kind, 5)
    client.get(url)  # warm caches (content types, permissions) so both runs compare alike
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200

    _make_rows(kind, 45)
    with django_assert_max_num_queries(CHANGELIST_QUERY_BUDGET):
        response = client.get(url)
    assert response.status_code == 200
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_manager_sees_the_changelists_within_budget(manager_client, django_assert_max_num_queries):
    factories.make_ticket()
    for url in CHANGELISTS.values():
        with django_assert_max_num_queries(CHANGELIST_QUERY_BUDGET):
            assert manager_client.get(url).status_code == 200, url


def test_search_in_the_ticket_admin(manager_client):
    customer = factories.make_customer(last_name="Zwicky")
    factories.make_ticket(customer=customer, title="HP LaserJet — paper jam error")
    factories.make_ticket(customer=customer, title="iPhone 13 — cracked screen")
    page = manager_client.get("/admin/tickets/ticket/", {"q": "paper jam"}).content.decode()
    assert "paper jam" in page
    assert "cracked screen" not in page
    assert Customer.objects.count() == 1


# --- writes go through the services ------------------------------------------------------------
CUSTOMER_FORM = {
    "first_name": "Linus",
    "last_name": "Torvalds",
    "email": "Linus@Kernel.ORG",
    "phone": "+1 (503) 555-0199",
    "active": "on",
    "address1": "1 Penguin Way",
    "address2": "",
    "city": "Portland",
    "state": "OR",
    "zip": "97201",
    "country": "us",
    "notes": "",
}


def test_adding_a_customer_in_the_admin_goes_through_the_service(manager_client):
    response = manager_client.post("/admin/customers/customer/add/", CUSTOMER_FORM)
    assert response.status_code == 302, response.content[:3000]
    customer = Customer.objects.get(last_name="Torvalds")
    # The service's normalisation (docs/api.md §4) and its activity entry.
    assert customer.country == "US"
    assert customer.email == "Linus@kernel.org"
    assert ActivityLog.objects.filter(action="customer:create", object_id=customer.pk).exists()


def test_service_rule_broken_in_the_admin_comes_back_as_an_error(manager_client):
    customer = factories.make_customer()
    factories.make_ticket(customer=customer)
    form = {
        **CUSTOMER_FORM,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "active": "",  # deactivating a customer that has a ticket: HAS_DEPENDENCIES
    }
    response = manager_client.post(
        f"/admin/customers/customer/{customer.pk}/change/", form, follow=True
    )
    assert response.status_code == 200
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("cannot be deactivated" in t for t in texts), texts
    customer.refresh_from_db()
    assert customer.active is True
    assert customer.last_name != "Torvalds"  # the whole change was rolled back


def test_adding_a_ticket_in_the_admin_auto_assigns_a_technician(manager_client, technician):
    customer = factories.make_customer()
    response = manager_client.post(
        "/admin/tickets/ticket/add/",
        {
            "customer": customer.pk,
            "title": "Lenovo ThinkPad T14 — cracked screen",
            "description": "Dropped from a desk.",
            "tech": "",
            "priority": 3,
            "category": "Screen",
            "device_type": "laptop",
            "device_brand": "Lenovo",
            "device_model": "ThinkPad T14",
            "serial_number": "PF-1A2B3",
            "accessories": "charger",
            "condition": "",
            "estimated_hours": "1.5",
            "notes": "",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    from tickets.models import Ticket

    ticket = Ticket.objects.get(serial_number="PF-1A2B3")
    assert ticket.tech == technician
    assert ActivityLog.objects.filter(action="ticket:create", object_id=ticket.pk).exists()


def test_activity_log_filters_by_kind(manager_client, manager):
    record_activity(actor=manager, action="ticket:status_change", object_type="ticket")
    record_activity(actor=manager, action="customer:deactivate", object_type="customer")
    page = manager_client.get("/admin/repairshop/activitylog/", {"kind": "ticket:"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "ticket:status_change" in text
    assert "customer:deactivate" not in text
