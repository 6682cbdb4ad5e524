"""manage.py create_api_token USERNAME [--name NAME]: prints a new token, and only the token."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import ApiToken, User
from core.activity import record_activity


class Command(BaseCommand):
    help = (
        "Creates a personal API token for USERNAME and writes it, and nothing else, to standard "
        "output. Only its hash is stored: it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="API token")

    def handle(self, *args, username, name, **options):
        name = name.strip()
        if not name or len(name) > ApiToken._meta.get_field("name").max_length:
            raise CommandError("The token name must be 1 to 100 characters.")
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"{username} is inactive: a token of theirs would not work.")
        with transaction.atomic():
            token, plain = ApiToken.issue(user=user, name=name)
            record_activity(
                actor=None,
                action="api_token:create",
                object_type="api_token",
                object_id=token.pk,
                metadata={"user": user.pk, "name": name, "via": "create_api_token"},
            )
        # Scripts read this line: `TOKEN=$(manage.py create_api_token alice)`.
        self.stdout.write(plain)
