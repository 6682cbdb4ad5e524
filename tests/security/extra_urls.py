"""Test-only URL conf: the site's URLs plus a view that fails while holding customer data and
one that hits a rate limit."""

from django.urls import path

from customers.models import Customer
from ops import ratelimits
from repairshop.urls import urlpatterns as site_urlpatterns


def boom(request):
    customer = Customer(
        first_name=request.POST["first_name"],
        email=request.POST["email"],
        phone=request.POST["phone"],
    )
    password = request.POST["password"]  # noqa: F841 - a local Sentry must not see
    raise RuntimeError(f"could not file the repair for {customer.email}")


def limited(request):
    raise ratelimits.RateLimited(42, ratelimits.LOGIN_IP)


urlpatterns = [
    path("test-only/boom/", boom),
    path("test-only/limited/", limited),
    *site_urlpatterns,
]
