"""Customer pages (docs/api.md §11)."""

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="new"),
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/deactivate/", views.customer_deactivate, name="deactivate"),
    path("<int:customer_id>/reactivate/", views.customer_reactivate, name="reactivate"),
]
