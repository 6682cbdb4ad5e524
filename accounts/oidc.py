"""Single sign-on with the shop's OpenID Connect provider (mozilla-django-oidc).

Off unless OIDC_RP_CLIENT_ID and an issuer (or the individual endpoints) are set. The
provider's endpoints come from its discovery document (OIDC_OP_ISSUER, fetched on first use
and kept for an hour) or from the OIDC_OP_* settings, which win where both are given.

The library's defaults are not what we want, so this module replaces them:
- users are matched by (issuer, subject), never by email: a second identity that claims the
  same email does not get the first account;
- the ID token's `iss` and `aud` are checked (the library checks neither), its signature with
  RS256 and the provider's JWKS, and its nonce; state and PKCE are the library's;
- roles are set from OIDC_ROLES_CLAIM at every login; names we do not know are ignored and
  logged; a user left without a role is shown the no-access page instead of being signed in.
"""

import logging
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from accounts import roles
from accounts.models import User
from ops import ratelimits
from ops.security import log_event

logger = logging.getLogger("repairshop.security")

DISCOVERY_TTL = 60 * 60  # seconds a fetched discovery document is used
HTTP_TIMEOUT = 5  # seconds for any call to the provider
ID_TOKEN_SESSION_KEY = "oidc_id_token"  # kept for the logout hint, never logged


def sso_enabled() -> bool:
    return bool(
        settings.OIDC_RP_CLIENT_ID
        and (settings.OIDC_OP_ISSUER or settings.OIDC_OP_AUTHORIZATION_ENDPOINT)
    )


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be fetched or is unusable."""


@dataclass(frozen=True)
class ProviderConfig:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str


_discovery_lock = threading.Lock()
_discovery_cache: dict[str, tuple[float, dict]] = {}


def _discovery_document(issuer: str) -> dict:
    now = time.monotonic()
    with _discovery_lock:
        cached = _discovery_cache.get(issuer)
    if cached and now - cached[0] < DISCOVERY_TTL:
        return cached[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.error("OIDC discovery failed for %s: %s", issuer, type(exc).__name__)
        raise ProviderUnavailable(issuer) from exc
    # OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if document.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        logger.error("OIDC discovery for %s names another issuer", issuer)
        raise ProviderUnavailable(issuer)
    with _discovery_lock:
        _discovery_cache[issuer] = (now, document)
    return document


def forget_discovery() -> None:
    with _discovery_lock:
        _discovery_cache.clear()


def provider_config() -> ProviderConfig:
    """The provider's endpoints: the OIDC_OP_* settings, completed by discovery."""
    issuer = settings.OIDC_OP_ISSUER
    endpoint_settings = (
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
        settings.OIDC_OP_TOKEN_ENDPOINT,
        settings.OIDC_OP_USER_ENDPOINT,
        settings.OIDC_OP_JWKS_ENDPOINT,
        settings.OIDC_OP_LOGOUT_ENDPOINT,
    )
    # Discovery only fills in what the settings leave out.
    document = _discovery_document(issuer) if issuer and not all(endpoint_settings) else {}

    def pick(setting: str, key: str) -> str:
        return getattr(settings, setting) or document.get(key, "")

    config = ProviderConfig(
        issuer=(issuer or document.get("issuer", "")).rstrip("/"),
        authorization_endpoint=pick("OIDC_OP_AUTHORIZATION_ENDPOINT", "authorization_endpoint"),
        token_endpoint=pick("OIDC_OP_TOKEN_ENDPOINT", "token_endpoint"),
        userinfo_endpoint=pick("OIDC_OP_USER_ENDPOINT", "userinfo_endpoint"),
        jwks_uri=pick("OIDC_OP_JWKS_ENDPOINT", "jwks_uri"),
        end_session_endpoint=pick("OIDC_OP_LOGOUT_ENDPOINT", "end_session_endpoint"),
    )
    if not (config.authorization_endpoint and config.token_endpoint and config.jwks_uri):
        raise ProviderUnavailable(issuer or "(no issuer)")
    return config


# --- the authentication backend -------------------------------------------------------------------
def _role_names(claims: dict) -> tuple[list[str], list[str]]:
    """(known roles, unknown names) from the roles claim: a list, or a space/comma-separated
    string."""
    raw = claims.get(settings.OIDC_ROLES_CLAIM) or []
    if isinstance(raw, str):
        raw = re.split(r"[\s,]+", raw)
    if not isinstance(raw, list | tuple):
        raw = []
    names = [str(name).strip() for name in raw if str(name).strip()]
    known = sorted({name.lower() for name in names if name.lower() in roles.ROLES})
    unknown = sorted({name for name in names if name.lower() not in roles.ROLES})
    return known, unknown


def has_role(user) -> bool:
    return user.is_superuser or user.groups.exists()


_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


