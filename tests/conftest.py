"""The fixed cast of users (manager, frontdesk, technician, other technician, viewer) and
helpers shared by every test."""

import os

import pytest

from accounts import roles
from tests import factories
from tests.helpers import on_postgresql


def _is_transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(
        {"transactional_db", "live_server", "django_db_serialized_rollback"}
        & set(getattr(item, "fixturenames", ()))
        or (marker is not None and marker.kwargs.get("transaction"))
    )


def _is_serialized(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return "django_db_serialized_rollback" in getattr(item, "fixturenames", ()) or bool(
        marker is not None and marker.kwargs.get("serialized_rollback")
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Among the transactional tests (pytest-django runs them together, after the others),
    the serialized_rollback ones go first. A plain transactional test ends with a flush that
    re-creates the content types under new ids, and a serialized test that followed it could
    not load its snapshot (duplicate content type). A serialized test's own flush leaves the
    tables empty, and role_groups_after_flush refills what the next tests need."""
    positions = [i for i, item in enumerate(items) if _is_transactional(item)]
    ordered = sorted((items[i] for i in positions), key=lambda item: not _is_serialized(item))
    for i, item in zip(positions, ordered, strict=True):
        items[i] = item


@pytest.fixture(autouse=True)
def role_groups_after_flush(request):
    """A transactional test ends with a flush that deletes the role groups and the default
    statuses: they come from data migrations, which the flush does not replay. Before each
    transactional test, put them back as accounts.roles and tickets.default_statuses say
    (before the user fixtures, which look the groups up)."""
    if not _is_transactional(request.node):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # A flush after a serialized_rollback test skips post_migrate: the permissions (and
    # content types) are gone too.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    from tickets.default_statuses import install_default_statuses
    from tickets.models import Status, StatusGroupDefault, StatusTransition

    install_default_statuses(Status, StatusTransition, StatusGroupDefault)
    for role, perms in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in (dotted.split(".") for dotted in perms)
            ]
        )


# Verify mode of the rendered-list cache for the whole suite (core.rendered): every hit is
# rendered afresh and compared. Set in the environment too, for the servers tests start.
os.environ.setdefault("RENDERED_VERIFY", "true")


@pytest.fixture(autouse=True)
def verify_rendered(settings):
    settings.RENDERED_VERIFY = os.environ["RENDERED_VERIFY"] == "true"


@pytest.fixture
def without_verify(settings):
    """For the tests that measure what a hit costs: verify mode renders every hit again."""
    settings.RENDERED_VERIFY = False


@pytest.fixture(autouse=True)
def forget_rendered_and_permissions():
    """Each test starts with nothing remembered in this process: no rendered list
    (core.rendered), no user's permissions (accounts.backends), no polled version.
    They are keyed by what they depend on, but a rolled-back test can repeat ids and
    timestamps."""

    from accounts.backends import remembered
    from accounts.permissions import remembered_roles
    from core.rendered import forget_all

    forget_all()
    remembered.clear()
    remembered_roles.clear()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The cast of users is created for nearly every test, and failed logins hash too: the
    # production hasher (PBKDF2) would dominate the run time and tests nothing of ours.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


@pytest.fixture
def postgresql_only(db):
    if not on_postgresql():
        pytest.skip("needs PostgreSQL")
