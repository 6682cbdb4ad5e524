"""manage.py create_api_token USERNAME [--name NAME]: prints a new token, and only the token."""

from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_token_create, command_message
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Creates a personal API token for USERNAME and writes it, and nothing else, to standard "
        "output. Only its hash is stored: it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="API token")

    def handle(self, *args, username, name, **options):
        try:
            _, plain = api_token_create(username=username, name=name, via="create_api_token")
        except DomainError as error:
            raise CommandError(command_message(error)) from None
        # Scripts read this line: `TOKEN=$(manage.py create_api_token alice)`.
        self.stdout.write(plain)
