"""Production URLs plus the floor: the cheapest page that still needs a signed-in user."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from repairshop.urls import urlpatterns as production_urlpatterns


@login_required
def floor(request):
    """Costs Django, the session and the user, and nothing of the shop's own code."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/floor", floor, name="bench-floor"), *production_urlpatterns]
