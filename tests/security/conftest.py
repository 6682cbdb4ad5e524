"""Fixtures for the security tests."""

import pytest

from repairshop import ratelimits


@pytest.fixture(autouse=True)
def _fresh_ratelimit_state():
    """A store error seen by an earlier test must not change this one's policy."""
    ratelimits.reset_store_state()
    yield
    ratelimits.reset_store_state()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Failed logins hash a password too; the slow production hasher adds nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
