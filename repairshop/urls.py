"""URL map: the pages, the JSON API, the admin and the health check."""

from django.contrib import admin
from django.urls import path

from repairshop import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
