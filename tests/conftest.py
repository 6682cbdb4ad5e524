"""The fixed cast of users (manager, frontdesk, technician, other technician, viewer) and
helpers shared by every test."""

import pytest
from django.db import connection

from accounts import roles
from tests import factories


@pytest.fixture
def manager(db):
    return factories.make_user(username="manager", roles=[roles.MANAGER], first_name="Mona")


@pytest.fixture
def frontdesk(db):
    return factories.make_user(username="frontdesk", roles=[roles.FRONTDESK], first_name="Fred")


@pytest.fixture
def technician(db):
    return factories.make_user(username="tech", roles=[roles.TECHNICIAN], first_name="Tess")


@pytest.fixture
def other_technician(db):
    return factories.make_user(username="tech2", roles=[roles.TECHNICIAN], first_name="Otto")


@pytest.fixture
def viewer(db):
    return factories.make_user(username="viewer", roles=[roles.VIEWER], first_name="Vera")


@pytest.fixture
def customer(db):
    return factories.make_customer(first_name="Grace", last_name="Hopper", email="grace@navy.test")


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def postgresql_only(db):
    if not on_postgresql():
        pytest.skip("needs PostgreSQL")
