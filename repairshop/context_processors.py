"""Template context shared by every page."""

from django.conf import settings


def shop(request):
    return {"poll_interval_seconds": settings.POLL_INTERVAL_SECONDS}
