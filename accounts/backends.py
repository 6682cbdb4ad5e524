"""A user's permissions in one small query.

Every page and API call asks `user.has_perm(...)` at least once. Django's ModelBackend then
builds two ORM queries (direct permissions, permissions through groups): measured at 1.35 ms
of CPU per request on the benchmark machine, more than the whole of a minimal signed-in
request (the benchmark's floor, ~1 ms). This backend loads the same set with one
precompiled SQL statement (~0.1 ms) and stores it where ModelBackend keeps it
(`user._perm_cache`), so ModelBackend and the SSO backend (its subclass) answer from it.

It never authenticates anyone and holds no rule of its own: the result is exactly
ModelBackend's (active users only, superusers are left to ModelBackend). It goes first in
AUTHENTICATION_BACKENDS.

Each process also remembers the set per (user id, updated_at): the user row is read on every
request anyway, and updated_at moves with every change of the user's groups or permissions
or of their groups' permissions (accounts.signals), so a remembered set is never out of date
and a request of a known user costs no permission query at all.
"""

import threading
from collections import OrderedDict

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection


def _permissions_sql() -> str:
    user_model = get_user_model()
    user_perms = user_model._meta.get_field("user_permissions").remote_field.through._meta
    user_groups = user_model._meta.get_field("groups").remote_field.through._meta
    group_perms = Group._meta.get_field("permissions").remote_field.through._meta
    user_fk = user_model._meta.model_name + "_id"
    # Identifiers come from the models' metadata, never from input; the user id is a
    # parameter.
    return (
        f"SELECT ct.app_label, p.codename FROM {Permission._meta.db_table} p "  # noqa: S608
        f"JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN ("
        f"SELECT permission_id FROM {user_perms.db_table} WHERE {user_fk} = %s "
        f"UNION ALL "
        f"SELECT gp.permission_id FROM {group_perms.db_table} gp "
        f"JOIN {user_groups.db_table} ug ON ug.group_id = gp.group_id WHERE ug.{user_fk} = %s)"
    )


_REMEMBERED_USERS = 512


class RememberedPerUser:
    """A small LRU map (user id, updated_at) -> what was read about that user."""

    def __init__(self, size: int):
        self._size = size
        self._sets: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
            return found

    def put(self, key, permissions: frozenset) -> None:
        with self._lock:
            self._sets[key] = permissions
            self._sets.move_to_end(key)
            while len(self._sets) > self._size:
                self._sets.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()

    def read(self, user, load):
        """What load(user) returns, remembered per (user id, updated_at). A user built in
        memory (no updated_at yet) is never remembered."""
        key = (user.pk, user.updated_at) if user.updated_at else None
        known = self.get(key) if key else None
        if known is None:
            known = load(user)
            if key:
                self.put(key, known)
        return known


remembered = RememberedPerUser(_REMEMBERED_USERS)


class PermissionLookupBackend:
    """Not a BaseBackend on purpose: without get_user() it is never the backend a session
    is bound to (force_login and login() pick the first backend that has one)."""

    _sql: str | None = None

    def authenticate(self, request, **credentials):
        return None  # permissions only: sign-in is ModelBackend's and the SSO backend's

    def has_perm(self, user_obj, perm, obj=None):
        return perm in self.get_all_permissions(user_obj, obj)

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return set()
        if user_obj.is_superuser:
            return set()  # ModelBackend answers for superusers (every permission)
        if not hasattr(user_obj, "_perm_cache"):
            # ModelBackend's own cache is a set it may extend: give it a copy.
            user_obj._perm_cache = set(remembered.read(user_obj, _read_permissions))
        return user_obj._perm_cache


def _read_permissions(user) -> frozenset:
    if PermissionLookupBackend._sql is None:
        PermissionLookupBackend._sql = _permissions_sql()
    with connection.cursor() as cursor:
        cursor.execute(PermissionLookupBackend._sql, [user.pk, user.pk])
        return frozenset(f"{app}.{codename}" for app, codename in cursor)
