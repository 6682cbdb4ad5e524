"""URL map: the pages, the JSON API, the admin and the health check."""

from django.contrib import admin
from django.urls import include, path

from repairshop import views
from tickets import views as ticket_views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("", ticket_views.home, name="home"),
    path("customers/", include("customers.urls")),
    path("tickets/", include("tickets.urls")),
    path("admin/", admin.site.urls),
]
