"""Rendered lists remembered per data version: the version, the key, the slots, the stores
and the verify mode, all of it here.

A list is a function of the data (the data version: every change of a table a list reads
moves it), of the request (path and query), and of who is looking. Once rendered it is served
again until the version moves, at the cost of one cache read instead of its queries and its
template. The first request after a change renders afresh.

Who is looking is where a shared cache leaks, so it is never left to the caller:
- A whole page (`remember_page`) and an API list (`remember_data`) are keyed by the user's
  identity. Nothing of one user's can reach another.
- The results of a list (`remember_shared`), the part of the page that polls and is the same
  for every user of one role, are keyed by an `Audience`: the user's roles, permissions and
  superuser flag, and their id only where the rows depend on whose they are. They are
  rendered *from the audience alone*: the template gets a `Viewer` standing in for the user
  and a `SharedRequest` for the request, which answer what the key holds and raise
  `RenderedLeak` for anything else (a template asking for `user.username`, or a group the
  audience does not name, fails loudly instead of serving one user's rows to another).
- With `RENDERED_VERIFY` (on for the whole test suite) every hit is rendered afresh and
  compared with what was remembered: any difference, whatever its cause (data outside the
  version, the clock, a header), raises `RenderedMismatch`.

What differs per request (the CSRF token, the CSP nonce) is rendered as a slot and filled in
on the way out. The store is the per-process "rendered" cache (settings.CACHES): no network
round trip, and nothing goes stale across processes because every key carries the version.
"""

import difflib
import functools
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.middleware.csrf import get_token
from django.utils.csp import CONTEXT_KEY as CSP_NONCE_KEY

CACHE_ALIAS = "rendered"


class RenderedLeak(Exception):
    """A shared rendering read something about the viewer that its key does not hold.

    Not an AttributeError on purpose: Django's templates swallow those into an empty string,
    which would turn the leak into a silent difference between users."""


class RenderedMismatch(AssertionError):
    """Verify mode: a remembered rendering differs from a fresh one of the same key."""


# --- the data version ------------------------------------------------------------------------
# On PostgreSQL also the commit-ordered change counter (tickets/migrations/0004_data_version):
# the maxima alone can miss a change whose id or timestamp is lower but which commits later.
_COUNTER_SQL = "(SELECT n FROM repairshop_data_version WHERE id = 1)"


@functools.cache
def _version_sql(vendor: str) -> str:
    """The newest id and the latest updated_at of every table a list reads
    (settings.RENDERED_VERSION_MODELS) and the latest deadline passed
    (settings.RENDERED_VERSION_DEADLINES): with an index on the column each max() is a single
    step down it (PostgreSQL and SQLite both plan it so; the staff table is small). Plain
    SQL: building it with the ORM cost ten times the query itself (0.63 ms of CPU against
    0.06 ms)."""
    parts = []
    for label in settings.RENDERED_VERSION_MODELS:
        table = apps.get_model(label)._meta.db_table
        parts.append(f"(SELECT max(id) FROM {table})")  # noqa: S608 - table names only
        parts.append(f"(SELECT max(updated_at) FROM {table})")  # noqa: S608
    now = "clock_timestamp()" if vendor == "postgresql" else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    for dotted in settings.RENDERED_VERSION_DEADLINES:
        label, column = dotted.rsplit(".", 1)
        table = apps.get_model(label)._meta.db_table
        # One step down an index on the column: it moves exactly when a deadline passes.
        parts.append(f"(SELECT max({column}) FROM {table} WHERE {column} <= {now})")  # noqa: S608
    parts.append(_COUNTER_SQL if vendor == "postgresql" else "NULL")
    # Named, so that a query log shows which query this is (the tests count it).
    return "SELECT " + ", ".join(parts) + ' AS "data_version"'


