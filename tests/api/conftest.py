"""Fixtures for the API tests: a client that speaks JSON with a role's bearer token."""

import pytest

from tests import factories
from tests.helpers import ApiClient


@pytest.fixture
def as_manager(manager):
    return ApiClient(factories.make_token(manager))


@pytest.fixture
def as_frontdesk(frontdesk):
    return ApiClient(factories.make_token(frontdesk))


@pytest.fixture
def as_technician(technician):
    return ApiClient(factories.make_token(technician))


@pytest.fixture
def as_viewer(viewer):
    return ApiClient(factories.make_token(viewer))


@pytest.fixture
def anonymous(db):
    return ApiClient()
