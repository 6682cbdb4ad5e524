"""Writing the activity log (docs/api.md §7). Call inside the write's transaction."""

from typing import Any

from core.models import ActivityLog
from core.request_id import current_request_id
from core.validation import is_storable_id, storable_text


def record_activity(
    *,
    actor,
    action: str,
    object_type: str = "",
    object_id: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> ActivityLog:
    """Records who did `action` ("ticket:status_change") to which object. `metadata` holds
    changed fields as {"field": {"old": ..., "new": ...}}; never passwords or tokens."""
    request_id = current_request_id.get()
    metadata = _storable(dict(metadata or {}))
    if object_id is not None and not is_storable_id(object_id):
        # A refused write can name an id no row can have (2**63 from a fuzzer): the bigint
        # column would refuse it (a 500 on PostgreSQL), so keep it as text in the metadata.
        metadata["object_id"] = str(object_id)[:40]
        object_id = None
    return ActivityLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        metadata=metadata,
        request_id="" if request_id == "-" else request_id,
    )


def _storable(value):
    """Metadata with every string escaped (core.validation.storable_text): a failed sign-in
    records the username it was given, NUL and all, instead of failing to be written."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value