def _version_cursor():
    """A cursor for the version query: on PostgreSQL one that runs it as a prepared
    statement of the (pooled, long-lived) connection.

    Planning the sub-selects took 0.18 ms of the server's time against 0.08 ms to run them,
    on every page, poll and API list. Django turns psycopg's prepared statements off
    (OPTIONS["prepare_threshold"] None, for transaction-mode poolers); repairshop.settings
    turns them back on unless DATABASE_PREPARED_STATEMENTS=false, and even then only this
    statement is prepared: Django's own cursors bind on the client and never prepare. The
    cursor is wrapped by Django as its own are (query log, execute wrappers, database errors
    as django.db errors)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        return connection.cursor()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_prepared_cursor_class()(raw))


@functools.cache
def _prepared_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor  # needs psycopg

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True)

    return PreparedCursor


def data_version() -> str:
    """An opaque string that changes whenever a list could show something new: a row
    created or changed in any table of settings.RENDERED_VERSION_MODELS (every service write
    moves updated_at; staff rows move on group and permission changes, accounts.signals)
    and, on PostgreSQL, the change counter that follows commit order. One query.

    It is the same for every user, so it checks no permission: all an unchanged poll learns
    is "no change" for a version only a page the user was allowed to see gave them."""
    with _version_cursor() as cursor:
        cursor.execute(_version_sql(connection.vendor))
        raw = "|".join(str(value) for value in cursor.fetchone())
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class _PolledVersion:
    """This process's latest data version and when it was read."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value: str | None = None
        self._read_at = 0.0

    def get(self, *, max_age: float) -> str:
        now = time.monotonic()
        with self._lock:
            if self._value is not None and now - self._read_at < max_age:
                return self._value
        value = data_version()
        with self._lock:
            self._value, self._read_at = value, now
        return value

    def forget(self) -> None:
        with self._lock:
            self._value = None


_polled = _PolledVersion()


def polled_version(*, max_age: float) -> str:
    """data_version as read by this process at most `max_age` seconds ago.

    Only for the timed polls of the lists (X-Poll: timer): every open screen asks every 30 s,
    and answering "no change" from a version up to a second old spares the database one
    query per poll, at the price of showing a change at most one second later. Everything
    else reads data_version itself: a page, the API and the refresh that follows a change
    made on the page (read-your-own-writes)."""
    if max_age <= 0:
        return data_version()
    return _polled.get(max_age=max_age)


# --- who is looking ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Audience:
    """Everything a shared rendering may know about its viewer, and so everything it is
    keyed by. Users with equal audiences get the same bytes.

    `user_id` is set only where the rows depend on whose they are (a technician's own
    tickets, the status forms on their own rows): then the audience is one user."""

    roles: frozenset[str]
    permissions: frozenset[str]
    superuser: bool = False
    user_id: int | None = None

    def key(self) -> str:
        return "|".join(
            (
                ",".join(sorted(self.roles)),
                ",".join(sorted(self.permissions)),
                "superuser" if self.superuser else "",
                "" if self.user_id is None else str(self.user_id),
            )
        )


class Viewer:
    """The user as a shared rendering sees it: the audience, and nothing else."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, audience: Audience):
        self._audience = audience
        self.is_superuser = audience.superuser
        self.roles = audience.roles
        # What was asked for and refused. Some template tags swallow any exception (the
        # comparisons of {% if %} do), so remember_shared checks this after rendering too.
        self.leaks: list[str] = []

    def _leak(self, message: str) -> RenderedLeak:
        self.leaks.append(message)
        return RenderedLeak(message)

    @property
    def pk(self) -> int:
        if self._audience.user_id is None:
            raise self._leak(
                "A shared rendering read the user's id, but its audience is a role, not one "
                "user: give the audience the user's id (it then renders per user)."
            )
        return self._audience.user_id

    id = pk

    def has_perm(self, perm: str, obj=None) -> bool:
        return obj is None and (self.is_superuser or perm in self._audience.permissions)

    def has_perms(self, perms, obj=None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perms)

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_superuser or any(
            perm.startswith(f"{app_label}.") for perm in self._audience.permissions
        )

    def get_all_permissions(self, obj=None) -> set[str]:
        return set(self._audience.permissions) if obj is None else set()

    def __getattr__(self, name: str):
        # Only reached for names not defined above.
        if name.startswith("__"):  # copy, pickle and friends probing for hooks
            raise AttributeError(name)
        raise self._leak(
            f"A shared rendering read user.{name}, which its audience (roles, permissions, "
            "superuser, and the id where rows are per user) does not hold. Render that part "
            "per user, or add what it needs to the Audience."
        )


class SharedRequest:
    """The request as a shared rendering sees it: what its key holds (path and query)."""

    def __init__(self, request, viewer: Viewer):
        self._viewer = viewer
        self.path = request.path
        self.GET = request.GET
        self.method = request.method
        self.user = viewer
        self._full_path = request.get_full_path()

    def get_full_path(self) -> str:
        return self._full_path

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._viewer._leak(
            f"A shared rendering read request.{name}; its key holds only the path and the "
            "query. Pass what it needs in the context (it is then part of the rendering, "
            "not of the request)."
        )


# --- slots: what differs per request ---------------------------------------------------------
# Random per process, as is the cache they are stored in: no user data can aim at them.
CSRF_SLOT = f"csrf{secrets.token_hex(16)}"
NONCE_SLOT = f"nonce{secrets.token_hex(16)}"
SLOT_CONTEXT = {"csrf_token": CSRF_SLOT, CSP_NONCE_KEY: NONCE_SLOT}
_CSRF_SLOT_BYTES = CSRF_SLOT.encode()
_NONCE_SLOT_BYTES = NONCE_SLOT.encode()


def fill_slots(request, body: bytes) -> bytes:
    """The per-request values put into a body rendered with SLOT_CONTEXT."""
    if _CSRF_SLOT_BYTES in body:
        body = body.replace(_CSRF_SLOT_BYTES, get_token(request).encode())
    if _NONCE_SLOT_BYTES in body:
        body = body.replace(_NONCE_SLOT_BYTES, str(getattr(request, "_csp_nonce", "")).encode())
    return body


# --- keys and the store ---------------------------------------------------------------------
def _request_parts(request) -> tuple[str, str]:
    return request.path, request.META.get("QUERY_STRING", "")


def _key(*parts) -> tuple[str, str]:
    """The cache key and, for verify mode's messages, what it was made of."""
    described = "\x1f".join(str(part) for part in parts)
    return "rendered:" + hashlib.blake2b(described.encode(), digest_size=20).hexdigest(), described


