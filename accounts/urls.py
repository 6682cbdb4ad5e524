"""Sign-in, sign-out, password change and the single sign-on endpoints."""

from django.urls import path

from accounts import oidc, views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("no-access/", views.no_access, name="no_access"),
    # mozilla-django-oidc's URL names, our views (endpoints from discovery, our user matching).
    path(
        "oidc/authenticate/",
        oidc.SSOAuthenticateView.as_view(),
        name="oidc_authentication_init",
    ),
    path("oidc/callback/", oidc.SSOCallbackView.as_view(), name="oidc_authentication_callback"),
]
