"""Cross-cutting views: the health check."""

import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.pages import drop_body

logger = logging.getLogger("repairshop.health")


@never_cache
@require_safe
def healthz(request):
    """200 when the database answers, 503 when it does not (docs/api.md §9). No auth. HEAD
    (how load balancers probe) answers the same status and headers, without the body."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health check: database unreachable")
        response = JsonResponse({"status": "error", "database": "error"}, status=503)
    else:
        response = JsonResponse({"status": "ok", "database": "ok"})
    if request.method == "HEAD":
        drop_body(response)
    return response
