"""Staff users and their personal API tokens."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

TOKEN_PREFIX = "rs_"


class User(AbstractUser):
    """A member of staff. Roles are the groups of accounts.roles.

    Technicians are named on tickets by their email (docs/api.md §5), so a non-empty email is
    unique case-insensitively. Single sign-on users are matched by issuer + subject.
    """

    oidc_issuer = models.CharField(max_length=255, blank=True, default="")
    oidc_subject = models.CharField(max_length=255, blank=True, default="")
    # When this technician last got a ticket: the auto-assignment tie-break (docs/api.md §5).
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every save and by any change of the user's groups or permissions
    # (accounts.signals): the lists' data version covers users through it (a technician's
    # name is on every row), and a user's permissions are remembered per (id, updated_at).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("access_admin", "Can use the Django admin")]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~Q(email=""), name="user_email_ci_unique"
            ),
            models.UniqueConstraint(
                fields=["oidc_issuer", "oidc_subject"],
                condition=~Q(oidc_subject=""),
                name="user_oidc_identity_unique",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.username


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A personal API token. Only its hash is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, default="API token")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.user})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def issue(cls, *, user: User, name: str = "API token") -> tuple["ApiToken", str]:
        """Creates a token and returns it with its plain text, which is not stored."""
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, token_hash=hash_token(plain))
        return token, plain
