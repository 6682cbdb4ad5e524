"""Writes on staff accounts: a new member of staff with their roles, a new API token, and a
password sign-in (with its rate limits and security entries).

Called by the management commands (and open to any other caller): each validates, writes
the rows and the activity entry in one transaction, and reports every bad field at once as
one VALIDATION_ERROR.
"""

import logging

from django.contrib.auth import login as auth_login
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import roles
from accounts.models import ApiToken, User
from core.activity import record_activity
from core.validation import FieldErrors, clean_email, clean_text, storable_text
from ops import ratelimits
from ops.security import log_event

logger = logging.getLogger("repairshop.security")

TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


def user_create(
    *,
    username: str,
    role_names: list[str],
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    via: str,
) -> User:
    """A member of staff with the given roles. Without a password the account has no usable
    one (single sign-on only). `via` names the tool, for the activity entry."""
    errors = FieldErrors()
    username = clean_text(username, field="username", errors=errors, max_length=150, required=True)
    if username and User.objects.filter(username=username).exists():
        errors.add("username", f"A user named {username!r} already exists.")
    if email.strip():
        email = clean_email(email, field="email", errors=errors)
        if email and User.objects.filter(email__iexact=email).exists():
            errors.add("email", f"Another user already has the email {email}.")
    else:
        email = ""
    first_name = clean_text(
        first_name, field="first_name", errors=errors, max_length=150, required=False
    )
    last_name = clean_text(
        last_name, field="last_name", errors=errors, max_length=150, required=False
    )
    unknown = sorted(set(role_names) - set(roles.ROLES))
    if unknown or not role_names:
        errors.add("roles", f"Give one or more of {', '.join(roles.ROLES)}.")
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            errors.add("password", "Password refused: " + " ".join(exc.messages))
        user.set_password(password)
    errors.raise_if_any()
    with transaction.atomic():
        user.save()
        user.groups.set(Group.objects.filter(name__in=set(role_names)))
        record_activity(
            actor=None,
            action="user:create",
            object_type="user",
            object_id=user.pk,
            metadata={"roles": sorted(set(role_names)), "via": via},
        )
    return user


def api_token_create(*, username: str, name: str, via: str) -> tuple[ApiToken, str]:
    """A personal API token for an active user: the row (holding only the hash) and the
    plain token, which exists nowhere else and is not stored."""
    errors = FieldErrors()
    name = clean_text(
        name, field="name", errors=errors, max_length=TOKEN_NAME_MAX_LENGTH, required=True
    )
    user = User.objects.filter(username=username).first()
    if user is None:
        errors.add("username", f"No user named {username!r}.")
    elif not user.is_active:
        errors.add("username", f"{username} is inactive: a token of theirs would not work.")
    errors.raise_if_any()
    with transaction.atomic():
        token, plain = ApiToken.issue(user=user, name=name)
        record_activity(
            actor=None,
            action="api_token:create",
            object_type="api_token",
            object_id=token.pk,
            metadata={"user": user.pk, "name": name, "via": via},
        )
    return token, plain


def command_message(error) -> str:
    """A service's VALIDATION_ERROR as one line for a management command."""
    details = error.details if isinstance(error.details, dict) else {}
    return " ".join(str(m) for messages in details.values() for m in messages) or error.message


def password_sign_in(request, form) -> bool:
    """A sign-in with the password form (an AuthenticationForm on the POST): counts the
    attempt against the limits (RateLimited past them), checks the form and signs in, and
    writes the security entry either way. A username with NUL or over-long is a failed
    sign-in, recorded escaped."""
    username = storable_text(request.POST.get("username", ""), max_length=150)
    try:
        ratelimits.login_attempt(request, username)
    except ratelimits.RateLimited as exc:
        # Logger only: a database row per refused attempt would be a write anyone can
        # trigger as fast as they like.
        logger.warning(
            "auth:login_throttled limit=%s username=%r ip=%s",
            exc.limit.group,
            username,
            ratelimits.client_ip(request),
        )
        raise
    ip = ratelimits.client_ip(request)
    if not form.is_valid():
        ratelimits.login_failed(request, username)
        log_event(
            "auth:login_failed",
            level=logging.WARNING,
            metadata={"method": "password", "username": username, "ip": ip},
        )
        return False
    user = form.get_user()
    auth_login(request, user)  # rotates the session key and the CSRF token (no fixation)
    log_event(
        "auth:login",
        actor=user,
        object_type="user",
        object_id=user.pk,
        metadata={"method": "password", "ip": ip},
    )
    return True
