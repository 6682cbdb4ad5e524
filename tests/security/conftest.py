"""Fixtures for the security tests."""

import pytest

from ops import ratelimits


@pytest.fixture(autouse=True)
def _fresh_ratelimit_state(settings):
    """A store error seen by an earlier test must not change this one's policy, and counters
    left in Redis by an earlier test must not count against this one. (The database cache is
    rolled back with the test; Redis is not, so our own rate-limit keys are deleted: only
    those under this cache's key prefix, never the whole Redis.)"""
    ratelimits.reset_store_state()
    _delete_redis_counters(settings)
    yield
    ratelimits.reset_store_state()


def _delete_redis_counters(settings):
    from django.core.cache import caches

    alias = settings.RATELIMIT_USE_CACHE
    if settings.CACHES[alias]["BACKEND"] == "django_redis.cache.RedisCache":
        caches[alias].delete_pattern(f"{getattr(settings, 'RATELIMIT_CACHE_PREFIX', 'rl:')}*")


@pytest.fixture
def site_data(manager, technician, frontdesk, viewer):
    """One of everything, so that every route of the crawl has an object to show."""
    from accounts.models import ApiToken
    from tests.factories import make_customer, make_token
    from tickets.models import Notification, Priority
    from tickets.services import ticket_create
    from tickets.tasks import send_notification

    customer = make_customer(first_name="Grace", last_name="Hopper", email="grace@navy.test")
    ticket = ticket_create(
        actor=manager,
        data={
            "customer_id": customer.pk,
            "title": "Screen flickers",
            "description": "Flickers when the lid moves.",
            "priority": Priority.HIGH,
            "tech": technician,
        },
    )
    make_token(manager, name="crawl")
    notification = Notification.objects.filter(
        ticket=ticket
    ).first() or Notification.objects.create(
        ticket=ticket, recipient=technician.email, subject="Assigned", body="You got a ticket."
    )
    send_notification.enqueue(notification.pk)
    return {
        "customer": customer,
        "ticket": ticket,
        "user": technician,
        "manager": manager,
        "token": ApiToken.objects.first(),
    }


@pytest.fixture(scope="session")
def provider():
    """A real OpenID Connect provider (oidc-provider-mock: RS256, JWKS, discovery, PKCE,
    nonce required) on loopback; yields its issuer URL. Predefined identities: a technician
    and a user without roles; PUT /users/<sub> adds or changes others."""
    import os

    from oidc_provider_mock import User as ProviderUser
    from oidc_provider_mock import run_server_in_thread

    # Our callback is plain http on loopback; authlib wants https unless told otherwise.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    users = [
        ProviderUser(
            sub="tess-sub",
            claims={
                "email": "tess@shop.test",
                "given_name": "Tess",
                "family_name": "Tinker",
                "roles": ["technician"],
            },
        ),
        ProviderUser(sub="nobody-sub", claims={"email": "nobody@shop.test", "roles": []}),
    ]
    with run_server_in_thread(require_nonce=True, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"