class SSOBackend(OIDCAuthenticationBackend):
    """Authenticates the callback of the authorization-code flow, nothing else."""

    def __init__(self, *args, **kwargs):
        # The library's __init__ reads (and insists on) the endpoint settings. Django builds
        # every backend for every authenticate() call, the password form's included, so the
        # endpoints are resolved only when a callback is actually being handled.
        self.UserModel = User

    def _configure(self, config: ProviderConfig) -> None:
        self.provider = config
        self.OIDC_OP_TOKEN_ENDPOINT = config.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = config.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = config.jwks_uri
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = "RS256"
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, **kwargs):
        # Only the SSO callback passes a nonce; a password login (or a stray ?code=&state= on
        # any other authenticate() call) must never start a token exchange.
        if request is None or "nonce" not in kwargs or not sso_enabled():
            return None
        self._configure(provider_config())
        return super().authenticate(request, **kwargs)

    @staticmethod
    def get_settings(attr, *args):
        # The library's default timeout is None (wait forever): a hung provider must not
        # hang a worker.
        if attr == "OIDC_TIMEOUT":
            return getattr(settings, "OIDC_TIMEOUT", HTTP_TIMEOUT)
        return OIDCAuthenticationBackend.get_settings(attr, *args)

    def get_userinfo(self, access_token, id_token, payload):
        if not self.OIDC_OP_USER_ENDPOINT:
            return {}
        return super().get_userinfo(access_token, id_token, payload)

    def _verify_jws(self, payload, key):
        """Signature (RS256 only), expiry, issuer and audience of the ID token."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != "RS256":
            raise SuspiciousOperation("ID token is not signed with RS256")
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=["RS256"],
                audience=self.OIDC_RP_CLIENT_ID,
                # Without OIDC_OP_ISSUER (endpoints configured one by one) the issuer cannot
                # be checked; users are still keyed by the token's own iss + sub.
                issuer=self.provider.issuer or None,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
                leeway=60,
            )
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"ID token rejected: {type(exc).__name__}") from exc

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        # With several audiences the token must be meant for us as its authorized party.
        audience = payload.get("aud")
        several = isinstance(audience, list) and len(audience) > 1
        if several and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("ID token azp is not this client")
        if kwargs.get("nonce") is None or payload.get("nonce") != kwargs["nonce"]:
            raise SuspiciousOperation("ID token nonce does not match")
        return payload

    def store_tokens(self, access_token, id_token):
        # Only the ID token, as the hint for the provider's end-session endpoint.
        self.request.session[ID_TOKEN_SESSION_KEY] = id_token

    def get_or_create_user(self, access_token, id_token, payload):
        """The user of (iss, sub) from the verified ID token, created on first login, with
        email, name and roles brought up to date from the claims."""
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo and userinfo.get("sub") != payload["sub"]:
            # OpenID Connect Core §5.3.2: a userinfo answer for someone else is discarded.
            raise SuspiciousOperation("userinfo sub differs from the ID token's")
        claims = {**payload, **userinfo}
        issuer, subject = payload["iss"].rstrip("/"), str(payload["sub"])
        with transaction.atomic():
            user = (
                User.objects.select_for_update(no_key=True)
                .filter(oidc_issuer=issuer, oidc_subject=subject)
                .first()
            )
            created = user is None
            if created:
                try:
                    with transaction.atomic():
                        user = self._create(issuer, subject, claims)
                except IntegrityError:
                    # The same person's first sign-in in two tabs at once: the other one won.
                    user = (
                        User.objects.select_for_update(no_key=True)
                        .filter(oidc_issuer=issuer, oidc_subject=subject)
                        .first()
                    )
                    if user is None:
                        raise SuspiciousOperation("could not create the SSO user") from None
                    created = False
            if not created:
                self._update_profile(user, claims)
            self._sync_roles(user, claims, created=created)
        return user

    def _create(self, issuer: str, subject: str, claims: dict) -> User:
        base = _USERNAME_UNSAFE.sub("-", subject)[:140] or "sso-user"
        username = base
        suffix = 1
        while User.objects.filter(username__iexact=username).exists():
            suffix += 1
            username = f"{base[:140]}-{suffix}"
        user = User(
            username=username,
            oidc_issuer=issuer,
            oidc_subject=subject,
            first_name=str(claims.get("given_name", ""))[:150],
            last_name=str(claims.get("family_name", ""))[:150],
        )
        user.set_unusable_password()  # SSO users never sign in with a local password
        user.save()
        self._set_email(user, claims)
        log_event(
            "auth:sso_user_created",
            actor=user,
            object_type="user",
            object_id=user.pk,
            metadata={"issuer": issuer, "subject": subject},
        )
        return user

    def _update_profile(self, user: User, claims: dict) -> None:
        changed = []
        for field, claim in (("first_name", "given_name"), ("last_name", "family_name")):
            value = claims.get(claim)
            if value is not None and getattr(user, field) != str(value)[:150]:
                setattr(user, field, str(value)[:150])
                changed.append(field)
        if changed:
            user.save(update_fields=[*changed, "updated_at"])
        self._set_email(user, claims)

    def _set_email(self, user: User, claims: dict) -> None:
        """Takes the claimed email unless another account already has it: the email is
        what tickets name a technician by, so it stays unique and is never taken over."""
        email = str(claims.get("email") or "").strip()[:254]
        if not email or email.lower() == user.email.lower():
            return
        if claims.get("email_verified") is False:
            logger.warning("SSO user %s: unverified email not taken", user.pk)
            return
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            logger.warning(
                "SSO user %s claims an email another account has; email left unchanged",
                user.pk,
            )
            return
        user.email = email
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "updated_at"])
        except IntegrityError:  # taken by a concurrent login
            logger.warning("SSO user %s: email taken concurrently; left unchanged", user.pk)

    def _sync_roles(self, user: User, claims: dict, *, created: bool) -> None:
        known, unknown = _role_names(claims)
        if unknown:
            logger.warning(
                "SSO user %s: unknown role names ignored: %s", user.pk, ", ".join(unknown)[:500]
            )
        before = sorted(user.groups.values_list("name", flat=True))
        if before == known:
            return
        user.groups.set(Group.objects.filter(name__in=known))
        log_event(
            "auth:sso_roles_changed",
            actor=user,
            object_type="user",
            object_id=user.pk,
            metadata={"roles": {"old": before, "new": known}, "unknown": unknown},
        )

    def get_user(self, user_id):
        # ModelBackend's, which refuses inactive users (the library's does not).
        return ModelBackend.get_user(self, user_id)


# --- the views ----------------------------------------------------------------------------------
def _unavailable(request):
    return render(request, "accounts/sso_unavailable.html", status=503)


class SSOAuthenticateView(OIDCAuthenticationRequestView):
    """Starts the authorization-code flow (state, nonce and PKCE kept in the session)."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("single sign-on is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_config().authorization_endpoint
        except ProviderUnavailable:
            return _unavailable(request)
        return super().get(request)


