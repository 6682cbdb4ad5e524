"""manage.py create_user USERNAME --role ROLE [--role ...] [--email E] [--password P]"""

import getpass
import sys

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import User
from accounts.roles import ROLES
from core.activity import record_activity


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
        username = username.strip()
        email = email.strip()
        if not username:
            raise CommandError("The username may not be empty.")
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} already exists.")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise CommandError(f"{email!r} is not a valid email address.") from None
            if User.objects.filter(email__iexact=email).exists():
                raise CommandError(f"Another user already has the email {email}.")

        user = User(username=username, email=email, first_name=first_name, last_name=last_name)
        if password is None and sys.stdin.isatty():
            password = self._ask_password()
        if password is None:
            user.set_unusable_password()
        else:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("Password refused: " + " ".join(exc.messages)) from None
            user.set_password(password)

        with transaction.atomic():
            user.save()
            user.groups.set(Group.objects.filter(name__in=set(role)))
            record_activity(
                actor=None,
                action="user:create",
                object_type="user",
                object_id=user.pk,
                metadata={"roles": sorted(set(role)), "via": "create_user"},
            )
        roles = ", ".join(sorted(set(role)))
        self.stdout.write(f"Created user {username} ({roles}).")
        if password is None:
            self.stderr.write("No password set: this user can sign in by single sign-on only.")

    def _ask_password(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return first
