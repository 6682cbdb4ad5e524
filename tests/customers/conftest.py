"""Fixtures for these tests."""

import pytest


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The cast of users is created for nearly every test; PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