def _remembered(key: tuple[str, str], render: Callable[[], str], *, version: str) -> bytes:
    """The bytes stored under key, or render() (text) stored as UTF-8 and returned. Bytes
    because that is what a response sends: no decoding on the way out of the cache and no
    encoding into the response."""
    cache_key, described = key
    cache = caches[CACHE_ALIAS]
    body = cache.get(cache_key)
    if body is None:
        body = render().encode()
        cache.set(cache_key, body)
    elif settings.RENDERED_VERIFY:
        _verify(described, body, render().encode(), version=version)
    return body


def _verify(described: str, remembered: bytes, fresh: bytes, *, version: str) -> None:
    if remembered == fresh:
        return
    if data_version() != version:
        # A write landed between this request's version read and its fresh rendering: the
        # fresh one shows newer data than its key. Not the key's fault; the remembered one
        # is what this request would be served.
        return
    diff = "\n".join(
        list(
            difflib.unified_diff(
                remembered.decode().splitlines(),
                fresh.decode().splitlines(),
                "remembered",
                "fresh",
                lineterm="",
                n=1,
            )
        )[:40]
    )
    raise RenderedMismatch(
        "A remembered rendering differs from a fresh one of the same key: the output depends "
        f"on something its key does not hold.\nkey: {described!r}\n{diff}"
    )


def remember_shared(
    request,
    *,
    name: str,
    version: str,
    audience: Audience,
    render: Callable[[Viewer, SharedRequest], str],
) -> bytes:
    """A rendering shared by every user of `audience`: `render(viewer, shared_request)`
    must build it from those two stand-ins and the view's own context alone."""
    key = _key("shared", name, version, audience.key(), *_request_parts(request))

    def render_from_audience() -> str:
        viewer = Viewer(audience)
        text = render(viewer, SharedRequest(request, viewer))
        if viewer.leaks:
            raise RenderedLeak(viewer.leaks[0])
        return text

    return _remembered(key, render_from_audience, version=version)


def remember_page(request, *, name: str, version: str, render: Callable[[], str]) -> bytes:
    """A rendering of one user's (a whole page around its shared results). Never for a
    request that carries messages: they are shown once."""
    if has_pending_messages(request):
        return render().encode()
    key = _key("page", name, version, request.user.pk, *_request_parts(request))
    return _remembered(key, render, version=version)


def remember_data(request, *, version: str, user, render: Callable[[], str]) -> bytes:
    """An API list's data (JSON text) for one caller."""
    key = _key("api", version, user.pk, *_request_parts(request))
    return _remembered(key, render, version=version)


def has_pending_messages(request) -> bool:
    """Messages are shown once: a page that carries them is never served from memory."""
    storage = getattr(request, "_messages", None)
    return bool(storage is not None and len(storage))


def forget_all() -> None:
    """Nothing remembered in this process (tests; a template edited under runserver)."""
    caches[CACHE_ALIAS].clear()
    _polled.forget()


def forget_on_template_change(sender, file_path, **kwargs):
    """runserver reloads a changed template without restarting: forget what was rendered
    with the old one (the key does not know templates). Returns None, so the reloader goes
    on deciding whether to restart."""
    if file_path.suffix in (".html", ".txt"):
        forget_all()
