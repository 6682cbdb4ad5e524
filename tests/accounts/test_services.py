"""accounts.services: staff accounts and API tokens, every bad field at once."""

import pytest

from accounts import roles, services
from accounts.models import ApiToken, User, hash_token
from core.errors import DomainError
from core.models import ActivityLog

pytestmark = pytest.mark.django_db


def test_user_create_gives_the_roles_and_records_it(frontdesk):
    user = services.user_create(
        username=" dana ",
        role_names=[roles.TECHNICIAN, roles.VIEWER],
        email="Dana@Shop.Example",
        password="a long enough passphrase 42",
        via="test",
    )
    assert user.username == "dana" and user.email == "Dana@shop.example"
    assert set(user.groups.values_list("name", flat=True)) == {roles.TECHNICIAN, roles.VIEWER}
    assert user.check_password("a long enough passphrase 42")
    entry = ActivityLog.objects.get(action="user:create", object_id=user.pk)
    assert entry.metadata == {"roles": [roles.TECHNICIAN, roles.VIEWER], "via": "test"}


def test_user_create_names_every_bad_field_and_writes_nothing(frontdesk):
    users_before = User.objects.count()
    with pytest.raises(DomainError) as refused:
        services.user_create(
            username="frontdesk",  # taken
            role_names=["janitor"],
            email="not-an-email",
            password="frontdesk",  # too similar, too short
            via="test",
        )
    assert set(refused.value.details) == {"username", "roles", "email", "password"}
    assert User.objects.count() == users_before
    assert not ActivityLog.objects.filter(action="user:create").exists()


def test_api_token_create_stores_only_the_hash(technician):
    token, plain = services.api_token_create(username="tech", name=" bench ", via="test")
    assert token.name == "bench" and token.token_hash == hash_token(plain)
    assert plain not in {value for value in ApiToken.objects.values_list("token_hash", "name")[0]}


def test_api_token_create_refuses_an_inactive_user_and_a_bad_name(technician):
    technician.is_active = False
    technician.save()
    with pytest.raises(DomainError) as refused:
        services.api_token_create(username="tech", name="  ", via="test")
    assert set(refused.value.details) == {"username", "name"}
    assert not ApiToken.objects.exists()
