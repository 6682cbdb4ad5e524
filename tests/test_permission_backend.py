"""accounts.backends.PermissionLookupBackend: the same permissions as Django's ModelBackend,
in one query."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.test import Client

from accounts import roles
from accounts.backends import PermissionLookupBackend
from accounts.models import User
from tests import factories


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _both(user_pk):
    fast = PermissionLookupBackend().get_all_permissions(User.objects.get(pk=user_pk))
    django = ModelBackend().get_all_permissions(User.objects.get(pk=user_pk))
    return fast, django


@pytest.mark.django_db
@pytest.mark.parametrize("role", roles.ROLES)
def test_same_permissions_as_model_backend(role):
    user = factories.make_user(roles=[role])
    fast, django = _both(user.pk)
    assert fast == django == set(roles.ROLE_PERMISSIONS[role])


@pytest.mark.django_db
def test_direct_permissions_and_several_roles():
    user = factories.make_user(roles=[roles.TECHNICIAN, roles.VIEWER])
    user.user_permissions.add(Permission.objects.get(codename="add_customer"))
    fast, django = _both(user.pk)
    assert fast == django
    assert "customers.add_customer" in fast
    assert "tickets.view_all_tickets" in fast


@pytest.mark.django_db
def test_inactive_users_and_users_without_a_role_have_none():
    inactive = factories.make_user(roles=[roles.MANAGER], is_active=False)
    nobody = factories.make_user()
    assert _both(inactive.pk) == (set(), set())
    assert _both(nobody.pk) == (set(), set())


@pytest.mark.django_db
def test_superusers_are_left_to_model_backend():
    admin = factories.make_user(is_superuser=True)
    assert PermissionLookupBackend().get_all_permissions(admin) == set()
    assert admin.has_perm("tickets.view_all_tickets")


@pytest.mark.django_db
def test_has_perm_costs_one_query_and_is_read_once(django_assert_num_queries):
    user = User.objects.get(pk=factories.make_user(roles=[roles.FRONTDESK]).pk)
    with django_assert_num_queries(1):
        assert user.has_perm("tickets.view_ticket")
        assert not user.has_perm("customers.delete_customer")  # asks every backend: cached
        assert user.has_perms(["customers.view_customer", "tickets.add_ticket"])


@pytest.mark.django_db
def test_a_removed_role_is_seen_on_the_next_request():
    user = factories.make_user(roles=[roles.MANAGER])
    assert User.objects.get(pk=user.pk).has_perm("accounts.access_admin")
    user.groups.clear()
    assert not User.objects.get(pk=user.pk).has_perm("accounts.access_admin")


@pytest.mark.django_db
def test_sessions_are_bound_to_a_signing_in_backend():
    client = Client()
    client.force_login(factories.make_user(roles=[roles.MANAGER]))
    assert client.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"
