"""manage.py create_user USERNAME --role ROLE [--role ...] [--email E] [--password P]"""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ROLES
from accounts.services import command_message, user_create
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Creates a staff user with one or more roles. Without --password the password is asked "
        "for on a terminal; elsewhere the user gets no usable password (single sign-on only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role", action="append", choices=ROLES, required=True, help="may be repeated"
        )
        parser.add_argument("--email", default="")
        parser.add_argument("--password")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args, username, role, email, password, first_name, last_name, **options):
        if password is None and sys.stdin.isatty():
            password = self._ask_password()
        try:
            user_create(
                username=username,
                role_names=role,
                email=email,
                password=password,
                first_name=first_name,
                last_name=last_name,
                via="create_user",
            )
        except DomainError as error:
            raise CommandError(command_message(error)) from None
        roles = ", ".join(sorted(set(role)))
        self.stdout.write(f"Created user {username.strip()} ({roles}).")
        if password is None:
            self.stderr.write("No password set: this user can sign in by single sign-on only.")

    def _ask_password(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return first
