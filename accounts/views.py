"""Sign-in and sign-out pages: the local form, single sign-on hand-off and the no-access page."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import oidc, services
from core.pages import same_site_path
from ops import ratelimits
from ops.security import log_event


def safe_next_url(request) -> str:
    """The ?next= (or posted next) target when it stays on this site, else ""."""
    return same_site_path(request, request.POST.get("next") or request.GET.get("next"))


def too_many_attempts(request, exc: ratelimits.RateLimited):
    """The friendly 429 page of docs/api.md §8."""
    response = render(
        request,
        "accounts/too_many_attempts.html",
        {"retry_after": exc.retry_after},
        status=429,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_view(request):
    """The local sign-in form, plus "Sign in with <provider>" when single sign-on is set up.
    A username with NUL or over-long is a form error, and still a recorded failed sign-in."""
    next_url = safe_next_url(request)
    if request.method != "POST" and request.user.is_authenticated and not next_url:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = AuthenticationForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            if services.password_sign_in(request, form):
                return redirect(next_url or settings.LOGIN_REDIRECT_URL)
        except ratelimits.RateLimited as exc:
            return too_many_attempts(request, exc)
    context = {
        "form": form,
        "next": next_url,
        "sso_enabled": oidc.sso_enabled(),
        "sso_provider_name": settings.OIDC_PROVIDER_NAME,
        "sso_url": reverse("oidc_authentication_init"),
    }
    return render(request, "registration/login.html", context)


@require_POST
@csrf_protect
@never_cache
def logout_view(request):
    """Ends the local session; a single sign-on user then goes to the provider's end-session
    endpoint when it has one, to end that session too."""
    user = request.user
    provider_logout_url = oidc.provider_logout_url(request) if user.is_authenticated else None
    if user.is_authenticated:
        log_event("auth:logout", actor=user, object_type="user", object_id=user.pk)
    # flush(): the session row is deleted, so the old cookie is worthless if replayed.
    auth_logout(request)
    return redirect(provider_logout_url or settings.LOGOUT_REDIRECT_URL)


@never_cache
@require_http_methods(["GET", "HEAD"])
def admin_login_redirect(request):
    """The admin's own login form would bypass the rate limits: send it to ours."""
    target = safe_next_url(request) or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': target})}")


@never_cache
def no_access(request):
    """A signed-in user who holds no role (single sign-on without a known role claim)."""
    return render(request, "accounts/no_access.html", status=403)


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@csrf_protect
@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def password_change(request):
    """Changing the password keeps this session and ends the user's other sessions (their
    stored password hash no longer matches)."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        log_event("auth:password_changed", actor=user, object_type="user", object_id=user.pk)
        return render(request, "registration/password_change_done.html")
    return render(request, "registration/password_change_form.html", {"form": form})
