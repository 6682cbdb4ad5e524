"""Rendered lists, remembered per process and keyed by the data version.

A list page is a pure function of the data version (tickets.queries.tickets_version: every
ticket, customer and user change moves it), the URL's query, and what the user may see and
do. So once rendered it can be served again until the version moves, at the cost of one
cache read instead of the list's queries and its template. Polling screens, the front
desk's tablets showing the same open tickets, a reload or a back button all hit it; the
first request after any change renders afresh (measured in docs/benchmarks.md as the "miss"
cost).

What differs per request (the CSRF token, the CSP nonce) is rendered as a slot and filled
in on the way out; the key holds everything else the output depends on, which the caller
names. The store is the per-process "rendered" cache (settings.CACHES): no network round
trip, and nothing can go stale across processes because the key carries the version.
"""

import hashlib
import secrets

from django.core.cache import caches
from django.middleware.csrf import get_token
from django.utils.csp import CONTEXT_KEY as CSP_NONCE_KEY

CACHE_ALIAS = "rendered"
# Random per process, as is the cache they are stored in: no user data can aim at them.
CSRF_SLOT = f"csrf{secrets.token_hex(16)}"
NONCE_SLOT = f"nonce{secrets.token_hex(16)}"
SLOT_CONTEXT = {"csrf_token": CSRF_SLOT, CSP_NONCE_KEY: NONCE_SLOT}


def permissions_key(user) -> str:
    """What the user may do, as a short stable string (their permissions are cached)."""
    if user.is_superuser:
        return "superuser"
    return ",".join(sorted(user.get_all_permissions()))


def cache_key(*parts) -> str:
    raw = "\x1f".join(str(part) for part in parts)
    return "rendered:" + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def remembered(key: str, render) -> bytes:
    """The bytes stored under key, or render() (text) stored as UTF-8 and returned. Bytes
    because that is what a response sends: no decoding on the way out of the cache and no
    encoding into the response."""
    cache = caches[CACHE_ALIAS]
    body = cache.get(key)
    if body is None:
        body = render().encode()
        cache.set(key, body)
    return body


_CSRF_SLOT_BYTES = CSRF_SLOT.encode()
_NONCE_SLOT_BYTES = NONCE_SLOT.encode()


def fill_slots(request, body: bytes) -> bytes:
    """The per-request values put into a body rendered with SLOT_CONTEXT."""
    if _CSRF_SLOT_BYTES in body:
        body = body.replace(_CSRF_SLOT_BYTES, get_token(request).encode())
    if _NONCE_SLOT_BYTES in body:
        body = body.replace(_NONCE_SLOT_BYTES, str(getattr(request, "_csp_nonce", "")).encode())
    return body


def forget_on_template_change(sender, file_path, **kwargs):
    """runserver reloads a changed template without restarting: forget what was rendered
    with the old one (the key does not know templates). Returns None, so the reloader goes
    on deciding whether to restart."""
    if file_path.suffix in (".html", ".txt"):
        caches[CACHE_ALIAS].clear()


def has_pending_messages(request) -> bool:
    """Messages are shown once: a page that carries them is never served from memory."""
    storage = getattr(request, "_messages", None)
    return bool(storage is not None and len(storage))
