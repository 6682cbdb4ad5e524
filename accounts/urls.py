"""Sign-in, sign-out, password change and the single sign-on endpoints."""

from django.urls import include, path

from accounts import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("no-access/", views.no_access, name="no_access"),
    path("oidc/", include("mozilla_django_oidc.urls")),
]
