"""Production cache set-up (Redis for the cache, cached_db sessions and the rate limits) on a
Redis this test starts on a spare port and then kills: the app keeps serving, no 5xx.

Policy under test (ops.ratelimits): with Redis gone the login and anonymous limits
keep counting in process memory, the per-user API limits are open; one error log line.
"""

import logging
import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.core.cache import caches

from ops import ratelimits
from tests.factories import PASSWORD, make_token
from tests.security.crawl import all_routes

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")

KEY_PREFIX = "rs-security-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis():
    port = _free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("redis-server did not start")
    yield {"url": f"redis://127.0.0.1:{port}/0", "client": client, "process": process}
    if process.poll() is None:
        process.kill()
    process.wait(timeout=5)


@pytest.fixture
def redis_settings(settings, own_redis):
    """The CACHES of repairshop.settings when REDIS_URL is set, on our own Redis."""
    options = {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": own_redis["url"],
            "KEY_PREFIX": KEY_PREFIX,
            "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True},
        },
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": own_redis["url"],
            "KEY_PREFIX": KEY_PREFIX,
            "OPTIONS": options,
        },
        "rendered": settings.CACHES["rendered"],
    }
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.RATELIMIT_ENABLE = True
    yield own_redis
    caches.close_all()


def stop(redis_server):
    redis_server["process"].kill()
    redis_server["process"].wait(timeout=5)


def test_limits_and_sessions_live_in_redis_while_it_is_up(client, redis_settings, technician):
    redis_settings_client = redis_settings["client"]
    assert (
        client.post("/accounts/login/", {"username": "tech", "password": PASSWORD}).status_code
        == 302
    )
    keys = [key.decode() for key in redis_settings_client.keys(f"{KEY_PREFIX}:*")]
    assert any("rl:" in key for key in keys), keys
    assert any("cached_db" in key for key in keys), keys
    assert client.get("/accounts/password/").status_code == 200


def test_every_page_and_api_call_answers_without_5xx_with_redis_down(
    client, redis_settings, site_data, settings, caplog
):
    settings.RATE_LIMIT_LOGIN_IP = "3/m"
    settings.RATE_LIMIT_API_READ = "2/m"
    manager = site_data["manager"]
    # Signed in while Redis is up: the session is in Redis and in the database.
    assert (
        client.post("/accounts/login/", {"username": "manager", "password": PASSWORD}).status_code
        == 302
    )
    token = make_token(manager)

    stop(redis_settings)
    caplog.set_level(logging.ERROR, logger="repairshop.security")

    routes = all_routes(
        customer=site_data["customer"], ticket=site_data["ticket"], user=site_data["user"]
    )
    answers = {}
    for route in routes:
        answers[route.url] = client.get(route.url).status_code
    # Still signed in (the session came from the database): pages answer 200, not login.
    assert answers["/customers/"] == 200
    assert answers["/tickets/"] == 200
    bad = {url: status for url, status in answers.items() if status >= 500}
    assert bad == {}

    # API: reads past the (open) per-user limit still answer; writes answer.
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(4):
        assert client.get("/api/customers", **bearer).status_code == 200
    created = client.post(
        "/api/customers",
        {
            "firstName": "Ada",
            "lastName": "Byron",
            "email": "ada@redis-down.test",
            "phone": "+44 20 7946 0000",
            "address1": "1 St James's Square",
            "city": "London",
            "state": "London",
            "zip": "SW1Y 4JU",
            "country": "GB",
        },
        content_type="application/json",
        **bearer,
    )
    assert created.status_code == 201, created.content
    assert client.get("/api/tickets", **bearer).status_code == 200
    assert client.get("/api/customers").status_code in (200, 401)  # session or anonymous

    # Logging out (deleting the session) and signing in again work without Redis.
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/customers/").status_code == 302
    anonymous = client.get("/api/customers")
    assert anonymous.status_code == 401

    # The login limit still holds, counted in this process.
    login = {"username": "manager", "password": "wrong"}
    statuses = [client.post("/accounts/login/", login).status_code for _ in range(4)]
    assert statuses[-1] == 429
    assert all(status < 500 for status in statuses)

    store_errors = [r for r in caplog.records if "rate-limit store unreachable" in r.message]
    assert len(store_errors) == 1  # once a minute, not once a request


def test_store_down_policy_per_limit(rf, redis_settings, settings):
    settings.RATE_LIMIT_LOGIN_IP = "1/m"
    settings.RATE_LIMIT_API_READ = "1/m"
    stop(redis_settings)
    request = rf.get("/")
    # LOCAL: the second hit in the window is refused even though Redis is gone.
    ratelimits.hit(request, ratelimits.LOGIN_IP, "192.0.2.1")
    with pytest.raises(ratelimits.RateLimited):
        ratelimits.hit(request, ratelimits.LOGIN_IP, "192.0.2.1")
    # OPEN: never refused while the store is down.
    for _ in range(5):
        ratelimits.hit(request, ratelimits.API_READ, "42")
    assert {limit.group: limit.when_store_down for limit in ratelimits.ALL_LIMITS} == {
        "login-ip": "local",
        "login-user": "local",
        "api-read": "open",
        "api-write": "open",
        "api-anon": "local",
    }
