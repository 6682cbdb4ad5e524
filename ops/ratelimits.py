"""The rate limits of docs/api.md §8, on django-ratelimit, with a policy for a dead cache.

Every limit is a `Limit` below: its group, the setting that holds its rate and what happens
when the shared counter store (Redis) cannot be reached:

- LOCAL: counting goes on in this process's memory. The limit still holds per worker
  process (so at most workers x N across the site) while Redis is away. Used for the limits
  that stop password guessing and anonymous floods.
- OPEN: the request is let through uncounted. Used for the per-user API limits: those
  callers are authenticated staff, and refusing all API traffic because a cache is down
  would be an outage of our own making.

A store error is logged at most once a minute, and for a few seconds after one the store
is not tried again, so a hung Redis costs one socket timeout, not one per request.
"""

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django_ratelimit.core import (
    _split_rate,  # private, but the one parser of "5/15m"
    get_usage,
)
from django_ratelimit.exceptions import Ratelimited
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger("repairshop.security")

LOCAL = "local"
OPEN = "open"

ERROR_LOG_INTERVAL = 60  # seconds between two "store unreachable" log lines
STORE_RETRY_AFTER = 5  # seconds during which a failed store is not tried again


@dataclass(frozen=True)
class Limit:
    group: str
    rate_setting: str
    when_store_down: str

    @property
    def rate(self) -> str:
        return getattr(settings, self.rate_setting)


LOGIN_IP = Limit("login-ip", "RATE_LIMIT_LOGIN_IP", LOCAL)
LOGIN_USER = Limit("login-user", "RATE_LIMIT_LOGIN_USER", LOCAL)
API_READ = Limit("api-read", "RATE_LIMIT_API_READ", OPEN)
API_WRITE = Limit("api-write", "RATE_LIMIT_API_WRITE", OPEN)
API_ANON = Limit("api-anon", "RATE_LIMIT_API_ANON", LOCAL)
ALL_LIMITS = (LOGIN_IP, LOGIN_USER, API_READ, API_WRITE, API_ANON)


class RateLimited(Ratelimited):
    """A limit was hit. Subclasses django-ratelimit's exception (a PermissionDenied) so that
    code catching that one catches this; `retry_after` is in seconds."""

    def __init__(self, retry_after: int, limit: Limit):
        super().__init__(f"rate limit {limit.group} hit")
        self.retry_after = retry_after
        self.limit = limit


def client_ip(request) -> str:
    """REMOTE_ADDR, unless TRUST_X_FORWARDED_FOR says a proxy we trust sets X-Forwarded-For:
    then its right-most entry, the address that proxy saw (entries to its left are whatever
    the client chose to send)."""
    remote = request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - a key, not a bind
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            address = ipaddress.ip_address(last)
        except ValueError:
            return remote
        # A zone id ("fe80::1%<anything>") is whatever the client wrote: not an address.
        return remote if getattr(address, "scope_id", None) else str(address)
    return remote


# --- when the store is down --------------------------------------------------------------------
_state_lock = threading.Lock()
_last_error_logged = 0.0
_store_down_until = 0.0
_local_counts = LocMemCache("repairshop-ratelimit-fallback", {"OPTIONS": {"MAX_ENTRIES": 10000}})


# What a dead or hung Redis raises through django-redis (OSError: refused, unresolvable).
STORE_ERRORS = (ConnectionInterrupted, RedisError, OSError)


def _note_store_error(exc: BaseException) -> None:
    global _last_error_logged, _store_down_until
    now = time.monotonic()
    with _state_lock:
        _store_down_until = now + STORE_RETRY_AFTER
        if now - _last_error_logged < ERROR_LOG_INTERVAL:
            return
        _last_error_logged = now
    logger.error(
        "rate-limit store unreachable (%s); login and anonymous limits count per process, "
        "per-user API limits are open until it is back",
        type(exc).__name__,
    )


def _store_is_down() -> bool:
    return time.monotonic() < _store_down_until


def reset_store_state() -> None:
    """Forget a past store error (tests start from a clean slate)."""
    global _last_error_logged, _store_down_until
    with _state_lock:
        _last_error_logged = 0.0
        _store_down_until = 0.0
    _local_counts.clear()


def _local_usage(limit: Limit, value: str, increment: bool) -> dict | None:
    if limit.when_store_down == OPEN:
        return None
    count_limit, period = _split_rate(limit.rate)
    now = int(time.time())
    window_start = now - now % period
    key = f"{limit.group}:{value}:{window_start}"
    _local_counts.add(key, 0, period + 5)
    count = _local_counts.incr(key) if increment else _local_counts.get(key, 0)
    return {"count": count, "limit": count_limit, "time_left": window_start + period - now}


def usage(request, limit: Limit, value: str, *, increment: bool) -> dict | None:
    """django-ratelimit's usage of `limit` for key `value` ({"count", "limit", "time_left"}),
    None when limits are off or the store is down and the limit fails open."""
    if not settings.RATELIMIT_ENABLE:
        return None
    if not _store_is_down():
        try:
            found = get_usage(
                request,
                group=limit.group,
                key=lambda group, request: value,
                rate=limit.rate,
                increment=increment,
            )
        except STORE_ERRORS as exc:
            _note_store_error(exc)
        else:
            # django-ratelimit's own answer when the cache swallowed an error and gave no count.
            if found is None or found["time_left"] != -1:
                return found
            _note_store_error(ConnectionError("the cache returned no count"))
    return _local_usage(limit, value, increment)


def _retry_after(found: dict) -> int:
    return max(int(found.get("time_left") or 0), 1)


def hit(request, limit: Limit, value: str) -> None:
    """Counts one request against `limit` for key `value`; raises RateLimited past it."""
    found = usage(request, limit, value, increment=True)
    if found and found["count"] > found["limit"]:
        raise RateLimited(_retry_after(found), limit)


def check_not_exhausted(request, limit: Limit, value: str) -> None:
    """Raises RateLimited when `limit` for `value` has no attempt left, without counting one
    (the failed-login limit is counted only when a login fails)."""
    found = usage(request, limit, value, increment=False)
    if found and found["count"] >= found["limit"]:
        raise RateLimited(_retry_after(found), limit)


# --- the limits of docs/api.md §8 -----------------------------------------------------------------
def _username_key(username: str) -> str:
    return username.strip().casefold()[:150]


def login_attempt(request, username: str) -> None:
    """Before checking a password (form or SSO callback): 10/min per client IP, and no more
    tries for a username that has used up its failures."""
    hit(request, LOGIN_IP, client_ip(request))
    if username:
        check_not_exhausted(request, LOGIN_USER, _username_key(username))


def login_failed(request, username: str) -> None:
    """Counts a failed login against the username (5 per 15 minutes)."""
    if username:
        usage(request, LOGIN_USER, _username_key(username), increment=True)


def api_request(request, *, user=None) -> None:
    """The API limits: per user for reads (safe methods) and writes, per client IP for
    requests without valid credentials. Raises RateLimited."""
    if user is not None and user.is_authenticated:
        safe = request.method in ("GET", "HEAD", "OPTIONS")
        hit(request, API_READ if safe else API_WRITE, str(user.pk))
    else:
        hit(request, API_ANON, client_ip(request))
