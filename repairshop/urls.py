"""URL map: the pages, the JSON API, the admin and the health check."""

from django.contrib import admin
from django.urls import include, path, re_path

from accounts import views as account_views
from ops import health
from repairshop.api import api, api_not_found
from tickets import views as ticket_views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("api/", api.urls),
    # Any other /api/ URL: the JSON 404 of docs/api.md §1, not the HTML page.
    # [\s\S], not ".": a newline too (%0A in a path fell through to the HTML 404).
    re_path(r"^api(?:/[\s\S]*)?$", api_not_found),
    path("", ticket_views.home, name="home"),
    path("customers/", include("customers.urls")),
    path("tickets/", include("tickets.urls")),
    path("accounts/", include("accounts.urls")),
    # Before the admin: its own login form would skip the login rate limits.
    path("admin/login/", account_views.admin_login_redirect),
    path("admin/", admin.site.urls),
]
