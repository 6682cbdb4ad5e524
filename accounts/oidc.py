"""Single sign-on with mozilla-django-oidc (filled in by the SSO work)."""

from django.conf import settings


def sso_enabled() -> bool:
    return bool(
        settings.OIDC_RP_CLIENT_ID
        and (settings.OIDC_OP_ISSUER or settings.OIDC_OP_AUTHORIZATION_ENDPOINT)
    )


def provider_logout_url(request) -> str | None:
    return None