class SSOCallbackView(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here with a code; a login attempt for the limits
    of docs/api.md §8."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("single sign-on is not configured")
        try:
            ratelimits.hit(request, ratelimits.LOGIN_IP, ratelimits.client_ip(request))
        except ratelimits.RateLimited as exc:
            from accounts.views import too_many_attempts

            return too_many_attempts(request, exc)
        self.reason = "no code in the callback"
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            # A tampered or replayed state, a bad nonce or signature, a wrong iss or aud.
            self.reason = str(exc)[:200]
            return self.login_failure()
        except ProviderUnavailable:
            return _unavailable(request)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if 400 <= status < 500:
                # The provider refused the code (used, expired, issued to another client).
                self.reason = f"provider refused the code ({status})"
                return self.login_failure()
            logger.error("SSO: the provider answered %s", status)
            return _unavailable(request)
        except requests.RequestException as exc:
            logger.error("SSO: the provider did not answer (%s)", type(exc).__name__)
            return _unavailable(request)

    def login_failure(self):
        reason = getattr(self, "reason", "")
        if getattr(self, "user", None) is not None and not self.user.is_active:
            reason = "account deactivated"
        log_event(
            "auth:login_failed",
            level=logging.WARNING,
            metadata={
                "method": "sso",
                "reason": reason or "provider refused or token check failed",
                "ip": ratelimits.client_ip(self.request),
            },
        )
        return render(self.request, "accounts/sso_failed.html", status=403)

    def login_success(self):
        user = self.user
        if not has_role(user):
            log_event(
                "auth:sso_no_role",
                level=logging.WARNING,
                actor=user,
                object_type="user",
                object_id=user.pk,
            )
            # No session for someone who may do nothing: just say why.
            return render(self.request, "accounts/no_access.html", status=403)
        # Always a fresh session key and CSRF token, even over an existing session.
        auth.login(self.request, user, backend="accounts.oidc.SSOBackend")
        log_event(
            "auth:login",
            actor=user,
            object_type="user",
            object_id=user.pk,
            metadata={"method": "sso", "ip": ratelimits.client_ip(self.request)},
        )
        next_url = self.request.session.pop("oidc_login_next", None)
        return HttpResponseRedirect(next_url or reverse(settings.LOGIN_REDIRECT_URL))


def provider_logout_url(request) -> str | None:
    """Where to send a single sign-on user after the local logout: the provider's end-session
    endpoint (RP-initiated logout), or None when there is none or the user signed in locally."""
    id_token = request.session.get(ID_TOKEN_SESSION_KEY)
    if not id_token or not sso_enabled():
        return None
    try:
        endpoint = provider_config().end_session_endpoint
    except ProviderUnavailable:
        return None
    if not endpoint:
        return None
    params = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
    }
    separator = "&" if urlsplit(endpoint).query else "?"
    return f"{endpoint}{separator}{urlencode(params)}"
