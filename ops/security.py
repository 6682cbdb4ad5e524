"""Security log and the session/cache middleware that a security review asks for.

`log_event` writes one security event to the activity log and the `repairshop.security`
logger. The middleware (after AuthenticationMiddleware) ends sessions of deactivated users
and idle sessions and marks authenticated answers no-store. (API tokens in a query string are
refused by the API's authentication, accounts.auth.)
"""

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render, resolve_url
from django.utils.cache import add_never_cache_headers
from django_htmx.http import HttpResponseClientRedirect
from django_ratelimit.exceptions import Ratelimited

from core.activity import record_activity

security_log = logging.getLogger("repairshop.security")

LAST_SEEN_KEY = "_last_seen"
# The idle clock is refreshed at most this often, so that a busy user's session is written
# about once a minute, not on every request (and every htmx poll).
LAST_SEEN_REFRESH = 60


def log_event(
    action: str,
    *,
    actor=None,
    object_type: str = "",
    object_id: int | None = None,
    level: int = logging.INFO,
    metadata: dict[str, Any] | None = None,
) -> None:
    """One security event ("auth:login", "auth:login_failed", ...) in the activity log and the
    security logger. Callers never put passwords, tokens or session keys in `metadata`."""
    metadata = metadata or {}
    security_log.log(
        level,
        "%s actor=%s %s",
        action,
        getattr(actor, "pk", None),
        " ".join(f"{key}={value!r}" for key, value in sorted(metadata.items())),
    )
    record_activity(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        metadata=metadata,
    )


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


class SessionSecurityMiddleware:
    """Runs after AuthenticationMiddleware.

    - A session whose user was deactivated (or deleted) is flushed on its next request.
    - A session idle for longer than SESSION_IDLE_TIMEOUT is flushed; pages then go to the
      login page, the API answers 401 as for any anonymous caller.
    - Answers to authenticated callers are Cache-Control: no-store, so that a shared machine's
      browser cache or a proxy keeps no customer data.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        expired = self._end_dead_session(request)
        if expired and not _is_api(request):
            if request.headers.get("HX-Request") == "true":
                # Never swap a login page into a table: send the whole window there.
                return HttpResponseClientRedirect(resolve_url(settings.LOGIN_URL))
            if request.method in ("GET", "HEAD"):
                return redirect_to_login(request.get_full_path())

        response = self.get_response(request)

        user = getattr(request, "user", None)
        authenticated = (user is not None and user.is_authenticated) or (
            "HTTP_AUTHORIZATION" in request.META
        )
        if authenticated and "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response

    def process_exception(self, request, exception):
        """A rate limit hit by a page (django-ratelimit's exception, a PermissionDenied) is the
        friendly 429 page, not a 403. The API answers its own with the JSON envelope."""
        if not isinstance(exception, Ratelimited) or _is_api(request):
            return None
        retry_after = getattr(exception, "retry_after", None)
        response = render(request, "429.html", {"retry_after": retry_after}, status=429)
        if retry_after:
            response["Retry-After"] = str(retry_after)
        return response

    def _end_dead_session(self, request) -> bool:
        """Flushes a session that must not be used any more; True when one was ended."""
        session = getattr(request, "session", None)
        if session is None or SESSION_KEY not in session:
            return False
        user = request.user
        if not user.is_authenticated:
            # The backend refused the stored user: deactivated or gone.
            security_log.info("session of an inactive or deleted user ended")
            session.flush()
            return True
        if not user.is_active:  # a backend that does not check is_active itself
            security_log.info("session of inactive user %s ended", user.pk)
            logout(request)
            return True

        now = int(time.time())
        last_seen = session.get(LAST_SEEN_KEY)
        if isinstance(last_seen, int) and now - last_seen > settings.SESSION_IDLE_TIMEOUT:
            security_log.info("idle session of user %s ended", user.pk)
            logout(request)
            return True
        if not isinstance(last_seen, int) or now - last_seen >= LAST_SEEN_REFRESH:
            session[LAST_SEEN_KEY] = now
        return False
