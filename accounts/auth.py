"""How an API request proves who it is (docs/api.md §1, §6): a personal token in
`Authorization: Bearer`, or the browser session with its CSRF token for unsafe methods.

Each class hands the user it found (or None when the request is anonymous) to `on_request`,
the API's per-request hook (repairshop.api.check_request), so that checks that need to
know the caller, such as rate limits, run in one place for every request.
"""

import re
from collections.abc import Callable
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from accounts.models import TOKEN_PREFIX, ApiToken, User, hash_token

# last_used_at is a hint for whoever audits tokens, not a log: writing it on every request
# would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Query parameters that clients commonly use to carry credentials. A token in a URL ends up in
# proxy logs, browser history and Referer headers, so such a request is refused, not served.
_CREDENTIAL_PARAMS = frozenset(
    {"token", "access_token", "api_token", "apikey", "api_key", "key", "auth", "bearer"}
)
_TOKEN_LIKE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{20,}")

OnRequest = Callable[[HttpRequest, object | None], None]


def _no_check(request: HttpRequest, user) -> None:
    return None


def token_in_query_string(request: HttpRequest) -> bool:
    for name, values in request.GET.lists():
        if name.lower() in _CREDENTIAL_PARAMS:
            return True
        if any(_TOKEN_LIKE.search(value) for value in values):
            return True
    return False


def _token_sql() -> str:
    """The user of a usable token (ApiToken.objects.usable()), with the token's id and name
    and whether its last use is older than a given instant, in one statement.

    Built once: compiling the equivalent select_related() queryset cost ~0.4 ms of CPU on
    every API request, more than the query itself. Identifiers come from the models'
    metadata; the hash and the instant are parameters."""
    token, user = ApiToken._meta, User._meta
    return (
        f"SELECT u.*, t.id AS api_token_id, t.name AS api_token_name, "  # noqa: S608
        f"(t.last_used_at IS NULL OR t.last_used_at < %s) AS api_token_stale "
        f"FROM {token.db_table} t JOIN {user.db_table} u ON u.id = t.user_id "
        f"WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.is_active"
    )


_TOKEN_SQL: str | None = None


def user_for_token(token: str):
    """The active user of a usable (not revoked) token, or None. Marks the token used."""
    global _TOKEN_SQL
    if _TOKEN_SQL is None:
        _TOKEN_SQL = _token_sql()
    now = timezone.now()
    stale_before = now - LAST_USED_RESOLUTION
    # In the database's own format, so that SQLite's text timestamps compare correctly.
    stale_param = connection.ops.adapt_datetimefield_value(stale_before)
    found = list(User.objects.raw(_TOKEN_SQL, [stale_param, hash_token(token)]))
    if not found:
        return None
    user = found[0]
    if user.api_token_stale:
        # Conditional, so that concurrent requests write it once between them.
        updated = ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before),
            pk=user.api_token_id,
        ).update(last_used_at=now)
        if updated:
            # The security log gets token use at the same resolution: once a minute a token.
            from ops.security import log_event

            log_event(
                "auth:token_used",
                actor=user,
                object_type="api_token",
                object_id=user.api_token_id,
                metadata={"name": user.api_token_name},
            )
    return user


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`. No CSRF: a browser never adds this header by itself."""

    def __init__(self, on_request: OnRequest = _no_check):
        self.on_request = on_request
        super().__init__()

    def __call__(self, request: HttpRequest):
        if token_in_query_string(request):
            self.on_request(request, None)
            raise AuthenticationError(
                message="API tokens go in the Authorization header, never in the URL"
            )
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str):
        user = user_for_token(token.strip()) if token.strip() else None
        if user is None:
            self.on_request(request, None)
            # Raising (rather than returning None) stops the session from being tried: a client
            # that sent a token wants to know that it is wrong.
            raise AuthenticationError(message="Invalid or revoked API token")
        # The services and the activity log read request.user.
        request.user = user
        self.on_request(request, user)
        return user


class SessionCsrfAuth(APIKeyCookie):
    """The browser session. Unsafe methods need the CSRF token, as Django's own views do.

    ninja's SessionAuth checks CSRF before it looks at the user, which answers an anonymous
    POST with 403; docs/api.md §6 wants 401 for "no valid session", so the user comes first.
    """

    param_name = "sessionid"

    def __init__(self, on_request: OnRequest = _no_check):
        from django.conf import settings

        self.param_name = settings.SESSION_COOKIE_NAME
        self.on_request = on_request
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header")
        self.on_request(request, user)
        return user

    def authenticate(self, request: HttpRequest, key):  # pragma: no cover - __call__ decides
        return None


class Anonymous:
    """Last in the list: nobody authenticated. Runs the per-request hook for the anonymous
    caller, then refuses with 401."""

    def __init__(self, on_request: OnRequest = _no_check):
        self.on_request = on_request

    def __call__(self, request: HttpRequest):
        self.on_request(request, None)
        raise AuthenticationError(message="Authentication required: a session or an API token")


def authenticate_request(request: HttpRequest):
    """The user behind a request that is not an API operation (the OpenAPI schema and docs),
    by the same rules; None when anonymous. Raises AuthenticationError for a bad token."""
    for auth in (BearerTokenAuth(), SessionCsrfAuth()):
        user = auth(request)
        if user:
            return user
    return None
